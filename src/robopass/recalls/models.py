"""Recall campaigns and the units they affect (SPEC §6)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from robopass.db import Base, UTCDateTime


class Recall(Base):
    __tablename__ = "recalls"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    reason: Mapped[str] = mapped_column(String(2000))
    #: The validated scope as given (model_id, production_from/_to, serial_from/_to,
    #: component_supplier, component_batch).
    scope: Mapped[dict[str, Any]] = mapped_column(JSON)
    opened_by_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    #: "manufacturer" (its own models) or "regulator" (ordered recall).
    opened_by_role: Mapped[str] = mapped_column(String(16))
    #: Manufacturers of the affected units; each may read the campaign.
    manufacturer_ids: Mapped[list[str]] = mapped_column(JSON)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    affected: Mapped[int] = mapped_column(Integer)
    remedied: Mapped[int] = mapped_column(Integer, default=0)
    #: Organisations (owners and operators) notified when the recall opened.
    notified: Mapped[int] = mapped_column(Integer, default=0)
    #: The defect signal this recall was opened from, if any.
    signal_id: Mapped[str | None] = mapped_column(String(40))
    #: Date by which every affected unit should be remedied; units still open after it are
    #: ``overdue`` (SPEC §13). None on campaigns opened before it existed.
    remedy_by: Mapped[date | None] = mapped_column(Date)
    #: A closed campaign blocks nothing and leaves the public page.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by_id: Mapped[str | None] = mapped_column(String(40))
    close_reason: Mapped[str | None] = mapped_column(String(2000))


class RecallUnit(Base):
    """One affected unit; ``remedied_at`` closes the recall for it.

    No foreign keys on purpose: a campaign inserts up to 100,000+ rows in one statement, and
    per-row FK triggers cost PostgreSQL more than the insert itself; the rows are only ever
    written by ``recalls.service.open_recall`` from a SELECT over ``units`` (and a
    Citus-distributed ``units`` could not be referenced from a table keyed by recall anyway).
    """

    __tablename__ = "recall_units"
    __table_args__ = (Index("ix_recall_units_code", "code", "recall_id"),)

    recall_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    code: Mapped[str] = mapped_column(String(29), primary_key=True)
    manufacturer_id: Mapped[str] = mapped_column(String(40))
    #: Owner and operator when the recall opened: they were notified.
    owner_id: Mapped[str | None] = mapped_column(String(40))
    operator_id: Mapped[str | None] = mapped_column(String(40))
    remedied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    remedy_event_id: Mapped[str | None] = mapped_column(String(40))
    remedied_by_id: Mapped[str | None] = mapped_column(String(40))
