"""Telemetry: storing readings in bulk, the health snapshot and alerts, reads (SPEC §7).

Every path (HTTP, MQTT, the simulator, the demo seeder) stores through :func:`store_readings`
or :func:`store_body`: one validation, one insert, one snapshot update. Nothing here commits;
the caller owns the transaction. Telemetry does not touch the ledger, so it does not take the
ledger writer lock: on PostgreSQL concurrent batches serialise per unit on their snapshot rows
(``FOR UPDATE`` in ``sid`` order), on SQLite the write session's ``BEGIN IMMEDIATE`` does. A
server decodes a body (:func:`decode_body`, no database) before it opens the transaction, so
server workers parse in parallel and hold the write lock only to store.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import groupby, islice
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import Table, bindparam, case, func, insert, select, update
from sqlalchemy.orm import Session

from robopass import limits, runtime
from robopass.auth.service import Actor
from robopass.db import dialect_name
from robopass.ids import new_id
from robopass.robots.models import TERMINAL_STATUSES
from robopass.telemetry import chunks, rules
from robopass.telemetry import readings as rd
from robopass.telemetry.models import (
    TelemetryAlert,
    TelemetryChunk,
    TelemetryHourly,
    TelemetryJointLayout,
)
from robopass.telemetry.models import TelemetryUnit as Snap
from robopass.telemetry.settings import get_telemetry_settings
from robopass.timeutil import CLOCK_SKEW, rfc3339, utcnow

log = logging.getLogger(__name__)

CHUNK = 50_000
HOUR_MS = 3_600_000
DAY_MS = rules.DAY_MS
SKEW_MS = int(CLOCK_SKEW.total_seconds() * 1000)
SNAP_COLUMNS = ("battery_soh", "cycle_count", "accuracy", "operating_hours", "max_joint_wear",
                "joint_wear", "fault_codes", "firmware")


def ms_to_dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def dt_to_ms(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp()) * 1000 + value.microsecond // 1000


def rfc3339_ms(ms: int | None) -> str | None:
    return None if ms is None else rfc3339(ms_to_dt(ms))


def _min_ms(actor: Actor | None, now_ms: int) -> int:
    """Clients may not send readings older than raw retention (their hour may be final);
    trusted system imports (``actor=None``) may backfill any time after 2000."""
    days = get_telemetry_settings().raw_retention_days
    if actor is None or days <= 0:
        return rd.MIN_MS
    return max(rd.MIN_MS, now_ms - days * DAY_MS)


# --------------------------------------------------------------------------- storing

#: The collector is paused while a batch is parsed and stored (robopass.runtime owns GC policy).
_no_gc = runtime.paused_gc


@dataclass(slots=True)
class Decoded:
    """A body parsed and checked, nothing stored yet: every reading good (``batch``), or the
    items for the reading-by-reading path (``items``, with NDJSON lines already rejected)."""

    batch: rd.Batch | None
    items: list[Any] | None
    rejected: list[dict[str, Any]]
    now: datetime


def decode_body(body: bytes, *, actor: Actor | None, now: datetime | None = None) -> Decoded:
    """Parse and validate a JSON array or NDJSON body without touching the database, so a
    server decodes it outside the write transaction (raises ``readings.BadBody``)."""
    now = now or utcnow()
    now_ms = dt_to_ms(now)
    limit = get_telemetry_settings().max_readings if actor is not None else None
    if limit is not None and limits.too_many_containers(body, readings=limit):
        raise rd.BadBody(f"the body holds more than {limit} readings' worth of JSON objects "
                         f"and arrays; send at most {limit} readings per request")
    with _no_gc():
        try:
            batch = rd.decode_fast(body, now_ms=now_ms, skew_ms=SKEW_MS,
                                   min_ms=_min_ms(actor, now_ms), max_readings=limit)
        except rd.NotFast:
            items, rejected = rd.parse_body(body)
            return Decoded(None, items, rejected, now)
    return Decoded(batch, None, [], now)


def store_decoded(session: Session, decoded: Decoded, *,
                  actor: Actor | None) -> dict[str, Any]:
    """Store what :func:`decode_body` returned: ``{stored, duplicates, rejected}``."""
    if decoded.batch is not None:
        with _no_gc():
            return store_rows(session, decoded.batch, actor=actor)
    return store_readings(session, decoded.items or [], actor=actor, now=decoded.now,
                          _rejected=decoded.rejected)


def store_body(session: Session, body: bytes, *, actor: Actor | None,
               now: datetime | None = None) -> dict[str, Any]:
    """Parse a JSON array or NDJSON body and store it (raises ``readings.BadBody``)."""
    return store_decoded(session, decode_body(body, actor=actor, now=now), actor=actor)


def store_rows(session: Session, rows: rd.Batch | list[rd.Row], *, actor: Actor | None,
               notify: bool = True) -> dict[str, Any]:
    """Store readings already validated by ``readings.decode_fast`` or ``readings.validate``."""
    batch = rows if isinstance(rows, rd.Batch) else rd.Batch.from_rows(rows)
    rejected: list[dict[str, Any]] = []
    stored = duplicates = 0
    n = len(batch)
    for start in range(0, n, CHUNK):
        part = batch if n <= CHUNK else batch.take(range(start, min(n, start + CHUNK)))
        s, d = _store_rows(session, part, actor=actor, rejected=rejected, notify=notify)
        stored += s
        duplicates += d
    rejected.sort(key=lambda r: r["index"])
    return {"stored": stored, "duplicates": duplicates, "rejected": rejected}


def store_readings(session: Session, readings: Iterable[Any], *, actor: Actor | None = None,
                   now: datetime | None = None, notify: bool = True,
                   max_readings: int | None = None,
                   _rejected: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Validate and store readings; returns ``{stored, duplicates, rejected: [{index, reason}]}``.

    ``actor`` None is the trusted system (seeder, backfills): every unit is "its own", and
    readings of any age after 2000 are accepted; otherwise the actor must be the unit's owner
    or operator. Readings are processed in chunks, so an iterator of millions is fine.
    """
    now_ms = dt_to_ms(now or utcnow())
    min_ms = _min_ms(actor, now_ms)
    limit = max_readings if max_readings is not None else (
        None if actor is None else get_telemetry_settings().max_readings)
    rejected: list[dict[str, Any]] = list(_rejected or [])
    stored = duplicates = 0
    it = iter(readings)
    index = 0
    while True:
        chunk = list(islice(it, CHUNK))
        if not chunk:
            break
        try:  # the fast path decides a chunk where every reading is good
            if limit is not None and index + len(chunk) > limit:
                raise rd.NotFast("over the batch limit")
            with _no_gc():
                batch = rd.convert_fast(chunk, now_ms=now_ms, skew_ms=SKEW_MS, min_ms=min_ms,
                                        first_index=index)
        except rd.NotFast:
            rows, bad = rd.validate(chunk, now_ms=now_ms, skew_ms=SKEW_MS, min_ms=min_ms,
                                    first_index=index,
                                    max_readings=None if limit is None else max(0,
                                                                                limit - index))
            rejected.extend(bad)
            batch = rd.Batch.from_rows(rows)
        index += len(chunk)
        if len(batch):
            with _no_gc():
                s, d = _store_rows(session, batch, actor=actor, rejected=rejected,
                                   notify=notify)
            stored += s
            duplicates += d
    rejected.sort(key=lambda r: r["index"])
    return {"stored": stored, "duplicates": duplicates, "rejected": rejected}


