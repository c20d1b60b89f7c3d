"""Response shapes of ``/api/v1/stats/*`` (the dashboard's aggregates)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class Overview(BaseModel):
    scope: dict[str, Any]
    organizations: dict[str, Any]
    models: dict[str, Any]
    recalls: list[dict[str, Any]]
    incidents: dict[str, Any]
    fraud_alerts: dict[str, Any]
    approval_queue: list[dict[str, Any]]
    units: dict[str, Any]
    codes_per_month: list[dict[str, Any]]
    units_by_production_month: list[dict[str, Any]]


class FleetHealth(BaseModel):
    """Histograms (``{buckets: [{from, to, count}], units}``), open alerts by rule, thresholds."""

    units: int
    battery_soh: dict[str, Any]
    max_joint_wear: dict[str, Any]
    open_alerts: dict[str, int]
    thresholds: dict[str, float]


class IncidentStats(BaseModel):
    total: int
    by_severity: dict[str, int]
    responsibility: dict[str, Any]


class SupplyChain(BaseModel):
    scope: dict[str, Any]
    units_with_components: int
    component_types: list[dict[str, Any]]
    by_country: list[dict[str, Any]]
    critical_suppliers: list[dict[str, Any]]
    concentration_method: str
