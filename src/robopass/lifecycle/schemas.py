from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from robopass.limits import Details


class EventCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(max_length=40)
    at: datetime | None = Field(default=None, description="RFC 3339; defaults to now")
    to_organization: str | None = Field(default=None, max_length=40)
    details: Details = None  # at most 16 KiB of JSON, 8 levels deep (robopass.limits)


class BatchEventCreate(EventCreate):
    code: str = Field(max_length=64)


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[BatchEventCreate] = Field(min_length=1)


class EventRead(BaseModel):
    id: str
    code: str
    type: str
    at: str
    organization: str
    to_organization: str | None
    details: dict[str, Any]
    ledger_index: int
    corrected: bool = False


class EventBatchResult(BaseModel):
    events: list[EventRead]


class EventRecorded(EventRead):
    recorded_at: str | None


class EventHistory(BaseModel):
    code: str
    events: list[EventRecorded]


class RefusedAttemptRead(BaseModel):
    id: str
    code_input: str | None
    type: str | None
    organization: str | None
    error_code: str
    message: str
    at: str


class RefusedAttempts(BaseModel):
    attempts: list[RefusedAttemptRead]


class FraudAlertRead(BaseModel):
    id: str
    kind: str
    code_input: str | None
    organization: str | None
    message: str
    at: str


class FraudAlerts(BaseModel):
    alerts: list[FraudAlertRead]
