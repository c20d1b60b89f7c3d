from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class IncidentReported(BaseModel):
    id: str


class IncidentRead(BaseModel):
    id: str
    code: str
    at: str
    type: str
    severity: str
    description: str
    place: str | None
    reporter: str | None
    reported_at: str


class UnitIncidents(BaseModel):
    incidents: list[IncidentRead]


class TraceReport(BaseModel):
    """The unit as of the incident, its software, components, recent work, open recalls,
    signals and alerts, telemetry around the incident, and the candidate responsible parties."""

    incident: IncidentRead
    unit: dict[str, Any]
    software: dict[str, Any]
    components: list[dict[str, Any]]
    last_maintenance: dict[str, Any] | None
    maintenance_in_progress: bool
    recent_work: list[dict[str, Any]]
    recent_work_total: int
    recalls_open: list[dict[str, Any]]
    defect_signals: list[dict[str, Any]]
    health_alerts_open: list[dict[str, Any]]
    telemetry: dict[str, Any]
    responsibility: list[dict[str, Any]]
    ledger_indexes: list[int]
    rules: str
