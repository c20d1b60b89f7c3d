"""Pydantic schemas for product model filing (SPEC §3, §9)."""

from __future__ import annotations

from datetime import date, datetime
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


class BuildSpec(BaseModel):
    """An approved software build (SPEC §13, like UNECE R156's software identification)."""

    model_config = ConfigDict(extra="forbid")

    version: str = Field(min_length=1, max_length=64)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")


class SoftwareSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    version: str = Field(min_length=1, max_length=64)
    provider_id: str | None = Field(default=None, max_length=40)
    ai_stack: str | None = Field(default=None, max_length=200)
    builds: list[BuildSpec] | None = Field(default=None, max_length=200)


class CertificationEntry(BaseModel):
    """A certification on the filing, ``{name, valid_until}`` (SPEC §14: a scenario policy's
    ``required_certifications`` must be held unexpired), or a bare name: no expiry stated."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    valid_until: date | None = None

    @model_validator(mode="before")
    @classmethod
    def _a_bare_name(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    def stored(self) -> str | dict[str, str]:
        """As the filing keeps it: a bare name, or ``{name, valid_until}``."""
        if self.valid_until is None:
            return self.name
        return {"name": self.name, "valid_until": self.valid_until.isoformat()}


class ModelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    hardware_class: HardwareClass
    intelligence_level: int = Field(ge=0, le=5)
    parameters: ModelParameters
    components: list[ComponentSpec] = Field(min_length=1, max_length=200)
    software: SoftwareSpec
    testing_lab_id: str | None = Field(default=None, max_length=40)
    certifications: list[CertificationEntry] = Field(
        default_factory=list, max_length=50,
        description='a name ("ISO 13482:2014") or {name, valid_until}')

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


class Grades(BaseModel):
    """China's humanoid intelligence grading: four dimensions, levels 1-5."""

    model_config = ConfigDict(extra="forbid")

    perception: int = Field(ge=1, le=5, description="perception & cognition")
    decision: int = Field(ge=1, le=5, description="decision & learning")
    execution: int = Field(ge=1, le=5)
    collaboration: int = Field(ge=1, le=5, description="collaboration & interaction")


class SafetyTest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    standard: str = Field(min_length=1, max_length=100)
    result: Literal["pass", "fail"]


class EvaluationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grades: Grades
    overall: int = Field(ge=1, le=5)
    safety_tests: list[SafetyTest] = Field(max_length=100)
    report_sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")
    valid_until: date


class EvaluationCreated(BaseModel):
    id: str
    model_id: str
    model_version: int
    overall: int


class EvaluationRead(BaseModel):
    id: str
    model_id: str
    model_version: int
    lab_id: str
    lab_name: str
    grades: dict[str, int]
    overall: int
    safety_tests: list[dict[str, Any]]
    safety_passed: bool
    report_sha256: str
    valid_until: date
    evaluated_at: str
    expired: bool


class ParametersPatch(BaseModel):
    """Parameters to change in an amendment (the others stay)."""

    model_config = ConfigDict(extra="forbid")

    height_cm: float | None = Field(default=None, gt=10, le=400)
    mass_kg: float | None = Field(default=None, gt=0, le=1000)
    degrees_of_freedom: int | None = Field(default=None, ge=1, le=500)
    payload_kg: float | None = Field(default=None, ge=0, le=1000)
    max_speed_mps: float | None = Field(default=None, ge=0, le=30)
    battery_chemistry: str | None = Field(default=None, max_length=40)
    battery_capacity_wh: float | None = Field(default=None, ge=0, le=100_000)


class SoftwarePatch(BaseModel):
    """Software fields to change in an amendment (the others stay); ``builds`` replaces the
    list of approved builds."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    version: str | None = Field(default=None, min_length=1, max_length=64)
    provider_id: str | None = Field(default=None, max_length=40)
    ai_stack: str | None = Field(default=None, max_length=200)
    builds: list[BuildSpec] | None = Field(default=None, max_length=200)


class AmendmentChanges(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parameters: ParametersPatch | None = None
    components: list[ComponentSpec] | None = Field(
        default=None, min_length=1, max_length=200,
        description="the full new component list (replaces the filed one)")
    software: SoftwarePatch | None = None


class AmendmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    changes: AmendmentChanges
    reason: str = Field(min_length=1, max_length=2000)


class AmendmentCreated(BaseModel):
    id: str
    model_id: str
    version: int
    status: str
    reevaluation_required: bool


class AmendmentRead(AmendmentCreated):
    changes: dict[str, Any] | None
    reason: str | None
    parameters: dict[str, Any]
    components: list[dict[str, Any]]
    software: dict[str, Any]
    filed_at: datetime
    decided_at: datetime | None
    decision_reason: str | None


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
    certifications: list[str | dict[str, Any]]
    status: str
    status_reason: str | None
    filed_at: datetime
    decided_at: datetime | None
    version: int = 1
    #: The level digit of codes issued now (None: not graded, codes carry 0).
    evaluated_level: int | None = None
    #: The latest evaluation of the current version (None until a lab evaluates it).
    evaluation: EvaluationRead | None = None
