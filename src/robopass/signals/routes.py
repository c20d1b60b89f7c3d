from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from robopass.db import transaction
from robopass.deps import CurrentActor, ReadSession, RegulatorActor, WriteSession
from robopass.signals import service
from robopass.signals.schemas import RecallFromSignal, ScannedSignals, Signals, SignalView

router = APIRouter(prefix="/api/v1", tags=["signals"])


class FromSignal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=2000)


class Dismissal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


@router.get("/signals", response_model=Signals)
def list_signals(session: ReadSession, actor: CurrentActor,
                 status: str | None = Query(None, pattern="^(open|recalled|dismissed)$"),
                 limit: int = Query(100, ge=1, le=1000),
                 offset: int = Query(0, ge=0, le=2_000_000_000)) -> dict[str, Any]:
    """Defect signals for the actor's units (manufacturer) or all (regulator)."""
    return {"signals": service.list_signals(session, actor=actor, status=status, limit=limit,
                                            offset=offset)}


@router.get("/signals/{signal_id}", response_model=SignalView)
def read_signal(signal_id: str, session: ReadSession, actor: CurrentActor) -> dict[str, Any]:
    return service.signal_view(service.get_or_raise(session, actor=actor, signal_id=signal_id))


@router.post("/signals/scan", response_model=ScannedSignals)
def scan(session: WriteSession, actor: RegulatorActor) -> dict[str, Any]:
    """Evaluate every threshold now (the CLI ``robopass signals scan`` does the same)."""
    with transaction(session):
        return {"signals": [service.signal_view(s) for s in service.scan(session)]}


@router.post("/signals/{signal_id}/recall", status_code=201, response_model=RecallFromSignal)
def recall_from_signal(signal_id: str, session: WriteSession, actor: CurrentActor,
                       body: FromSignal | None = None) -> dict[str, Any]:
    """Open a recall over the signal's group in one step → ``{id, affected}``."""
    with transaction(session):
        recall = service.open_recall_from_signal(session, actor=actor, signal_id=signal_id,
                                                 reason=body.reason if body else None)
        return {"id": recall.id, "affected": recall.affected, "signal_id": signal_id}


@router.post("/signals/{signal_id}/dismiss", response_model=SignalView)
def dismiss(signal_id: str, body: Dismissal, session: WriteSession,
            actor: RegulatorActor) -> dict[str, Any]:
    with transaction(session):
        return service.signal_view(service.dismiss(session, actor=actor, signal_id=signal_id,
                                                   reason=body.reason))
