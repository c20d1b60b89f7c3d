"""Telemetry reads: health, history by time range, downsampling, fleet distribution (SPEC §7).

Stored readings live in chunks (``telemetry.chunks``) and, until the folder moves them, in
staged live batches (``telemetry.staging``). Every read here merges both, staging first (a
fold committing between the two reads then shows a reading twice, never zero times; a time
seen twice is dropped), so reads are exact whether or not the folder has run.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import groupby, islice
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from robopass.telemetry import chunks, rules, snapshots, staging
from robopass.telemetry import readings as rd
from robopass.telemetry.models import (
    TelemetryAlert,
    TelemetryChunk,
    TelemetryHourly,
    TelemetryJointLayout,
)
from robopass.telemetry.models import TelemetryUnit as Snap
from robopass.timeutil import rfc3339, utcnow

HOUR_MS = 3_600_000
DAY_MS = rules.DAY_MS
SNAP_COLUMNS = snapshots.SNAP_COLUMNS


def ms_to_dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def dt_to_ms(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp()) * 1000 + value.microsecond // 1000


def rfc3339_ms(ms: int | None) -> str | None:
    return None if ms is None else rfc3339(ms_to_dt(ms))


def layout_names(session: Session, keys: set[bytes]) -> dict[bytes, tuple[str, ...]]:
    out = {k: rd.LAYOUT_NAMES[k] for k in keys if k in rd.LAYOUT_NAMES}
    missing = [k for k in keys if k not in out]
    if missing:
        for key, names in session.execute(select(TelemetryJointLayout.key,
                                                 TelemetryJointLayout.names)
                                          .where(TelemetryJointLayout.key.in_(missing))):
            out[bytes(key)] = rd.LAYOUT_NAMES[bytes(key)] = tuple(orjson.loads(names))
    return out


def decode_rows(session: Session, rows: list[Any]) -> list[dict[str, Any]]:
    """Stored reading rows → ``{at: datetime, battery_soh, ..., joint_wear: dict}``."""
    keys = {bytes(r.joint_wear[:rd.LAYOUT_KEY_BYTES]) for r in rows if r.joint_wear}
    names = layout_names(session, keys) if keys else {}
    out = []
    for r in rows:
        wear = None
        if r.joint_wear:
            blob = bytes(r.joint_wear)
            layout = names.get(blob[:rd.LAYOUT_KEY_BYTES])
            wear = rd.unpack_wear(blob, layout) if layout else None
        out.append({"at": ms_to_dt(r.at), "battery_soh": r.battery_soh,
                    "cycle_count": r.cycle_count, "joint_wear": wear, "accuracy": r.accuracy,
                    "operating_hours": r.operating_hours,
                    "fault_codes": orjson.loads(r.fault_codes) if r.fault_codes else None,
                    "firmware": r.firmware})
    return out


# --------------------------------------------------------------------------- reads

_SNAP_SELECT = (Snap.sid, Snap.code, Snap.at, *[getattr(Snap, c) for c in SNAP_COLUMNS],
                Snap.trend, Snap.trend_day, Snap.alert_keys, Snap.dirty_from, Snap.first_at,
                Snap.chunk_span)


def get_snapshot(session: Session, code: str) -> dict[str, Any] | None:
    row = session.execute(select(*_SNAP_SELECT).where(Snap.code == code)).first()
    return None if row is None else dict(row._mapping)


def open_alerts(session: Session, code: str) -> list[dict[str, Any]]:
    return [{"rule": a.rule, "message": a.message, "since": rfc3339(a.since)}
            for a in session.scalars(select(TelemetryAlert).where(
                TelemetryAlert.code == code, TelemetryAlert.closed_at.is_(None))
                .order_by(TelemetryAlert.since, TelemetryAlert.rule, TelemetryAlert.key))]


def health(session: Session, code: str) -> dict[str, Any] | None:
    """``{code, at, metrics, trend, alerts: [{rule, message, since}]}``; None if the unit never
    reported. No authorisation here: the route checks the tier."""
    snap = get_snapshot(session, code)
    if snap is None or snap["at"] is None:
        return None
    points = orjson.loads(snap["trend"]) if snap.get("trend") else []
    return {"code": code, "at": rfc3339_ms(snap["at"]), "metrics": snapshots.decode(snap),
            "trend": rules.trend(points, rfc3339_ms), "alerts": open_alerts(session, code)}


def latest_battery_soh(session: Session, code: str) -> float | None:
    """For the public page's battery band (never the exact value in public)."""
    value = session.scalar(select(Snap.battery_soh).where(Snap.code == code))
    return None if value is None else float(value)


