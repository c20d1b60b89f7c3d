"""Telemetry storage (SPEC §7, §10), designed for volume.

* ``telemetry_units``: one row per unit that has reported — the incremental health snapshot
  (latest value of every metric, daily trend points) and the unit's small integer ``sid``.
* ``telemetry_chunks``: the readings, one row per unit, clock hour and ingested batch, columns
  packed (``telemetry.chunks``); primary key ``(sid, at)`` with ``at`` the chunk's earliest
  reading in integer epoch milliseconds. The key serves "one unit, a time range" (a chunk never
  spans two clock hours); a 4-byte ``sid`` instead of the 29-character code keeps the key
  short; PostgreSQL partitions it by ``at`` (docs/telemetry.md). Each reading ``(sid, at)`` is
  stored once: ingest drops duplicates before it builds chunks.
* ``telemetry_staging``: live batches appended whole at ingest, folded into chunks by a
  background folder (``telemetry.staging``); readers merge them in, so reads stay exact.
* ``telemetry_joint_layouts``: the joint names behind the packed ``joint_wear`` of readings.
* ``telemetry_hourly``: mergeable hourly aggregates (count, sum, min, max), kept long after raw
  readings are deleted by retention.
* ``telemetry_alerts``: health alerts, open (``closed_at`` null) and closed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from robopass.db import Base, UTCDateTime


class TelemetryUnit(Base):
    __tablename__ = "telemetry_units"
    #: fillfactor 50 on PostgreSQL: every fold rewrites the snapshots, and room on the page
    #: makes that a HOT update (no index write, no bloat)
    __table_args__ = {"postgresql_with": {"fillfactor": 50}}

    sid: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(29), unique=True)
    #: Epoch ms of the newest reading; the metric columns hold the latest known values.
    at: Mapped[int | None] = mapped_column(BigInteger)
    battery_soh: Mapped[float | None] = mapped_column(Float)
    cycle_count: Mapped[int | None] = mapped_column(BigInteger)
    accuracy: Mapped[float | None] = mapped_column(Float)
    operating_hours: Mapped[float | None] = mapped_column(Float)
    max_joint_wear: Mapped[float | None] = mapped_column(Float)
    joint_wear: Mapped[str | None] = mapped_column(Text)  # JSON object
    fault_codes: Mapped[str | None] = mapped_column(Text)  # JSON array
    firmware: Mapped[str | None] = mapped_column(String(64))
    #: JSON ``[[day, at_ms, soh|null, max_wear|null], ...]``: the first reading of each of the
    #: last days (bounded), so the trend needs no history scan.
    trend: Mapped[str | None] = mapped_column(Text)
    #: The last day (epoch ms // 86,400,000) in ``trend``.
    trend_day: Mapped[int | None] = mapped_column(BigInteger)
    #: Epoch ms of the trend's point for ``trend_day`` (None: read it from ``trend``), so a
    #: live reading later in the same day needs no trend work.
    trend_last_at: Mapped[int | None] = mapped_column(BigInteger)
    #: JSON list of the open alerts' ``"rule|key"``, so a batch that changes nothing about
    #: alerts costs no alert query (None: unknown, ask the alerts table).
    alert_keys: Mapped[str | None] = mapped_column(Text)
    #: Epoch ms from which raw readings changed since the last downsampling (None: clean).
    dirty_from: Mapped[int | None] = mapped_column(BigInteger)
    first_at: Mapped[int | None] = mapped_column(BigInteger)
    #: The longest time span (ms) of one of the unit's stored chunks: a stored reading at
    #: ``t`` lies in a chunk that starts at or after ``t - chunk_span`` (the late-reading check).
    chunk_span: Mapped[int | None] = mapped_column(BigInteger)


class TelemetryChunk(Base):
    __tablename__ = "telemetry_chunks"

    sid: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    #: Epoch ms of the chunk's earliest reading; all its readings lie in that clock hour.
    at: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    #: Epoch ms of its latest reading.
    last_at: Mapped[int] = mapped_column(BigInteger)
    #: How many readings it holds.
    n: Mapped[int] = mapped_column(Integer)
    #: The readings' columns, msgpack (``telemetry.chunks``).
    data: Mapped[bytes] = mapped_column(LargeBinary)


class TelemetryStaging(Base):
    """A staged live batch, appended at ingest and folded into chunks later
    (``telemetry.staging``)."""

    __tablename__ = "telemetry_staging"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"),
                                    primary_key=True, autoincrement=True)
    n: Mapped[int] = mapped_column(Integer)
    #: The distinct sids of its readings, sorted, little-endian int32.
    sids: Mapped[bytes] = mapped_column(LargeBinary)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    #: 1: its readings are in their units' snapshots; 0: the folder applies them.
    snap: Mapped[int] = mapped_column(Integer, server_default="1")
    #: Epoch ms of its earliest and latest reading (a reader skips rows outside its range).
    lo: Mapped[int] = mapped_column(BigInteger, server_default=str(-(1 << 62)))
    hi: Mapped[int] = mapped_column(BigInteger, server_default=str(1 << 62))


class TelemetryHead(Base):
    """A unit's newest stored reading time (staged or in chunks): ingest's duplicate check
    (a reading newer than it cannot be stored yet) without touching the wide snapshot row."""

    __tablename__ = "telemetry_heads"
    #: fillfactor 25: moving a head is a HOT update (no index write) on PostgreSQL, even
    #: when concurrent batches keep the old versions from being pruned for a while
    __table_args__ = {"sqlite_with_rowid": False, "postgresql_with": {"fillfactor": 25}}

    sid: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[int] = mapped_column(BigInteger)
    #: No stored reading of the unit lies strictly between ``prev`` and ``at``: a late reading
    #: inside that gap is new without a lookup (``prev = at``: no gap known).
    prev: Mapped[int] = mapped_column(BigInteger, server_default="-1")


class TelemetryJointLayout(Base):
    """Joint names of a packed ``joint_wear``, by their 8-byte key (a handful of rows)."""

    __tablename__ = "telemetry_joint_layouts"

    key: Mapped[bytes] = mapped_column(LargeBinary(8), primary_key=True)
    names: Mapped[str] = mapped_column(Text)  # JSON array


class TelemetryHourly(Base):
    __tablename__ = "telemetry_hourly"
    __table_args__ = {"sqlite_with_rowid": False}

    sid: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    hour: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(Integer)
    soh_n: Mapped[int] = mapped_column(Integer, default=0)
    soh_sum: Mapped[float | None] = mapped_column(Float)
    soh_min: Mapped[float | None] = mapped_column(Float)
    soh_max: Mapped[float | None] = mapped_column(Float)
    acc_n: Mapped[int] = mapped_column(Integer, default=0)
    acc_sum: Mapped[float | None] = mapped_column(Float)
    acc_min: Mapped[float | None] = mapped_column(Float)
    acc_max: Mapped[float | None] = mapped_column(Float)
    wear_n: Mapped[int] = mapped_column(Integer, default=0)
    wear_sum: Mapped[float | None] = mapped_column(Float)
    wear_min: Mapped[float | None] = mapped_column(Float)
    wear_max: Mapped[float | None] = mapped_column(Float)
    cycle_max: Mapped[int | None] = mapped_column(BigInteger)
    hours_max: Mapped[float | None] = mapped_column(Float)
    fault_n: Mapped[int] = mapped_column(Integer, default=0)


class TelemetryAlert(Base):
    __tablename__ = "telemetry_alerts"
    __table_args__ = (Index("ix_telemetry_alerts_code_open", "code", "closed_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    code: Mapped[str] = mapped_column(String(29))
    rule: Mapped[str] = mapped_column(String(40))
    #: The fault code for ``new_fault_code``; empty for the other rules.
    key: Mapped[str] = mapped_column(String(64), default="")
    message: Mapped[str] = mapped_column(String(300))
    value: Mapped[float | None] = mapped_column(Float)
    since: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
