"""Figures the dashboard reads instead of scanning: ``unit_counts``, how many units there are
per combination of the dimensions the dashboard charts (see :mod:`robopass.stats.counts`), and
``supply_counts``, how many units carry each supplier's key components (see
:mod:`robopass.stats.supply`)."""

from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from robopass.db import Base


class UnitCount(Base):
    """Units per (status, manufacturer, province, scenario, production month, issue month).

    Absent province and scenario are stored as ``''`` (a NULL in a key column would never
    conflict, so the upsert could not find its row). Rows whose count fell to 0 stay."""

    __tablename__ = "unit_counts"

    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    manufacturer_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    province: Mapped[str] = mapped_column(String(6), primary_key=True)
    scenario: Mapped[str] = mapped_column(String(24), primary_key=True)
    production_month: Mapped[str] = mapped_column(String(7), primary_key=True)
    issued_month: Mapped[str] = mapped_column(String(7), primary_key=True)
    units: Mapped[int] = mapped_column(BigInteger, default=0)


class SupplyCount(Base):
    """Units carrying key components, per (province prefix, component type, supplier)
    (see :mod:`robopass.stats.supply`).

    ``province`` is the first two digits of ``units.province`` (``''``: no location). A row
    counts the *distinct* units with at least one bound component of that type from that
    supplier; ``component_type = ''`` rows count units with any component of the supplier, and
    the row with both ``''`` units with any component at all (so no level needs a
    ``COUNT(DISTINCT)``). Rows whose count fell to 0 stay."""

    __tablename__ = "supply_counts"

    province: Mapped[str] = mapped_column(String(2), primary_key=True)
    component_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    supplier_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    units: Mapped[int] = mapped_column(BigInteger, default=0)
