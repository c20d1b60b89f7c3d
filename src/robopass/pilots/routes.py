"""Pilot programmes (SPEC §14): public to read, opened and ended by a regulator."""

from __future__ import annotations

from fastapi import APIRouter

from robopass.db import transaction
from robopass.deps import ReadSession, RegulatorActor, WriteSession
from robopass.pilots import service
from robopass.pilots.schemas import PilotCreate, PilotCreated, PilotEnd, PilotList, PilotRead

router = APIRouter(prefix="/api/v1", tags=["pilots"])


@router.post("/pilots", status_code=201, response_model=PilotCreated)
def open_pilot(body: PilotCreate, session: WriteSession, actor: RegulatorActor) -> PilotCreated:
    """The national regulator, or a provincial one inside its province, opens a pilot."""
    with transaction(session):
        pilot = service.open_pilot(session, actor=actor, name=body.name, scenario=body.scenario,
                                   provinces=body.provinces, starts=body.starts, ends=body.ends,
                                   participants=body.participants, rules=body.rules,
                                   reason=body.reason)
        return PilotCreated(id=pilot.id, ledger_index=int(pilot.ledger_index or 0))


@router.post("/pilots/{pilot_id}/end", response_model=PilotRead)
def end_pilot(pilot_id: str, body: PilotEnd, session: WriteSession,
              actor: RegulatorActor) -> PilotRead:
    """End a pilot early (409 ``pilot_ended`` when it already has)."""
    with transaction(session):
        pilot = service.end_pilot(session, actor=actor, pilot_id=pilot_id, reason=body.reason)
        return PilotRead(**service.view(pilot))


@router.get("/pilots", response_model=PilotList)
def list_pilots(session: ReadSession) -> PilotList:
    """Public: every pilot, newest first, with its units in service."""
    counts = service.unit_counts(session)
    return PilotList(pilots=[PilotRead(**service.view(p, counts.get(p.id, 0)))
                             for p in service.list_pilots(session)])


@router.get("/pilots/{pilot_id}", response_model=PilotRead)
def get_pilot(pilot_id: str, session: ReadSession) -> PilotRead:
    pilot = service.get_or_raise(session, pilot_id)
    return PilotRead(**service.view(pilot, service.unit_counts(session).get(pilot.id, 0)))
