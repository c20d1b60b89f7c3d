"""Pilot programmes: a scenario in some provinces, for a time, for named participants, under
their own rules (SPEC §14)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from robopass.db import Base, UTCDateTime


class Pilot(Base):
    __tablename__ = "pilots"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    scenario: Mapped[str] = mapped_column(String(24))
    provinces: Mapped[list[str]] = mapped_column(JSON)
    starts: Mapped[datetime] = mapped_column(UTCDateTime())
    ends: Mapped[datetime] = mapped_column(UTCDateTime())
    participants: Mapped[list[str]] = mapped_column(JSON)
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(String(2000))
    created_by_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ledger_index: Mapped[int | None] = mapped_column(Integer)
    #: Set when the pilot was ended early (``POST /pilots/{id}/end``).
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_reason: Mapped[str | None] = mapped_column(String(2000))
