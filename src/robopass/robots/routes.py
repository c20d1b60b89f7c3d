from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request

from robopass import gate
from robopass.deps import CurrentActor, OptionalActor, ReadSession
from robopass.robots import service
from robopass.robots.schemas import RobotList, RobotView
from robopass.robots.views import unit_view

router = APIRouter(prefix="/api/v1", tags=["robots"])


@router.get("/robots", response_model=RobotList)
def list_robots(session: ReadSession, actor: CurrentActor, model_id: str | None = None,
                status: str | None = None, limit: int = Query(100, ge=1, le=1000),
                offset: int = Query(0, ge=0, le=2_000_000_000)) -> dict[str, Any]:
    units = service.list_units(session, actor=actor, model_id=model_id, status=status,
                               limit=limit, offset=offset)
    return {"robots": [{"code": u.code, "status": u.status, "model_id": u.model_id,
                        "production_month": u.production_month} for u in units]}


@router.get("/robots/{code}", response_model=RobotView, response_model_exclude_unset=True)
def get_robot(code: str, request: Request, session: ReadSession, actor: OptionalActor,
              as_of: datetime | None = None) -> dict[str, Any]:
    """The unit, with the fields its tier may see; ``as_of`` replays events to that instant."""
    unit = service.get_unit_or_raise(session, code)
    tier = gate.see(session, actor, unit, need="public" if as_of is None else "legitimate",
                    audit="read_robot", path=request.url.path,
                    message="as_of needs legitimate interest or authority")
    return unit_view(session, unit, tier, as_of)