def _sid(session: Session, code: str) -> int | None:
    return session.scalar(select(Snap.sid).where(Snap.code == code))


def _staged(session: Session, sid: int, start_ms: int, end_ms: int) -> list[chunks.Raw]:
    return staging.readings_of(session.connection(), {sid}, start_ms=start_ms,
                               end_ms=end_ms).get(sid, [])


def raw_readings(session: Session, *, sid: int, start_ms: int, end_ms: int,
                 limit: int | None = None,
                 staged: list[chunks.Raw] | None = None) -> list[chunks.Raw]:
    """Stored readings of one unit with ``start_ms <= at < end_ms``, oldest first; with
    ``limit``, the first ``limit`` of them. Reads the chunks whose earliest reading lies in
    ``[hour of start, end)`` in key order, an hour at a time (chunks of one hour may overlap
    in time: each hour is sorted before it is used). Staged readings are merged in."""
    if staged is None:  # (a caller reading many units passes their staged readings)
        staged = _staged(session, sid, start_ms, end_ms)
    else:
        staged = [r for r in staged if start_ms <= r.at < end_ms]
    out = _chunk_readings(session, sid=sid, start_ms=start_ms, end_ms=end_ms, limit=limit)
    if staged:
        have = {r.at for r in out}
        out.extend(r for r in staged if r.at not in have)
        out.sort(key=_by_at)
    return out if limit is None else out[:limit]


def _chunk_readings(session: Session, *, sid: int, start_ms: int, end_ms: int,
                    limit: int | None) -> list[chunks.Raw]:
    out: list[chunks.Raw] = []
    hour_rows: list[chunks.Raw] = []
    current = None
    query = (select(TelemetryChunk.at, TelemetryChunk.data)
             .where(TelemetryChunk.sid == sid,
                    TelemetryChunk.at >= chunks.hour_of(start_ms),
                    TelemetryChunk.at < end_ms)
             .order_by(TelemetryChunk.at))
    for at, data in session.execute(query.execution_options(yield_per=500)):
        hour = chunks.hour_of(at)
        if hour != current:
            if hour_rows:
                hour_rows.sort(key=_by_at)
                out.extend(hour_rows)
                hour_rows = []
                if limit is not None and len(out) >= limit:
                    break
            current = hour
        hour_rows.extend(r for r in chunks.decode(bytes(data)) if start_ms <= r.at < end_ms)
    if hour_rows:
        hour_rows.sort(key=_by_at)
        out.extend(hour_rows)
    return out if limit is None else out[:limit]


_by_at = itemgetter(0)


def readings_between(session: Session, *, code: str, start: datetime, end: datetime,
                     limit: int = 10000) -> list[dict[str, Any]]:
    """Raw readings of one unit with ``start <= at < end``, oldest first, at most ``limit``.

    Each is ``{at: datetime, battery_soh, cycle_count, joint_wear, accuracy, operating_hours,
    fault_codes, firmware}`` (absent metrics None). Served by the chunks' ``(sid, at)`` key.
    """
    sid = _sid(session, code)
    if sid is None:
        return []
    rows = raw_readings(session, sid=sid, start_ms=dt_to_ms(start), end_ms=dt_to_ms(end),
                        limit=limit)
    return decode_rows(session, rows)


RESOLUTIONS = ("auto", "raw", "hour", "day")
SERIES_METRICS = ("battery_soh", "cycle_count", "joint_wear", "accuracy", "operating_hours",
                  "fault_codes", "firmware")


