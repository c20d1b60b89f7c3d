from __future__ import annotations

from pydantic import BaseModel

from robopass.pilots.schemas import PilotRead


class FindingRead(BaseModel):
    id: str
    code: str
    kind: str
    detail: str
    since: str
    policy_version: int | None
    resolved_at: str | None
    scenario: str | None
    province: str | None


class FindingList(BaseModel):
    findings: list[FindingRead]


class ScanResult(BaseModel):
    opened: int
    resolved: int
    open_by_kind: dict[str, int]
    seconds: float
    #: a full scan, or an incremental one (only what changed since the last scan)
    full: bool
    judged_units: int
    groups: int


class ScenarioUnits(BaseModel):
    scenario: str
    province: str | None
    units: int


class RegulationOverview(BaseModel):
    units_by_scenario: list[ScenarioUnits]
    open_findings_by_kind: dict[str, int]
    pilots: list[PilotRead]
