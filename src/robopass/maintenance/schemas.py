from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ComponentBinding(BaseModel):
    serial: str
    type: str
    supplier_id: str | None
    batch: str | None
    bound_at: str | None
    unbound_at: str | None
    bound_by_event: str | None
    unbound_by_event: str | None
    supplier: str | None = None


class UnitMaintenance(BaseModel):
    code: str
    work_orders: list[dict[str, Any]]
    events: list[dict[str, Any]]
    components: list[ComponentBinding]
    maintenance_count: int


class ProviderWork(BaseModel):
    organization: str
    work_orders: list[dict[str, Any]]
    events: list[dict[str, Any]]