def series(session: Session, *, code: str, start: datetime, end: datetime,
           metric: str | None = None, resolution: str = "auto",
           limit: int = 10000) -> dict[str, Any]:
    """History by time range: raw readings, or hourly/daily aggregates for long ranges.

    ``auto`` picks raw up to 2 days, hourly up to 90 days, daily beyond. Aggregates are
    ``{at, count, battery_soh: {min, avg, max}, accuracy: {...}, joint_wear: {...} (of each
    reading's most worn joint), cycle_count: max, operating_hours: max, fault_readings}``.
    """
    start_ms, end_ms = dt_to_ms(start), dt_to_ms(end)
    span = end_ms - start_ms
    if resolution == "auto":
        resolution = "raw" if span <= 2 * DAY_MS else "hour" if span <= 90 * DAY_MS else "day"
    body: dict[str, Any] = {"code": code, "from": rfc3339_ms(start_ms), "to": rfc3339_ms(end_ms),
                            "metric": metric, "resolution": resolution, "points": []}
    snap = session.execute(select(Snap.sid, Snap.dirty_from).where(Snap.code == code)).first()
    if snap is None:
        return body
    sid, dirty_from = snap
    if resolution == "raw":
        rows = raw_readings(session, sid=sid, start_ms=start_ms, end_ms=end_ms,
                            limit=limit + 1)
        if len(rows) > limit:
            body["next_from"] = rfc3339_ms(rows[limit].at)
            rows = rows[:limit]
        points = []
        for r, d in zip(rows, decode_rows(session, rows), strict=True):
            d["at"] = rfc3339_ms(r.at)
            if metric:
                d = {"at": d["at"], metric: d[metric]}
            else:
                d = {k: v for k, v in d.items() if v is not None}
            points.append(d)
        body["points"] = points
        return body
    buckets = _hourly(session, sid=sid, start_ms=start_ms, end_ms=end_ms, dirty_from=dirty_from)
    if resolution == "day":
        days: dict[int, dict[str, Any]] = {}
        for hour, agg in sorted(buckets.items()):
            day = hour - hour % DAY_MS
            days[day] = _merge(days[day], agg) if day in days else agg
        buckets = days
    points = []
    for at, agg in sorted(buckets.items())[:limit]:
        point = _agg_view(at, agg)
        if metric:
            point = {"at": point["at"], "count": point["count"], metric: point.get(metric)}
        points.append(point)
    body["points"] = points
    return body


_STAT = ("soh", "acc", "wear")


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = {"n": a["n"] + b["n"], "fault_n": a["fault_n"] + b["fault_n"]}
    for s in _STAT:
        out[f"{s}_n"] = a[f"{s}_n"] + b[f"{s}_n"]
        out[f"{s}_sum"] = (a[f"{s}_sum"] or 0.0) + (b[f"{s}_sum"] or 0.0)
        mins = [v for v in (a[f"{s}_min"], b[f"{s}_min"]) if v is not None]
        maxs = [v for v in (a[f"{s}_max"], b[f"{s}_max"]) if v is not None]
        out[f"{s}_min"] = min(mins) if mins else None
        out[f"{s}_max"] = max(maxs) if maxs else None
    for m in ("cycle_max", "hours_max"):
        vals = [v for v in (a[m], b[m]) if v is not None]
        out[m] = max(vals) if vals else None
    return out


def _agg_view(at: int, agg: dict[str, Any]) -> dict[str, Any]:
    def stats(s: str) -> dict[str, float] | None:
        if not agg[f"{s}_n"]:
            return None
        return {"min": agg[f"{s}_min"], "avg": round(agg[f"{s}_sum"] / agg[f"{s}_n"], 3),
                "max": agg[f"{s}_max"]}

    return {"at": rfc3339_ms(at), "count": agg["n"], "battery_soh": stats("soh"),
            "accuracy": stats("acc"), "joint_wear": stats("wear"),
            "cycle_count": agg["cycle_max"], "operating_hours": agg["hours_max"],
            "fault_readings": agg["fault_n"]}


_AGG_KEYS = ("n", "soh_n", "soh_sum", "soh_min", "soh_max", "acc_n", "acc_sum", "acc_min",
             "acc_max", "wear_n", "wear_sum", "wear_min", "wear_max", "cycle_max", "hours_max",
             "fault_n")


def raw_hourly(session: Session, *, sid: int, start_ms: int,
               end_ms: int) -> dict[int, dict[str, Any]]:
    """Hour → aggregate (:data:`_AGG_KEYS`) of one unit's stored readings with
    ``start_ms <= at < end_ms``: count; count, sum, min and max of battery SoH, accuracy and
    the most worn joint; the largest cycle count and operating hours; readings with fault
    codes reported (an empty list included: "fault codes were reported"). A chunk lies in one
    clock hour, so each is folded in whole, column by column with C builtins."""
    out: dict[int, dict[str, Any]] = {}
    staged = _staged(session, sid, start_ms, end_ms)  # before the chunks (see the module)
    query = (select(TelemetryChunk.at, TelemetryChunk.last_at, TelemetryChunk.data)
             .where(TelemetryChunk.sid == sid,
                    TelemetryChunk.at >= chunks.hour_of(start_ms),
                    TelemetryChunk.at < end_ms))
    seen: set[int] = set()
    for first, last, data in session.execute(query.execution_options(yield_per=500)):
        cols = chunks.decode_columns(bytes(data))
        if staged:
            seen.update(cols[0])
        _fold_hour(out, first, last, cols, start_ms, end_ms)
    staged = [r for r in staged if r.at not in seen]
    staged.sort(key=_by_at)
    for _, run in groupby(staged, key=lambda r: chunks.hour_of(r.at)):
        rows = list(run)
        cols = [list(c) for c in zip(*rows, strict=True)]
        _fold_hour(out, rows[0].at, rows[-1].at, cols, start_ms, end_ms)
    return out


