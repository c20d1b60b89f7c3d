"""Compliance findings opened and resolved by the scan (SPEC §14)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from robopass.db import Base, UTCDateTime

KINDS = ("telemetry_gap", "certification_expired", "evaluation_expired",
         "unapproved_software", "policy_changed", "pilot_ended")


class Finding(Base):
    __tablename__ = "compliance_findings"
    __table_args__ = (
        # At most one open finding per unit and kind; the scan's diff reads it by kind.
        Index("ix_findings_open", "kind", "code", unique=True,
              sqlite_where=text("resolved_at IS NULL"),
              postgresql_where=text("resolved_at IS NULL")),
        Index("ix_findings_code", "code"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    code: Mapped[str] = mapped_column(ForeignKey("units.code"))
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(String(1000))
    since: Mapped[datetime] = mapped_column(UTCDateTime())
    policy_version: Mapped[int | None] = mapped_column(Integer)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Where the unit was when the finding opened (for filters and the dashboard).
    scenario: Mapped[str | None] = mapped_column(String(24))
    province: Mapped[str | None] = mapped_column(String(6))


class ScanState(Base):
    """What the last compliance scan judged by, so the next one re-judges only what changed
    (``robopass.compliance.scan``): one row. ``events_mark`` is the highest event ledger
    index it had seen; ``marks`` (JSON) fingerprints the models, operators, policies and
    pilots it judged with, and lists the units in service that had never reported."""

    __tablename__ = "compliance_scan_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    events_mark: Mapped[int] = mapped_column(BigInteger)
    marks: Mapped[str] = mapped_column(Text)
