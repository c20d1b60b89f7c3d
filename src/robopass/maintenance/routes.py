from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query

from robopass.deps import CurrentActor, ReadSession
from robopass.maintenance import service
from robopass.maintenance.schemas import ProviderWork, UnitMaintenance

router = APIRouter(prefix="/api/v1", tags=["maintenance"])


@router.get("/robots/{code}/maintenance", response_model=UnitMaintenance)
def unit_maintenance(code: str, session: ReadSession, actor: CurrentActor) -> dict[str, Any]:
    """Work orders, maintenance/firmware/component events and the component history
    (legitimate interest or authority)."""
    return service.unit_maintenance(session, actor=actor, code=code)


@router.get("/work-orders", response_model=ProviderWork)
def work_orders(session: ReadSession, actor: CurrentActor, code: str | None = None,
                since: datetime | None = Query(None, alias="from"),
                until: datetime | None = Query(None, alias="to"),
                limit: int = Query(100, ge=1, le=1000),
                offset: int = Query(0, ge=0, le=2_000_000_000)) -> dict[str, Any]:
    """A service provider's (or any organisation's) own recorded work."""
    return service.provider_work(session, actor=actor, code=code, since=since, until=until,
                                 limit=limit, offset=offset)
