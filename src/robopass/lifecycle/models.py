"""Lifecycle events, refused attempts and fraud alerts (SPEC §4)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from robopass.db import Base, UTCDateTime


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_code_seq", "code", "seq", unique=True),
        Index("ix_events_type_at", "type", "at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    code: Mapped[str] = mapped_column(ForeignKey("units.code"))
    #: Per-unit ordinal (1, 2, ...) in recording order.
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    to_organization_id: Mapped[str | None] = mapped_column(ForeignKey("organizations.id"))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    ledger_index: Mapped[int] = mapped_column(Integer, unique=True)
    #: Set when a later ``correction`` event names this one; it then stops counting.
    corrected: Mapped[bool] = mapped_column(Boolean, default=False)


class RefusedAttempt(Base):
    """Every refused event is recorded for the regulator, in its own transaction."""

    __tablename__ = "refused_attempts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    code_input: Mapped[str] = mapped_column(String(100), index=True)
    type: Mapped[str] = mapped_column(String(40))
    organization_id: Mapped[str | None] = mapped_column(ForeignKey("organizations.id"))
    error_code: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class FraudAlert(Base):
    """Raised when someone tries to refurbish, sell, transfer or deploy a scrapped unit, or
    scans a forged code; visible to the regulator."""

    __tablename__ = "fraud_alerts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    code_input: Mapped[str] = mapped_column(String(100), index=True)
    organization_id: Mapped[str | None] = mapped_column(ForeignKey("organizations.id"))
    message: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
