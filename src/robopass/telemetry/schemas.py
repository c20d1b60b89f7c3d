"""Telemetry shapes for the OpenAPI document (ingest itself validates in bulk, not with these)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Metrics(BaseModel):
    battery_soh: float | None = Field(None, ge=0, le=100, description="battery state of health, %")
    cycle_count: int | None = Field(None, ge=0)
    joint_wear: dict[str, float] | None = Field(None, description="joint → wear, % (0-100)")
    accuracy: float | None = Field(None, ge=0, le=100, description="operational accuracy, %")
    operating_hours: float | None = Field(None, ge=0)
    fault_codes: list[str] | None = None
    firmware: str | None = Field(None, max_length=64)


class Reading(BaseModel):
    code: str = Field(description="the unit's 29-character identity code")
    at: str = Field(description="RFC 3339 with offset; stored at millisecond precision")
    metrics: Metrics


class Rejection(BaseModel):
    index: int
    reason: str
    field: str | None = None


class IngestResult(BaseModel):
    stored: int
    duplicates: int
    rejected: list[Rejection]


class HealthAlert(BaseModel):
    rule: str
    message: str
    since: str | None


class HealthView(BaseModel):
    """The latest reading's metrics (``at`` null before the first), the trend and open alerts."""

    code: str
    at: str | None
    metrics: dict[str, Any]
    trend: dict[str, Any]
    alerts: list[HealthAlert]


class TelemetrySeries(BaseModel):
    """``points``: raw readings, or per hour/day ``{at, count, <metric>: {min, avg, max}...}``;
    ``next_from`` (raw only, when ``limit`` cut the range) is where the next page starts."""

    code: str
    from_: str = Field(alias="from")
    to: str
    metric: str | None
    resolution: str
    points: list[dict[str, Any]]
    next_from: str | None = None
