"""Product models filed by manufacturers and decided by the regulator (SPEC §3)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from robopass.db import Base, UTCDateTime

MODEL_STATUSES = ("submitted", "approved", "rejected", "suspended", "revoked")


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
