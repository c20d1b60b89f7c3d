from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PolicySet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: dict[str, Any] = Field(description="min_level, max_level, min_grades, "
                                  "allowed_hardware_classes, required_certifications, "
                                  "max_telemetry_interval_s, operator_roles, "
                                  "requires_evaluation_within_days (all optional)")
    reason: str = Field(min_length=1, max_length=2000)
    province: str | None = Field(default=None, max_length=6, description=(
        "a province's tightening of the national policy (a provincial regulator: its own)"))


class PolicyRead(BaseModel):
    scenario: str
    province: str | None = None
    version: int
    rules: dict[str, Any]
    reason: str
    effective_from: str
    ledger_index: int | None


class PolicyList(BaseModel):
    scenarios: list[str]
    policies: list[PolicyRead]


class PolicyVersions(BaseModel):
    scenario: str
    province: str | None = None
    versions: list[PolicyRead]
