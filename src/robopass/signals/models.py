"""Defect signals (SPEC §6)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from robopass.db import Base, UTCDateTime


class DefectSignal(Base):
    """A "possible common defect": a rate over threshold in a model, batch or supplier."""

    __tablename__ = "defect_signals"
    __table_args__ = (Index("ix_defect_signals_key", "group_kind", "group_key", "trigger_kind",
                            "trigger_value", "status"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    #: model | component_batch | component_supplier
    group_kind: Mapped[str] = mapped_column(String(20))
    #: model id, "supplier_id/batch" or supplier id
    group_key: Mapped[str] = mapped_column(String(140))
    model_id: Mapped[str | None] = mapped_column(String(40))
    supplier_id: Mapped[str | None] = mapped_column(String(40))
    batch: Mapped[str | None] = mapped_column(String(64))
    #: fault_code | incident
    trigger_kind: Mapped[str] = mapped_column(String(20))
    #: the fault code, or the incident type
    trigger_value: Mapped[str] = mapped_column(String(64))
    units: Mapped[list[str]] = mapped_column(JSON)
    unit_count: Mapped[int] = mapped_column(Integer)
    population: Mapped[int] = mapped_column(Integer)
    rate: Mapped[float] = mapped_column(Float)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    window_end: Mapped[datetime] = mapped_column(UTCDateTime())
    manufacturer_ids: Mapped[list[str]] = mapped_column(JSON)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: open | recalled | dismissed
    status: Mapped[str] = mapped_column(String(12), default="open")
    recall_id: Mapped[str | None] = mapped_column(ForeignKey("recalls.id"))
