"""Scenario policies, one row per version, kept forever (SPEC §14)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from robopass.db import Base, UTCDateTime


class PolicyVersion(Base):
    """A version of a scenario's policy. ``province`` is ``""`` for the national policy and a
    province code (``NN0000``) for a provincial regulator's tightening of it; the version in
    force is the highest of its (scenario, province)."""

    __tablename__ = "policy_versions"
    __table_args__ = (UniqueConstraint("scenario", "province", "version"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    scenario: Mapped[str] = mapped_column(String(24))
    province: Mapped[str] = mapped_column(String(6), default="")
    version: Mapped[int] = mapped_column(Integer)
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(String(2000))
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by_id: Mapped[str | None] = mapped_column(ForeignKey("organizations.id"))
    #: The ledger leaf of the decision that made this version (None: defaults from init).
    ledger_index: Mapped[int | None] = mapped_column(Integer)
