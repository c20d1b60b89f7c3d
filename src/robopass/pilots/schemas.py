from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PilotCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    scenario: str = Field(max_length=24)
    provinces: list[str] = Field(min_length=1, max_length=40)
    starts: datetime
    ends: datetime
    participants: list[str] = Field(min_length=1, max_length=1000)
    rules: dict[str, Any]
    reason: str = Field(min_length=1, max_length=2000)


class PilotEnd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


class PilotCreated(BaseModel):
    id: str
    ledger_index: int


class PilotRead(BaseModel):
    id: str
    name: str
    scenario: str
    provinces: list[str]
    starts: str
    ends: str
    participants: list[str]
    rules: dict[str, Any]
    reason: str
    ledger_index: int | None
    ended_at: str | None
    end_reason: str | None
    running: bool
    units_in_service: int = 0


class PilotList(BaseModel):
    pilots: list[PilotRead]
