"""Downsampling and retention, safe to run on a live database (SPEC §7, §10).

* **Downsample**: for every unit whose raw readings changed since last time (the snapshot's
  ``dirty_from``), recompute the hourly aggregates of the complete hours from ``dirty_from``
  on, from the raw readings, and store them (replacing those hours). Served by the chunks'
  ``(sid, at)`` key: no scan of the whole table.
* **Retain**: downsample first, then delete raw readings older than the raw retention period
  (never an hour that is not downsampled yet; the cut is an hour boundary, and a chunk of
  readings never spans two hours, so whole chunks go) and hourly aggregates older than theirs.

Work goes unit by unit in short transactions of :data:`UNITS_PER_TRANSACTION` units, each
taking the snapshot rows' locks like ingest does, so ingest keeps running alongside. On a
PostgreSQL table partitioned by month (docs/telemetry.md), dropping whole old partitions
(pg_partman's retention) is cheaper than row deletes; the delete here is then a no-op.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from robopass.db import dialect_name, transaction, write_session
from robopass.telemetry import partitioning, service
from robopass.telemetry.models import TelemetryChunk, TelemetryHourly
from robopass.telemetry.models import TelemetryUnit as Snap

HOUR_MS = service.HOUR_MS
DAY_MS = service.DAY_MS
UNITS_PER_TRANSACTION = 200


@dataclass
class RetentionReport:
    units: int = 0
    hours_written: int = 0
    raw_deleted: int = 0
    hourly_deleted: int = 0
    partitions_dropped: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def _locked(session: Session, sids: list[int]) -> list[Any]:
    query = select(Snap.sid, Snap.at, Snap.dirty_from).where(Snap.sid.in_(sids)).order_by(Snap.sid)
    if dialect_name(session) == "postgresql":
        query = query.with_for_update()
    return list(session.execute(query))


def downsample_units(session: Session, sids: list[int], *, until_ms: int) -> tuple[int, int]:
    """Recompute hourly aggregates of these units for complete hours before ``until_ms`` (an
    hour boundary). Returns (units changed, hours written)."""
    units = hours = 0
    for sid, latest, dirty_from in _locked(session, sids):
        if dirty_from is None or dirty_from >= until_ms:
            continue
        start = dirty_from - dirty_from % HOUR_MS
        rows = [{"hour": hour, **agg} for hour, agg in sorted(
            service.raw_hourly(session, sid=sid, start_ms=start, end_ms=until_ms).items())]
        session.execute(delete(TelemetryHourly).where(
            TelemetryHourly.sid == sid, TelemetryHourly.hour >= start,
            TelemetryHourly.hour < until_ms))
        if rows:
            for r in rows:
                r["sid"] = sid
                r["hour"] = int(r["hour"])
            session.execute(insert(TelemetryHourly), rows)
        still_dirty = until_ms if latest is not None and latest >= until_ms else None
        session.execute(update(Snap).where(Snap.sid == sid).values(dirty_from=still_dirty))
        units += 1
        hours += len(rows)
    return units, hours


def _all_sids(url: str, *, dirty_only: bool) -> list[int]:
    with write_session(url) as session, transaction(session, ledger=False):
        query = select(Snap.sid).order_by(Snap.sid)
        if dirty_only:
            query = query.where(Snap.dirty_from.is_not(None))
        return list(session.scalars(query))


def downsample(url: str, *, now: datetime | None = None) -> RetentionReport:
    """Downsample every changed unit up to the start of the current hour."""
    now_ms = service.dt_to_ms(now or service.utcnow())
    until = now_ms - now_ms % HOUR_MS
    report = RetentionReport()
    with write_session(url) as session, transaction(session, ledger=False):
        service.fold_staged(session)  # so each unit's hours read chunks only
    sids = _all_sids(url, dirty_only=True)
    for start in range(0, len(sids), UNITS_PER_TRANSACTION):
        with write_session(url) as session, transaction(session, ledger=False):
            units, hours = downsample_units(session, sids[start:start + UNITS_PER_TRANSACTION],
                                            until_ms=until)
        report.units += units
        report.hours_written += hours
    return report


def retain(url: str, *, raw_days: int, hourly_days: int = 0,
           now: datetime | None = None) -> RetentionReport:
    """Downsample, then delete raw readings older than ``raw_days`` (only hours already
    downsampled) and hourly aggregates older than ``hourly_days`` (0 keeps them)."""
    if raw_days < 1:
        raise ValueError("raw_days must be at least 1")
    report = downsample(url, now=now)
    now_ms = service.dt_to_ms(now or service.utcnow())
    raw_cut = now_ms - raw_days * DAY_MS
    raw_cut -= raw_cut % HOUR_MS
    hourly_cut = None if hourly_days <= 0 else now_ms - hourly_days * DAY_MS
    with write_session(url) as session, transaction(session, ledger=False):
        if partitioning.is_partitioned(session):
            # whole months before every unit's not-yet-downsampled readings go at once
            dirty = session.scalar(select(func.min(Snap.dirty_from)))
            cut = raw_cut if dirty is None else min(raw_cut, dirty)
            report.partitions_dropped += len(partitioning.drop_partitions_before(session, cut))
    sids = _all_sids(url, dirty_only=False)
    for start in range(0, len(sids), UNITS_PER_TRANSACTION):
        with write_session(url) as session, transaction(session, ledger=False):
            for sid, _latest, dirty_from in _locked(session,
                                                     sids[start:start + UNITS_PER_TRANSACTION]):
                cut = raw_cut if dirty_from is None else min(raw_cut, dirty_from)
                # chunks never span two clock hours and the cut is an hour boundary: whole
                # chunks before it are exactly the readings before it
                doomed = select(TelemetryChunk.at, TelemetryChunk.n).where(
                    TelemetryChunk.sid == sid, TelemetryChunk.at < cut)
                counts = list(session.execute(doomed))
                if counts:
                    session.execute(delete(TelemetryChunk).where(
                        TelemetryChunk.sid == sid, TelemetryChunk.at < cut))
                    report.raw_deleted += sum(n for _at, n in counts)
                if hourly_cut is not None:
                    result = session.execute(delete(TelemetryHourly).where(
                        TelemetryHourly.sid == sid, TelemetryHourly.hour < hourly_cut))
                    report.hourly_deleted += int(result.rowcount)  # type: ignore[attr-defined]
    return report