#: What ingest loads of a snapshot: not ``trend`` (read only when a batch starts a new day).
_SNAP_NAMES = ("sid", "code", "at", *SNAP_COLUMNS, "trend_day", "alert_keys", "dirty_from",
               "first_at", "chunk_span")


def _query(session: Session, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """A driver-level query (``?`` placeholders): on the per-batch path SQLAlchemy's row
    processing costs more than the query."""
    dbapi = session.connection().connection.driver_connection
    cur = dbapi.cursor()  # type: ignore[union-attr]
    if dialect_name(session) == "postgresql":
        sql = sql.replace("?", "%s")
    cur.execute(sql, params)
    return list(cur.fetchall())


def _unit_facts(session: Session, codes: list[str]
                ) -> tuple[dict[str, tuple[Any, ...]], dict[str, dict[str, Any]]]:
    """code → (status, owner_id, operator_id, sid|None), and (SQLite, where the write lock is
    already held) the existing snapshots in the same query."""
    facts: dict[str, tuple[Any, ...]] = {}
    snaps: dict[str, dict[str, Any]] = {}
    with_snap = dialect_name(session) != "postgresql"
    cols = ", ".join(f"s.{c}" for c in (_SNAP_NAMES if with_snap else ("sid",)))
    for start in range(0, len(codes), 900):
        part = codes[start:start + 900]
        rows = _query(session, f"SELECT u.code, u.status, u.owner_id, u.operator_id, {cols} "
                               "FROM units u LEFT JOIN telemetry_units s ON s.code = u.code "
                               f"WHERE u.code IN ({', '.join('?' * len(part))})", part)
        for row in rows:
            facts[row[0]] = (row[1], row[2], row[3], row[4])
            if with_snap and row[4] is not None:
                snaps[row[0]] = dict(zip(_SNAP_NAMES, row[4:], strict=True))
    return facts, snaps


_SNAP_SELECT = (Snap.sid, Snap.code, Snap.at, *[getattr(Snap, c) for c in SNAP_COLUMNS],
                Snap.trend, Snap.trend_day, Snap.alert_keys, Snap.dirty_from, Snap.first_at,
                Snap.chunk_span)
_SNAP_WRITE = ("at", *SNAP_COLUMNS, "trend_day", "alert_keys", "dirty_from", "first_at",
               "chunk_span")
_snap_row = itemgetter(*_SNAP_WRITE, "sid")
_snap_row_trend = itemgetter(*_SNAP_WRITE, "trend", "sid")


def _load_snapshots(session: Session, codes: list[str], missing: list[str]
                    ) -> dict[str, dict[str, Any]]:
    """Create snapshot rows (and sids) for first-time units, then load every snapshot, locked
    on PostgreSQL in ``sid`` order so concurrent batches cannot deadlock."""
    pg = dialect_name(session) == "postgresql"
    if missing:
        values = [{"code": c} for c in sorted(missing)]
        if pg:
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            session.execute(pg_insert(Snap).on_conflict_do_nothing(index_elements=["code"]),
                            values)
        else:
            session.execute(insert(Snap), values)
    snaps: dict[str, dict[str, Any]] = {}
    wanted = codes if pg else missing
    for start in range(0, len(wanted), 900):
        part = wanted[start:start + 900]
        rows = _query(session, f"SELECT {', '.join(_SNAP_NAMES)} FROM telemetry_units "
                               f"WHERE code IN ({', '.join('?' * len(part))})"
                               + (" ORDER BY sid FOR UPDATE" if pg else ""), part)
        for row in rows:
            snaps[row[1]] = dict(zip(_SNAP_NAMES, row, strict=True))
    return snaps


def _store_rows(session: Session, batch: rd.Batch, *, actor: Actor | None,
                rejected: list[dict[str, Any]], notify: bool) -> tuple[int, int]:
    codes = sorted(set(batch.codes))
    facts, known = _unit_facts(session, codes)
    allowed: dict[str, str | None] = {}  # code -> error or None
    for code in codes:
        fact = facts.get(code)
        if fact is None:
            allowed[code] = f"unknown unit {code}"
        elif fact[0] in TERMINAL_STATUSES:
            allowed[code] = f"unit {code} is {fact[0]}; it reports no telemetry"
        elif actor is not None and actor.id not in (fact[1], fact[2]):
            allowed[code] = f"unit {code} is not yours: only its owner or operator reports"
        else:
            allowed[code] = None
    ok_codes = [c for c in codes if allowed[c] is None]
    if len(ok_codes) != len(codes):
        keep = []
        for i, (index, code) in enumerate(zip(batch.index, batch.codes, strict=True)):
            error = allowed[code]
            if error is None:
                keep.append(i)
            else:
                rejected.append({"index": index, "reason": error, "field": "code"})
        batch = batch.take(keep)
    if not len(batch):
        return 0, 0
    missing = [c for c in ok_codes if facts[c][3] is None]
    snaps = _load_snapshots(session, ok_codes, missing)
    if dialect_name(session) != "postgresql":
        # SQLite: the facts query already read the existing snapshots (BEGIN IMMEDIATE: no race)
        for code in ok_codes:
            if code not in snaps:
                snaps[code] = known[code]
    _register_layouts(session, batch.layouts)
    spans: dict[str, int] = {}
    stored = _insert_chunks(session, batch, snaps, spans)
    _update_snapshots(session, batch, snaps, facts, notify=notify, spans=spans)
    return stored, len(batch) - stored


def _register_layouts(session: Session, keys: set[bytes]) -> None:
    """Make sure the joint names of every packed ``joint_wear`` are stored (idempotent)."""
    if not keys:
        return
    values = [(k, orjson.dumps(list(rd.LAYOUT_NAMES[k])).decode()) for k in sorted(keys)]
    dbapi = session.connection().connection.driver_connection
    cur = dbapi.cursor()  # type: ignore[union-attr]
    if dialect_name(session) == "postgresql":
        cur.executemany("INSERT INTO telemetry_joint_layouts (key, names) VALUES (%s, %s) "
                        "ON CONFLICT DO NOTHING", values)
    else:
        cur.executemany("INSERT OR IGNORE INTO telemetry_joint_layouts (key, names) "
                        "VALUES (?, ?)", values)


def _layout_names(session: Session, keys: set[bytes]) -> dict[bytes, tuple[str, ...]]:
    out = {k: rd.LAYOUT_NAMES[k] for k in keys if k in rd.LAYOUT_NAMES}
    missing = [k for k in keys if k not in out]
    if missing:
        for key, names in session.execute(select(TelemetryJointLayout.key,
                                                 TelemetryJointLayout.names)
                                          .where(TelemetryJointLayout.key.in_(missing))):
            out[bytes(key)] = rd.LAYOUT_NAMES[bytes(key)] = tuple(orjson.loads(names))
    return out


def _decode_rows(session: Session, rows: list[Any]) -> list[dict[str, Any]]:
    """Stored reading rows → ``{at: datetime, battery_soh, ..., joint_wear: dict}``."""
    keys = {bytes(r.joint_wear[:rd.LAYOUT_KEY_BYTES]) for r in rows if r.joint_wear}
    names = _layout_names(session, keys) if keys else {}
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


_CHUNK_COLUMNS = "sid, at, last_at, n, data"


def _insert_chunks(session: Session, batch: rd.Batch, snaps: dict[str, dict[str, Any]],
                   spans: dict[str, int]) -> int:
    """Store the batch as chunks (one per unit and clock hour, ``telemetry.chunks``), each
    reading once: a repeat of a time in the batch or of a stored reading is dropped (the first
    one sent wins). Returns how many readings were new, and sets ``spans[code]`` to the longest
    time span of the unit's new chunks. A reading newer than everything stored for its unit
    (the snapshot's ``at``) cannot be stored already: only late readings look at stored
    chunks, and only at those that can hold their times (:func:`_not_stored`)."""
    ats = batch.ats
    columns = (ats, batch.soh, batch.cycles, batch.acc, batch.hours, batch.max_wear,
               batch.wear, batch.fault_text, batch.firmware)
    rows: list[tuple[int, int, int, int, bytes]] = []
    stored = 0
    for code, positions in _positions_by_code(batch.codes).items():  # type: ignore[arg-type]
        snap = snaps[code]
        sid, newest = snap["sid"], snap["at"]
        span = -1
        for part in chunks.split_by_hour(positions, ats):
            part = chunks.first_of_each_time(part, ats)
            if newest is not None and ats[part[0]] <= newest:
                part = _not_stored(session, sid, part, ats, snap["chunk_span"])
                if not part:
                    continue
            first, last = ats[part[0]], ats[part[-1]]
            rows.append((sid, first, last, len(part), chunks.encode(columns, part)))
            stored += len(part)
            span = max(span, last - first)
        if span >= 0:
            spans[code] = span
    if not rows:
        return 0
    dbapi = session.connection().connection.driver_connection
    cur = dbapi.cursor()  # type: ignore[union-attr]
    if dialect_name(session) == "postgresql":
        with cur.copy(f"COPY telemetry_chunks ({_CHUNK_COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        cur.executemany(f"INSERT INTO telemetry_chunks ({_CHUNK_COLUMNS}) "
                        "VALUES (?, ?, ?, ?, ?)", rows)
    return stored


def _not_stored(session: Session, sid: int, part: list[int], ats: Any,
                chunk_span: int | None) -> list[int]:
    """The positions of ``part`` (one unit, one clock hour, time order) whose time is not
    stored yet. A stored reading at ``t`` is in a chunk with ``at <= t <= last_at`` and ``at >=
    t - chunk_span`` (the unit's longest chunk), so only those chunks are read: a late live
    reading looks at a handful, not at the whole hour."""
    lo, hi = ats[part[0]], ats[part[-1]]
    hour = chunks.hour_of(lo)
    floor = hour if chunk_span is None else max(hour, lo - chunk_span)
    have: set[int] = set()
    for (data,) in _query(session, "SELECT data FROM telemetry_chunks WHERE sid = ? "
                                   "AND at >= ? AND at <= ? AND last_at >= ?",
                          [sid, floor, hi, lo]):
        have.update(chunks.times(bytes(data)))
    return [i for i in part if ats[i] not in have] if have else part


def _decode(snap: dict[str, Any]) -> dict[str, Any]:
    """Snapshot row → latest metrics as API values."""
    out: dict[str, Any] = {}
    for name in ("battery_soh", "cycle_count", "accuracy", "operating_hours", "firmware"):
        if snap.get(name) is not None:
            out[name] = snap[name]
    if snap.get("joint_wear"):
        out["joint_wear"] = orjson.loads(snap["joint_wear"])
    if snap.get("fault_codes") is not None:
        out["fault_codes"] = orjson.loads(snap["fault_codes"])
    return out


def _positions_by_code(codes: list[str]) -> dict[str, list[int]]:
    """Positions of each unit's readings (C-level runs: a batch usually comes unit by unit)."""
    out: dict[str, list[int]] = {}
    for code, run in groupby(range(len(codes)), codes.__getitem__):
        have = out.get(code)
        if have is None:
            out[code] = list(run)
        else:
            have.extend(run)
    return out


def _update_snapshots(session: Session, batch: rd.Batch, snaps: dict[str, dict[str, Any]],
                      facts: dict[str, tuple[Any, ...]], *, notify: bool,
                      spans: dict[str, int]) -> None:
    """Fold each unit's readings into its snapshot. Per unit, C builtins find the newest and
    oldest reading; only a unit whose newest reading lacks a metric, or whose readings start
    a new day of the trend, looks at its readings one by one."""
    updates: list[tuple[Any, ...]] = []
    with_trend: list[tuple[Any, ...]] = []
    alerting: dict[str, tuple[dict[str, Any], dict[tuple[str, str], tuple[str, float | None]]]]
    alerting = {}
    ats = batch.ats
    at_of = ats.__getitem__
    cols = (batch.soh, batch.cycles, batch.acc, batch.hours, batch.max_wear, batch.wears,
            batch.fault_text, batch.firmware)
    soh, max_wear = batch.soh, batch.max_wear
    groups = _positions_by_code(batch.codes)  # type: ignore[arg-type]
    # the newest of each unit; among equal ``at`` the first sent (the one stored)
    tops = {code: max(pos, key=at_of) for code, pos in groups.items()}
    trends = _trends(session, [snaps[c]["sid"] for c, top in tops.items()
                               if snaps[c]["trend_day"] is not None
                               and ats[top] // DAY_MS > snaps[c]["trend_day"]])
    for code, pos in groups.items():
        snap = snaps[code]
        old_at = snap["at"]
        new: dict[str, Any] = {}
        top = tops[code]
        top_at = ats[top]
        min_at = ats[min(pos, key=at_of)]
        wear_dict = None
        if old_at is None or top_at > old_at:
            values = [col[top] for col in cols]
            if None in values:  # fold: the newest non-null value of each metric
                newer = pos if old_at is None else [i for i in pos if ats[i] > old_at]
                newer.sort(key=lambda i: (-ats[i], i))
                missing = list(range(len(cols)))
                prev = None
                for i in newer:
                    if ats[i] == prev:
                        continue
                    prev = ats[i]
                    for k in missing[:]:
                        v = cols[k][i]
                        if v is not None:
                            new[SNAP_COLUMNS[k]] = v
                            missing.remove(k)
                    if not missing:
                        break
            else:
                new = dict(zip(SNAP_COLUMNS, values, strict=True))
            if "joint_wear" in new:
                wear_dict = new["joint_wear"]
                new["joint_wear"] = orjson.dumps(wear_dict).decode()
            new["at"] = top_at
        # trend: the first reading of each new day with SoH or wear (no JSON work otherwise)
        last_day = snap.get("trend_day")
        if last_day is None or top_at // DAY_MS > last_day:
            days: dict[int, tuple[int, float | None, float | None]] = {}
            for i in pos:
                if soh[i] is None and max_wear[i] is None:
                    continue
                at = ats[i]
                day = at // DAY_MS
                if last_day is not None and day <= last_day:
                    continue
                cur = days.get(day)
                if cur is None or at < cur[0]:
                    days[day] = (at, soh[i], max_wear[i])
            if days:
                text = trends.get(snap["sid"])
                points = orjson.loads(text) if text else []
                points = rules.merge_trend(points, days)
                new["trend"] = orjson.dumps(points).decode()
                new["trend_day"] = points[-1][0]
        hour_start = min_at - min_at % HOUR_MS
        if snap.get("dirty_from") is None or hour_start < snap["dirty_from"]:
            new["dirty_from"] = hour_start
        if snap.get("first_at") is None or min_at < snap["first_at"]:
            new["first_at"] = min_at
        span = spans.get(code)
        if span is not None and (snap.get("chunk_span") is None or span > snap["chunk_span"]):
            new["chunk_span"] = span
        if not new:
            continue
        snap.update(new)
        if "at" in new:
            if _breaks_nothing(snap):
                wanted, keys = {}, "[]"
            else:
                wanted = rules.evaluate(_latest_for_rules(snap, wear_dict))
                keys = orjson.dumps(sorted(f"{r}|{k}" for r, k in wanted)).decode()
            if keys != snap["alert_keys"]:
                alerting[code] = (snap, wanted)
                snap["alert_keys"] = keys
        if "trend" in new:
            with_trend.append(_snap_row_trend(snap))
        else:
            updates.append(_snap_row(snap))
    if updates or with_trend:
        _write_snapshots(session, updates, with_trend)
    if alerting:
        _apply_alerts(session, alerting, facts, notify=notify)


def _trends(session: Session, sids: list[int]) -> dict[int, str]:
    """The stored trend text of the snapshots that get a new day's point (few per batch)."""
    out: dict[int, str] = {}
    for start in range(0, len(sids), 900):
        part = sids[start:start + 900]
        out.update(_query(session, "SELECT sid, trend FROM telemetry_units WHERE sid IN "  # type: ignore[arg-type]
                                   f"({', '.join('?' * len(part))})", part))
    return out


def _breaks_nothing(snap: dict[str, Any]) -> bool:
    """The common case, decided without :func:`rules.evaluate`: no latest value breaks a rule
    (``max_joint_wear`` is the largest joint of the same reading as ``joint_wear``)."""
    soh, acc, wear = snap["battery_soh"], snap["accuracy"], snap["max_joint_wear"]
    return ((soh is None or soh >= rules.BATTERY_SOH_MIN)
            and (acc is None or acc >= rules.ACCURACY_MIN)
            and (wear is None or wear <= rules.JOINT_WEAR_MAX)
            and snap["fault_codes"] in (None, "[]"))


def _latest_for_rules(snap: dict[str, Any], wear: dict[str, float] | None) -> dict[str, Any]:
    """The latest values the rules read; joint wear is only decoded when it can matter."""
    if wear is None and snap.get("joint_wear") and (snap.get("max_joint_wear") or 0) \
            > rules.JOINT_WEAR_MAX:
        wear = orjson.loads(snap["joint_wear"])
    faults = snap.get("fault_codes")
    return {"battery_soh": snap.get("battery_soh"), "accuracy": snap.get("accuracy"),
            "joint_wear": wear,
            "fault_codes": orjson.loads(faults) if faults and faults != "[]" else None}


def _update_sql(columns: tuple[str, ...], mark: str) -> str:
    return ("UPDATE telemetry_units SET " + ", ".join(f"{c} = {mark}" for c in columns)
            + f" WHERE sid = {mark}")


_UPDATE_SQL = {(dialect, trend): _update_sql(_SNAP_WRITE + (("trend",) if trend else ()), mark)
               for dialect, mark in (("sqlite", "?"), ("postgresql", "%s"))
               for trend in (False, True)}


def _write_snapshots(session: Session, updates: list[tuple[Any, ...]],
                     with_trend: list[tuple[Any, ...]]) -> None:
    """Driver-level executemany: SQLAlchemy's per-row parameter processing would cost more
    than the update itself at one update per unit per batch. ``trend`` is written only by
    the snapshots that got a new day's point."""
    dbapi = session.connection().connection.driver_connection
    cur = dbapi.cursor()  # type: ignore[union-attr]
    dialect = dialect_name(session)
    if updates:
        cur.executemany(_UPDATE_SQL[dialect, False], updates)
    if with_trend:
        cur.executemany(_UPDATE_SQL[dialect, True], with_trend)


def _apply_alerts(session: Session,
                  changed: dict[str, tuple[dict[str, Any],
                                           dict[tuple[str, str], tuple[str, float | None]]]],
                  facts: dict[str, tuple[Any, ...]], *, notify: bool) -> None:
    """Open alerts the latest values break, close those they no longer break (only for units
    whose set of broken rules changed)."""
    codes = list(changed)
    open_now: dict[str, dict[tuple[str, str], str]] = {}
    for start in range(0, len(codes), 900):
        for aid, code, rule, key in session.execute(
                select(TelemetryAlert.id, TelemetryAlert.code, TelemetryAlert.rule,
                       TelemetryAlert.key)
                .where(TelemetryAlert.code.in_(codes[start:start + 900]),
                       TelemetryAlert.closed_at.is_(None))):
            open_now.setdefault(code, {})[(rule, key)] = aid
    opened: list[dict[str, Any]] = []
    closing: list[dict[str, Any]] = []
    for code, (snap, wanted) in changed.items():
        current = open_now.get(code, {})
        at = ms_to_dt(snap["at"])
        for (rule, key), (message, value) in wanted.items():
            if (rule, key) not in current:
                opened.append({"id": new_id("alr"), "code": code, "rule": rule, "key": key,
                               "message": message, "value": value, "since": at,
                               "closed_at": None})
        for (rule, key), aid in current.items():
            if (rule, key) not in wanted:
                closing.append({"b_id": aid, "closed_at": at})
    if opened:
        session.execute(insert(TelemetryAlert), opened)
    if closing:
        table: Table = TelemetryAlert.__table__  # type: ignore[assignment]
        session.execute(update(table).where(table.c.id == bindparam("b_id")), closing)
    if opened and notify:
        _notify(session, opened, facts)


def _notify(session: Session, opened: list[dict[str, Any]],
            facts: dict[str, tuple[Any, ...]]) -> None:
    """Tell the unit's operator and owner through the notification outbox (same transaction)."""
    try:
        from robopass.notifications import service as notifications
    except ImportError:  # the notifications domain is optional in a trimmed build
        log.warning("notifications unavailable; %d health alerts not notified", len(opened))
        return
    for alert in opened:
        fact = facts[alert["code"]]
        notifications.notify(
            session, organization_ids=[fact[2], fact[1]], topic="health_alert",
            payload={"code": alert["code"], "rule": alert["rule"], "key": alert["key"],
                     "message": alert["message"], "since": rfc3339(alert["since"])})


# --------------------------------------------------------------------------- reads

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
    return {"code": code, "at": rfc3339_ms(snap["at"]), "metrics": _decode(snap),
            "trend": rules.trend(points, rfc3339_ms), "alerts": open_alerts(session, code)}


def latest_battery_soh(session: Session, code: str) -> float | None:
    """For the public page's battery band (never the exact value in public)."""
    value = session.scalar(select(Snap.battery_soh).where(Snap.code == code))
    return None if value is None else float(value)


def _sid(session: Session, code: str) -> int | None:
    return session.scalar(select(Snap.sid).where(Snap.code == code))


def raw_readings(session: Session, *, sid: int, start_ms: int, end_ms: int,
                 limit: int | None = None) -> list[chunks.Raw]:
    """Stored readings of one unit with ``start_ms <= at < end_ms``, oldest first; with
    ``limit``, the first ``limit`` of them. Reads the chunks whose earliest reading lies in
    ``[hour of start, end)`` in key order, an hour at a time (chunks of one hour may overlap
    in time: each hour is sorted before it is used)."""
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
    return _decode_rows(session, rows)


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
        for r, d in zip(rows, _decode_rows(session, rows), strict=True):
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
    query = (select(TelemetryChunk.at, TelemetryChunk.last_at, TelemetryChunk.data)
             .where(TelemetryChunk.sid == sid,
                    TelemetryChunk.at >= chunks.hour_of(start_ms),
                    TelemetryChunk.at < end_ms))
    for first, last, data in session.execute(query.execution_options(yield_per=500)):
        cols = chunks.decode_columns(bytes(data))
        if first < start_ms or last >= end_ms:  # the chunk straddles a bound of the range
            keep = [k for k, at in enumerate(cols[0]) if start_ms <= at < end_ms]
            if not keep:
                continue
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
    return out


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
