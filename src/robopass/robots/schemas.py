from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CodesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = Field(ge=1, description="How many codes; at most ROBOPASS_MAX_CODES_PER_REQUEST "
                                         "(default 100,000)")
    plant: str = Field(min_length=2, max_length=2, description="The manufacturer's plant code")
    production_month: str = Field(pattern=r"^\d{4}-\d{2}$", examples=["2026-03"])


class CodesIssued(BaseModel):
    codes: list[str]
