from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from robopass.decisions import service
from robopass.decisions.schemas import DecisionRead
from robopass.deps import CurrentActor, ReadSession

router = APIRouter(prefix="/api/v1", tags=["decisions"])


@router.get("/decisions", response_model=list[DecisionRead])
def list_decisions(session: ReadSession, actor: CurrentActor,
                   object_id: Annotated[str | None, Query(max_length=64)] = None,
                   action: Annotated[str | None, Query(max_length=64)] = None,
                   from_: Annotated[datetime | None, Query(alias="from")] = None,
                   to: datetime | None = None,
                   limit: int = Query(200, ge=1, le=1000),
                   offset: int = Query(0, ge=0, le=2_000_000_000)) -> list[DecisionRead]:
    """Decision history, newest first: a regulator sees those in its scope, any other
    organisation the decisions about itself and its own models and units."""
    rows = service.list_decisions(session, actor=actor, object_id=object_id, action=action,
                                  from_=from_, to=to, limit=limit, offset=offset)
    return [DecisionRead.model_validate(r) for r in rows]
