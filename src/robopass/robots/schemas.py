from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class CodesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = Field(ge=1, description="How many codes; at most ROBOPASS_MAX_CODES_PER_REQUEST "
                                         "(default 100,000)")
    plant: str = Field(min_length=2, max_length=2, description="The manufacturer's plant code")
    production_month: str = Field(pattern=r"^\d{4}-\d{2}$", examples=["2026-03"])


class CodesIssued(BaseModel):
    codes: list[str]


class RobotSummary(BaseModel):
    code: str
    status: str
    model_id: str
    production_month: str


class RobotList(BaseModel):
    robots: list[RobotSummary]


class RobotModelRef(BaseModel):
    id: str
    name: str
    model_code: str | None
    hardware_class: str
    intelligence_level: int
    status: str


class ManufacturerRef(BaseModel):
    id: str
    name: str
    company_code: str | None
    country: str


class RobotView(BaseModel):
    """A unit as its reader's tier may see it: public fields always; the ``legitimate`` ones
    (owner … components) and the ``authority`` ones (status_before_suspension …) only when the
    tier allows them (absent otherwise)."""

    code: str
    tier: str
    as_of: str | None
    status: str
    production_month: str
    #: the model version (1 = the original filing) the unit was built to (SPEC §13)
    model_version: int = 1
    model: RobotModelRef
    manufacturer: ManufacturerRef
    open_recalls: int
    imported_from: str | None
    owner: str | None = None
    operator: str | None = None
    province: str | None = None
    city: str | None = None
    firmware: str | None = None
    plant: str | None = None
    issued_at: str | None = None
    last_event_at: str | None = None
    event_count: int | None = None
    components: list[dict[str, Any]] | None = None
    status_before_suspension: str | None = None
    suspended_by_authority: bool | None = None
    recycler: str | None = None
