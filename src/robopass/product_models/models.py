"""Product models filed by manufacturers and decided by the regulator (SPEC §3)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from robopass.db import Base, UTCDateTime

MODEL_STATUSES = ("submitted", "approved", "rejected", "suspended", "revoked")
VERSION_STATUSES = ("submitted", "approved", "rejected")
#: The four dimensions of China's humanoid intelligence grading, each graded L1-L5.
GRADE_DIMENSIONS = ("perception", "decision", "execution", "collaboration")


class ProductModel(Base):
    __tablename__ = "product_models"
    __table_args__ = (UniqueConstraint("manufacturer_id", "model_code"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    manufacturer_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    company_code: Mapped[str] = mapped_column(String(4))
    model_code: Mapped[str] = mapped_column(String(6))
    name: Mapped[str] = mapped_column(String(200))
    hardware_class: Mapped[str] = mapped_column(String(1))
    intelligence_level: Mapped[int] = mapped_column(Integer)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    components: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    software: Mapped[dict[str, Any]] = mapped_column(JSON)
    software_provider_id: Mapped[str | None] = mapped_column(ForeignKey("organizations.id"))
    testing_lab_id: Mapped[str | None] = mapped_column(ForeignKey("organizations.id"))
    certifications: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="submitted", index=True)
    status_reason: Mapped[str | None] = mapped_column(String(1000))
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The approved version codes are issued for (1 = the original filing; SPEC §13).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    #: The evaluated overall level the last approval rested on: the level digit of codes
    #: issued from then on. None (models approved before evaluations existed) issues ``0``,
    #: "not graded".
    evaluated_level: Mapped[int | None] = mapped_column(Integer)
    #: The evaluation that approval rested on (shown by verification and passports).
    evaluation_id: Mapped[str | None] = mapped_column(String(40))


class ModelVersion(Base):
    """One version of a model's filing: version 1 is the original, later ones amendments.

    An amendment holds the changes asked for and the full resulting parameters, components and
    software (with its approved builds), so the filing of every version stays readable.
    """

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("model_id", "version"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("product_models.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    components: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    software: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: The amendment's ``changes`` as filed; None for version 1.
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    #: Software/AI stack, actuator, battery or compute changes need a new evaluation.
    reevaluation_required: Mapped[bool] = mapped_column(Boolean, default=False)
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_reason: Mapped[str | None] = mapped_column(String(1000))


class ModelEvaluation(Base):
    """An accredited lab's evaluation of one version of a model (SPEC §13)."""

    __tablename__ = "model_evaluations"
    __table_args__ = (Index("ix_model_evaluations_model", "model_id", "model_version"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("product_models.id"))
    model_version: Mapped[int] = mapped_column(Integer)
    lab_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    #: The lab's name when it evaluated (frozen, as the report names it).
    lab_name: Mapped[str] = mapped_column(String(200))
    perception: Mapped[int] = mapped_column(Integer)
    decision: Mapped[int] = mapped_column(Integer)
    execution: Mapped[int] = mapped_column(Integer)
    collaboration: Mapped[int] = mapped_column(Integer)
    overall: Mapped[int] = mapped_column(Integer)
    #: [{standard, result: "pass"|"fail"}]
    safety_tests: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    report_sha256: Mapped[str] = mapped_column(String(64))
    valid_until: Mapped[date] = mapped_column(Date)
    evaluated_at: Mapped[datetime] = mapped_column(UTCDateTime())
