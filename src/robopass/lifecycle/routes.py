from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Query, Request, Response

from robopass import gate
from robopass.auth.service import Actor
from robopass.db import transaction, write_session
from robopass.deps import CurrentActor, ReadSession, RegulatorActor, SettingsDep, WriteSession
from robopass.errors import InvalidInput
from robopass.lifecycle import attempts, service
from robopass.lifecycle.schemas import (
    EventBatch,
    EventBatchResult,
    EventCreate,
    EventHistory,
    EventRead,
    FraudAlerts,
    RefusedAttempts,
)
from robopass.robots import service as robot_service

router = APIRouter(prefix="/api/v1", tags=["lifecycle"])


def record(request: Request, session: Any, actor: Actor,
           requests: list[service.EventRequest], batch: bool) -> list[dict[str, Any]]:
    """Record in one transaction; on refusal, store the attempts in a second one."""
    try:
        with transaction(session):
            return service.record_events(session, actor=actor, requests=requests, batch=batch)
    except service.EventRefused as refused:
        with write_session(request.app.state.settings.database_url) as other, \
                transaction(other):
            service.record_refusals(other, actor=actor, attempts=refused.attempts)
        raise


@router.post("/robots/{code}/events", status_code=201, response_model=EventRead)
def record_event(code: str, body: EventCreate, request: Request, session: WriteSession,
                 actor: CurrentActor) -> dict[str, Any]:
    req = service.EventRequest(code=code, type=body.type, at=body.at,
                               to_organization=body.to_organization, details=body.details or {})
    return record(request, session, actor, [req], batch=False)[0]


@router.post("/events", status_code=201, response_model=EventBatchResult)
def record_batch(body: EventBatch, request: Request, session: WriteSession, actor: CurrentActor,
                 settings: SettingsDep) -> Response:
    """All or nothing: one refusal refuses the batch (the error names its ``index``)."""
    if len(body.events) > settings.max_events_per_request:
        raise InvalidInput(f"at most {settings.max_events_per_request} events per request",
                           field="events", code="batch_too_large")
    reqs = [service.EventRequest(code=e.code, type=e.type, at=e.at,
                                 to_organization=e.to_organization, details=e.details or {})
            for e in body.events]
    # Serialised directly: re-validating thousands of our own events costs more than storing
    # them (the declared response_model still documents the shape).
    return Response(orjson.dumps({"events": record(request, session, actor, reqs, batch=True)}),
                    status_code=201, media_type="application/json")


@router.get("/robots/{code}/events", response_model=EventHistory)
def list_events(code: str, request: Request, session: ReadSession,
                actor: CurrentActor) -> dict[str, Any]:
    """Legitimate interest or authority; corrections and corrected events included."""
    unit = robot_service.get_unit_or_raise(session, code)
    gate.see(session, actor, unit, need="legitimate", audit="read_events", path=request.url.path,
             message="the event history needs legitimate interest or authority")
    return {"code": unit.code, "events": [service.event_view(e)
                                          for e in service.history(session, unit.code)]}


@router.get("/refused-attempts", response_model=RefusedAttempts)
def refused_attempts(session: ReadSession, actor: RegulatorActor,
                     limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
    """Regulator: refused event attempts in its scope, newest first."""
    return {"attempts": attempts.refused_attempts(session, actor=actor, limit=limit)}


@router.get("/fraud-alerts", response_model=FraudAlerts)
def fraud_alerts(session: ReadSession, actor: RegulatorActor,
                 limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
    """Regulator: fraud alerts (resale of scrapped units, forged codes) in its scope, newest
    first."""
    return {"alerts": attempts.fraud_alerts(session, actor=actor, limit=limit)}
