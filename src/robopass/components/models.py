"""Key components with their own serials, bound to at most one live unit (SPEC §3)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from robopass.db import Base, UTCDateTime

COMPONENT_TYPES = ("battery_pack", "joint_actuator", "controller", "sensor", "compute", "other")


class Component(Base):
    __tablename__ = "components"
    __table_args__ = (
        UniqueConstraint("supplier_id", "serial"),
        Index("ix_components_supplier_batch", "supplier_id", "batch"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    serial: Mapped[str] = mapped_column(String(64))
    component_type: Mapped[str] = mapped_column(String(32))
    supplier_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    batch: Mapped[str | None] = mapped_column(String(64))
    #: Current binding; a component is bound to at most one non-terminal unit at a time.
    unit_code: Mapped[str | None] = mapped_column(ForeignKey("units.code"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ComponentBinding(Base):
    """History of bindings: a swap closes one row and opens another."""

    __tablename__ = "component_bindings"
    __table_args__ = (Index("ix_bindings_unit", "unit_code", "bound_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    component_id: Mapped[str] = mapped_column(ForeignKey("components.id"), index=True)
    unit_code: Mapped[str] = mapped_column(ForeignKey("units.code"))
    bound_at: Mapped[datetime] = mapped_column(UTCDateTime())
    unbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    bound_by_event: Mapped[str | None] = mapped_column(String(40))
    unbound_by_event: Mapped[str | None] = mapped_column(String(40))