def _fold_hour(out: dict[int, dict[str, Any]], first: int, last: int, cols: list[list[Any]],
               start_ms: int, end_ms: int) -> None:
    """Fold the readings of one hour (columns in :data:`chunks.FIELDS` order) into ``out``."""
    if first < start_ms or last >= end_ms:  # the chunk straddles a bound of the range
        keep = [k for k, at in enumerate(cols[0]) if start_ms <= at < end_ms]
        if not keep:
            return
        cols = [[col[k] for k in keep] for col in cols]
    agg = {"n": len(cols[0]), "cycle_max": _max(cols[2]), "hours_max": _max(cols[4]),
           "fault_n": len(cols[7]) - cols[7].count(None)}
    for key, col in (("soh", cols[1]), ("acc", cols[3]), ("wear", cols[5])):
        values = col if None not in col else [v for v in col if v is not None]
        agg[f"{key}_n"] = len(values)
        agg[f"{key}_sum"] = math.fsum(values) if values else None
        agg[f"{key}_min"] = min(values) if values else None
        agg[f"{key}_max"] = max(values) if values else None
    hour = chunks.hour_of(first)
    out[hour] = _merge(out[hour], agg) if hour in out else agg


def _max(col: list[Any]) -> Any:
    values = col if None not in col else [v for v in col if v is not None]
    return max(values) if values else None


def _hourly(session: Session, *, sid: int, start_ms: int, end_ms: int,
            dirty_from: int | None) -> dict[int, dict[str, Any]]:
    """Hour → aggregate: stored hourly rows where final, computed from raw readings for the
    hours not downsampled yet (from ``dirty_from`` on)."""
    start_h = start_ms - start_ms % HOUR_MS
    split = end_ms if dirty_from is None else max(start_h, min(end_ms, dirty_from))
    out: dict[int, dict[str, Any]] = {}
    h = TelemetryHourly
    if split > start_h:
        for row in session.execute(select(h.hour, *[getattr(h, k) for k in _AGG_KEYS])
                                   .where(h.sid == sid, h.hour >= start_h, h.hour < split)):
            out[row.hour] = {k: getattr(row, k) for k in _AGG_KEYS}
    if dirty_from is not None and split < end_ms:
        for hour, agg in raw_hourly(session, sid=sid, start_ms=max(split, start_ms),
                                    end_ms=end_ms).items():
            out[hour] = _merge(out[hour], agg) if hour in out else agg
    return out


def fleet_health_distribution(session: Session, *, unit_codes_query: Any = None
                              ) -> dict[str, Any]:
    """Histograms (10-point buckets) of latest battery SoH and most-worn joint across units
    with a snapshot, and open alerts by rule. ``unit_codes_query`` (a select of unit codes)
    narrows the fleet, e.g. to a province."""
    def histogram(col: Any) -> dict[str, Any]:
        bucket = case(*[(col < edge, edge // 10 - 1) for edge in range(10, 100, 10)], else_=9)
        query = select(bucket.label("b"), func.count()).where(col.is_not(None)).group_by(bucket)
        if unit_codes_query is not None:
            query = query.where(Snap.code.in_(unit_codes_query))
        counts = {int(b): int(n) for b, n in session.execute(query)}
        return {"buckets": [{"from": b * 10, "to": b * 10 + 10, "count": counts.get(b, 0)}
                            for b in range(10)],
                "units": sum(counts.values())}

    total_q = select(func.count()).select_from(Snap).where(Snap.at.is_not(None))
    alerts_q = select(TelemetryAlert.rule, func.count()).where(
        TelemetryAlert.closed_at.is_(None)).group_by(TelemetryAlert.rule)
    if unit_codes_query is not None:
        total_q = total_q.where(Snap.code.in_(unit_codes_query))
        alerts_q = alerts_q.where(TelemetryAlert.code.in_(unit_codes_query))
    alerts = {rule: 0 for rule in rules.RULES}
    alerts.update({rule: int(n) for rule, n in session.execute(alerts_q)})
    return {"units": int(session.scalar(total_q) or 0),
            "battery_soh": histogram(Snap.battery_soh),
            "max_joint_wear": histogram(Snap.max_joint_wear),
            "open_alerts": alerts,
            "thresholds": {"battery_soh_min": rules.BATTERY_SOH_MIN,
                           "joint_wear_max": rules.JOINT_WEAR_MAX,
                           "accuracy_min": rules.ACCURACY_MIN}}


def iter_chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def default_range(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    end = end or utcnow()
    return (start or end - timedelta(days=1)), end
