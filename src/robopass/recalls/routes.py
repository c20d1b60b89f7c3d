from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from robopass.db import transaction
from robopass.deps import CurrentActor, ReadSession, WriteSession
from robopass.recalls import closing, service
from robopass.recalls.schemas import (
    RecallClose,
    RecallCreate,
    RecallOpened,
    RecallProgress,
    RecallUnits,
)

router = APIRouter(prefix="/api/v1", tags=["recalls"])


@router.post("/recalls", status_code=201, response_model=RecallOpened)
def open_recall(body: RecallCreate, session: WriteSession, actor: CurrentActor
                ) -> dict[str, Any]:
    """A manufacturer (its own models) or the regulator (any) opens a campaign."""
    with transaction(session):
        recall = service.open_recall(session, actor=actor, reason=body.reason, scope=body.scope,
                                     remedy_by=body.remedy_by)
        return {"id": recall.id, "affected": recall.affected}


@router.get("/recalls", response_model=list[RecallProgress])
def list_recalls(session: ReadSession, actor: CurrentActor,
                 limit: int = Query(100, ge=1, le=1000),
                 offset: int = Query(0, ge=0, le=2_000_000_000)) -> list[dict[str, Any]]:
    return service.list_recalls(session, actor=actor, limit=limit, offset=offset)


@router.get("/recalls/{recall_id}", response_model=RecallProgress)
def read_recall(recall_id: str, session: ReadSession, actor: CurrentActor) -> dict[str, Any]:
    """Progress ``{affected, remedied, open, completion_rate}``: its manufacturer, regulator."""
    return service.read_recall(session, actor=actor, recall_id=recall_id)


@router.post("/recalls/{recall_id}/close", response_model=RecallProgress)
def close_recall(recall_id: str, body: RecallClose, session: WriteSession,
                 actor: CurrentActor) -> dict[str, Any]:
    """Its manufacturer once every affected unit is remedied or terminal, the regulator at any
    time: the campaign stops blocking its units and leaves the public page."""
    with transaction(session):
        recall = closing.close_recall(session, actor=actor, recall_id=recall_id,
                                      reason=body.reason)
        return service.progress(recall)


@router.get("/recalls/{recall_id}/units", response_model=RecallUnits)
def recall_units(recall_id: str, session: ReadSession, actor: CurrentActor,
                 status: str | None = Query(None, pattern="^(open|remedied)$"),
                 limit: int = Query(1000, ge=1, le=10000),
                 offset: int = Query(0, ge=0, le=2_000_000_000)) -> dict[str, Any]:
    """Affected units: all for its manufacturer and the regulator, an owner's or operator's
    own units for them."""
    return service.list_units(session, actor=actor, recall_id=recall_id, status=status,
                              limit=limit, offset=offset)
