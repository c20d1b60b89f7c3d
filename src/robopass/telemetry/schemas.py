"""Telemetry shapes for the OpenAPI document (ingest itself validates in bulk, not with these)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model

from robopass.telemetry.readings import LIMITS


def _field(name: str) -> Any:
    """A metric's pydantic type, from the limits table (``readings.LIMITS``)."""
    limit = LIMITS[name]
    if limit.kind in ("percent", "number"):
        return (float | None, Field(None, ge=limit.lo, le=limit.hi))
    if limit.kind == "integer":
        return (int | None, Field(None, ge=int(limit.lo), le=int(limit.hi)))
    if limit.kind == "wear":
        joint = Annotated[str, StringConstraints(min_length=1, max_length=limit.length)]
        wear = Annotated[float, Field(ge=limit.lo, le=limit.hi)]
        return (dict[joint, wear] | None, Field(None, max_length=limit.items))  # type: ignore[valid-type]
    text = Annotated[str, StringConstraints(min_length=1, max_length=limit.length)]
    if limit.kind == "strings":
        return (list[text] | None, Field(None, max_length=limit.items))  # type: ignore[valid-type]
    return (text | None, None)


#: A reading's metrics, for the OpenAPI document: every limit from ``readings.LIMITS``.
Metrics = create_model("Metrics", __config__=ConfigDict(extra="forbid"),
                       **{name: _field(name) for name in LIMITS})


class Reading(BaseModel):
    code: str = Field(description="the unit's 29-character identity code")
    at: str = Field(description="RFC 3339 with offset; stored at millisecond precision")
    metrics: Metrics  # type: ignore[valid-type]


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
