"""Pydantic schemas for product model filing (SPEC §3, §9)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

HardwareClass = Literal["B", "W", "U", "S", "X"]
ComponentType = Literal["battery_pack", "joint_actuator", "controller", "sensor", "compute",
                        "other"]


class ModelParameters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    height_cm: float = Field(gt=10, le=400)
    mass_kg: float = Field(gt=0, le=1000)
    degrees_of_freedom: int = Field(ge=1, le=500)
    payload_kg: float | None = Field(default=None, ge=0, le=1000)
    max_speed_mps: float | None = Field(default=None, ge=0, le=30)
    battery_chemistry: str | None = Field(default=None, max_length=40)
    battery_capacity_wh: float | None = Field(default=None, ge=0, le=100_000)


class ComponentSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: ComponentType
    name: str = Field(min_length=1, max_length=200)
    supplier_id: str | None = Field(default=None, max_length=40)
    part_number: str | None = Field(default=None, max_length=64)
    quantity: int = Field(default=1, ge=1, le=100)


class SoftwareSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    version: str = Field(min_length=1, max_length=64)
    provider_id: str | None = Field(default=None, max_length=40)
    ai_stack: str | None = Field(default=None, max_length=200)


class ModelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    hardware_class: HardwareClass
    intelligence_level: int = Field(ge=0, le=5)
    parameters: ModelParameters
    components: list[ComponentSpec] = Field(min_length=1, max_length=200)
    software: SoftwareSpec
    testing_lab_id: str | None = Field(default=None, max_length=40)
    certifications: list[str] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _small_means_small(self) -> ModelCreate:
        if self.hardware_class == "S" and self.parameters.height_cm >= 100:
            raise ValueError("hardware_class S is for robots under 1 m (parameters.height_cm)")
        return self


class ModelCreated(BaseModel):
    id: str
    model_code: str
    status: str


class ModelDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=1000)


class ModelRead(BaseModel):
    id: str
    manufacturer_id: str
    company_code: str
    model_code: str
    name: str
    hardware_class: str
    intelligence_level: int
    parameters: dict[str, Any]
    components: list[dict[str, Any]]
    software: dict[str, Any]
    testing_lab_id: str | None
    certifications: list[str]
    status: str
    status_reason: str | None
    filed_at: datetime
    decided_at: datetime | None
