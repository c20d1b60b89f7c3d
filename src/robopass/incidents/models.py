"""Incidents reported against a unit (SPEC §6)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from robopass.db import Base, UTCDateTime

INCIDENT_TYPES = ("safety_accident", "malfunction", "data_breach", "near_miss", "other")
SEVERITIES = ("minor", "major", "critical")


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_code_at", "code", "at"),
                      Index("ix_incidents_at", "at"))

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    code: Mapped[str] = mapped_column(ForeignKey("units.code"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    type: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str] = mapped_column(String(10))
    description: Mapped[str] = mapped_column(String(5000))
    place: Mapped[str | None] = mapped_column(String(500))
    reporter_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The unit's parties as of ``at`` (they may read the trace report).
    owner_id: Mapped[str | None] = mapped_column(String(40))
    operator_id: Mapped[str | None] = mapped_column(String(40))
    manufacturer_id: Mapped[str] = mapped_column(String(40))
    model_id: Mapped[str] = mapped_column(String(40))
