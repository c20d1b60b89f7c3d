from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class RecallCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(max_length=2000)
    scope: dict[str, Any] = Field(description="any of model_id, production_from, production_to "
                                  "(YYYY-MM), serial_from, serial_to (codes of one model), "
                                  "component_supplier (organisation id), component_batch")
    remedy_by: date | None = Field(default=None, description="date by which every affected "
                                   "unit should be remedied; later ones count as overdue")


class RecallOpened(BaseModel):
    id: str
    affected: int


class RecallProgress(BaseModel):
    id: str
    reason: str
    scope: dict[str, Any]
    opened_by: str
    ordered_by: str
    opened_at: str
    manufacturers: list[str]
    affected: int
    remedied: int
    open: int
    completion_rate: float
    notified: int
    status: str
    signal_id: str | None
    remedy_by: str | None = None
    overdue: int = 0
    closed_at: str | None = None
    closed_by: str | None = None
    close_reason: str | None = None


class RecallClose(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


class RecallUnit(BaseModel):
    code: str
    remedied: bool
    remedied_at: str | None
    remedy_event: str | None


class RecallUnits(BaseModel):
    id: str
    units: list[RecallUnit]
