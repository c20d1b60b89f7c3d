from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from robopass.db import transaction
from robopass.deps import CurrentActor, ReadSession, WriteSession
from robopass.incidents import service, trace
from robopass.incidents.schemas import IncidentRead, IncidentReported, TraceReport, UnitIncidents

router = APIRouter(prefix="/api/v1", tags=["incidents"])


class IncidentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(max_length=64)
    at: datetime
    type: Literal["safety_accident", "malfunction", "data_breach", "near_miss", "other"]
    severity: Literal["minor", "major", "critical"]
    description: str = Field(min_length=1, max_length=5000)
    place: str | None = Field(default=None, max_length=500)


@router.post("/incidents", status_code=201, response_model=IncidentReported)
def report_incident(body: IncidentCreate, session: WriteSession,
                    actor: CurrentActor) -> dict[str, Any]:
    """The unit's owner or operator, or the regulator, reports an incident."""
    with transaction(session):
        incident = service.report(session, actor=actor, code=body.code, at=body.at,
                                  type=body.type, severity=body.severity,
                                  description=body.description, place=body.place)
        return {"id": incident.id}


@router.get("/incidents/{incident_id}", response_model=IncidentRead)
def read_incident(incident_id: str, request: Request, session: ReadSession,
                  actor: CurrentActor
                  ) -> dict[str, Any]:
    return service.incident_view(service.read_or_raise(session, actor=actor,
                                                       incident_id=incident_id,
                                                       audit="read_incident",
                                                       path=request.url.path))


@router.get("/incidents/{incident_id}/trace", response_model=TraceReport)
def trace_incident(incident_id: str, request: Request, session: ReadSession,
                   actor: CurrentActor) -> dict[str, Any]:
    """The trace report: the unit as of the incident and the candidate responsible parties.
    Readable by the regulator, the reporter, the owner and operator at the time and the
    manufacturer."""
    return trace.trace_incident(session, actor=actor, incident_id=incident_id,
                                path=request.url.path)


@router.get("/robots/{code}/incidents", response_model=UnitIncidents)
def unit_incidents(code: str, session: ReadSession, actor: CurrentActor) -> dict[str, Any]:
    """The unit's incidents this organisation may read."""
    return {"incidents": service.list_for_unit(session, actor=actor, code=code)}
