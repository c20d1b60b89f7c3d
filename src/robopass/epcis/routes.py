"""EPCIS 2.0 export and capture (SPEC §9), on top of the pure ``epcis.document`` module."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from robopass.audit import service as audit_service
from robopass.deps import CurrentActor, ReadSession, SettingsDep, WriteSession
from robopass.epcis import service as epcis_service
from robopass.epcis.document import EpcisError, build_document, parse_capture
from robopass.epcis.vocabulary import VOCAB_BASE
from robopass.errors import Forbidden, InvalidInput, PayloadTooLarge
from robopass.lifecycle import service as lifecycle_service
from robopass.lifecycle.routes import record
from robopass.robots import service as robot_service
from robopass.timeutil import utcnow
from robopass.visibility import at_least, tier_for

router = APIRouter(prefix="/api/v1", tags=["epcis"])

MAX_CAPTURE_BYTES = 20 * 1024 * 1024


@router.get("/robots/{code}/epcis", response_class=JSONResponse)
def export(code: str, request: Request, session: ReadSession, actor: CurrentActor,
           settings: SettingsDep) -> JSONResponse:
    """The unit's events as an EPCIS 2.0 JSON-LD document (legitimate interest or authority)."""
    unit = robot_service.get_unit_or_raise(session, code)
    tier = tier_for(session, actor, unit)
    if not at_least(tier, "legitimate"):
        raise Forbidden("EPCIS export needs legitimate interest or authority",
                        code="tier_required")
    audit_service.record_read(request, actor, action="read_epcis", subject=unit.code, tier=tier)
    events = lifecycle_service.history(session, unit.code)
    base = settings.public_url.rstrip("/")
    # the fixed vocabulary namespace (SPEC §16), event ids under our own address
    doc = build_document(robot_uri=f"{base}/r/{unit.code}",
                         events=epcis_service.records(session, events),
                         created_at=utcnow(), vocab_base=VOCAB_BASE, event_base=base)
    return JSONResponse(doc, media_type="application/ld+json")


@router.post("/epcis/capture", status_code=201)
async def capture(request: Request, actor: CurrentActor, settings: SettingsDep) -> Any:
    """Record the ObjectEvents of an EPCIS 2.0 document through the lifecycle rules, all or
    nothing."""
    raw = await request.body()
    if len(raw) > MAX_CAPTURE_BYTES:
        raise PayloadTooLarge(f"EPCIS documents are limited to {MAX_CAPTURE_BYTES} bytes")
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"body is not JSON: {exc}", field="body", code="invalid_json") from exc
    try:
        captured = parse_capture(doc, vocab_base=VOCAB_BASE)
    except EpcisError as exc:
        raise InvalidInput(exc.message, field=exc.path or "document",
                           code="invalid_epcis") from exc
    from starlette.concurrency import run_in_threadpool

    from robopass.db import reading, write_session

    def _record() -> list[dict[str, Any]]:
        with reading(settings.database_url) as session:  # parties → local organisations
            resolved = epcis_service.capture_requests(session, captured)
        requests = [lifecycle_service.EventRequest(**r) for r in resolved]
        with write_session(settings.database_url) as session:
            return record(request, session, actor, requests, batch=True)

    return {"events": await run_in_threadpool(_record)}


__all__ = ["router", "WriteSession"]
