"""Health snapshots and alerts, kept in event time as readings are stored (SPEC §7).

* "latest" is the latest *measured* reading: a unit's metrics change only with a reading newer
  than the snapshot's ``at`` (one set-based statement per batch, guarded by ``at < new at``);
  a metric a newer reading lacks keeps its last value (``COALESCE``).
* the trend (the first reading of each of the last days) takes late readings too: a reading
  earlier than its day's point, or of a day missing from the trend, is merged in.
* an alert opens when the latest values break a rule and closes when they no longer do; its
  ``since`` is the first reading of the unbroken run of readings that break the rule up to
  the latest one (a reading without the metric neither breaks nor mends it). A late reading
  re-evaluates the open alerts of its unit: it can move ``since`` earlier (it breaks the rule
  just before the run) or later (it does not break it, inside the run).

Work per unit is only done where something can change: on the live shape (one reading
newer than the snapshot, no rule broken, same day) a unit costs one parameter row.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from robopass.db import dialect_name
from robopass.ids import new_id
from robopass.telemetry import chunks, rules
from robopass.telemetry import readings as rd
from robopass.telemetry.models import TelemetryAlert
from robopass.timeutil import rfc3339

log = logging.getLogger(__name__)

DAY_MS = rules.DAY_MS
HOUR_MS = 3_600_000
SNAP_COLUMNS = ("battery_soh", "cycle_count", "accuracy", "operating_hours", "max_joint_wear",
                "joint_wear", "fault_codes", "firmware")
#: What ingest loads of a snapshot (not the metrics: see :func:`_full_latest`).
STATE = ("sid", "code", "at", "trend_day", "trend_last_at", "alert_keys", "dirty_from",
         "first_at", "chunk_span")
_EXTRA = ("trend_day", "trend_last_at", "alert_keys", "dirty_from", "first_at")


def ms_to_dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def query(session: Session, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """A driver-level query (``?`` placeholders): on the per-batch path SQLAlchemy's row
    processing costs more than the query."""
    cur = cursor(session)
    if dialect_name(session) == "postgresql":
        sql = sql.replace("?", "%s")
    cur.execute(sql, params)
    return list(cur.fetchall())


def cursor(session: Session) -> Any:
    return session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]


def pg_array(values: Sequence[Any]) -> Any:
    """A PostgreSQL array parameter: integers, or alphanumeric text (identity codes), as one
    array literal built in C (psycopg dumps a list element by element in Python: ~3 µs
    each); anything else as the list."""
    if all(type(v) is int for v in values):
        return "{" + ",".join(map(str, values)) + "}"
    if all(type(v) is str and v.isalnum() for v in values):
        return "{" + ",".join(values) + "}"
    return list(values)


def lock_rows(cur: Any, table: str, columns: Sequence[str],
              sids: Sequence[int]) -> list[tuple[Any, ...]]:
    """PostgreSQL: ``columns`` of ``table``'s rows ``sids``, locked in sid order, through the
    driver cursor ``cur``.

    A statement that waits for a row another transaction then updates rechecks that row
    against its own, older snapshot (EvalPlanQual) — for a 10,000-unit batch waiting on
    another 10,000-unit batch, every row, and the recheck of ``sid = ANY(array)`` scans the
    array again (10,000² comparisons: 1–2.5 s per batch, measured) and of a join with
    ``unnest`` is not cheap either. So the lowest sid is locked first, in a statement of its
    own: a batch holding the same units is waited for there, and the statement that locks
    the rest starts after it committed and finds its rows free. The order stays ascending, so
    batches cannot deadlock; units of disjoint batches pay one more short statement."""
    ordered = sorted(sids)
    if not ordered:
        return []
    cur.execute(f"SELECT 1 FROM {table} WHERE sid = %s FOR UPDATE", (ordered[0],))
    cur.execute(f"SELECT {', '.join(f't.{c}' for c in columns)} FROM unnest(%s::int[]) AS "
                f"n(sid) JOIN {table} t ON t.sid = n.sid ORDER BY t.sid FOR UPDATE OF t",
                (pg_array(ordered),))
    return list(cur.fetchall())


def locked(session: Session, table: str, columns: Sequence[str],
           sids: Sequence[int]) -> list[tuple[Any, ...]]:
    """:func:`lock_rows` in ``session`` (PostgreSQL)."""
    return lock_rows(cursor(session), table, columns, sids)


def _in(session: Session, sql: str, keys: Sequence[Any]) -> list[tuple[Any, ...]]:
    """``sql`` with ``{}`` for an IN list, run over ``keys`` 900 at a time (on PostgreSQL one
    statement, ``= ANY`` of an array)."""
    if dialect_name(session) == "postgresql":
        kind = "bigint[]" if all(type(k) is int for k in keys) else "text[]"
        return query(session, sql.replace(" IN ({})", f" = ANY(?::{kind})"),
                     [pg_array(keys)])
    out: list[tuple[Any, ...]] = []
    for start in range(0, len(keys), 900):
        part = keys[start:start + 900]
        out.extend(query(session, sql.format(", ".join("?" * len(part))), part))
    return out


# --------------------------------------------------------------------- rule checks per reading

def breaks(rule: str, key: str, soh: float | None, acc: float | None,
           max_wear: float | None, faults: list[str] | None) -> bool | None:
    """Whether one reading breaks ``(rule, key)``; None when it lacks the metric."""
    if rule == "battery_soh_low":
        return None if soh is None else soh < rules.BATTERY_SOH_MIN
    if rule == "accuracy_low":
        return None if acc is None else acc < rules.ACCURACY_MIN
    if rule == "joint_wear_high":
        return None if max_wear is None else max_wear > rules.JOINT_WEAR_MAX
    return None if faults is None else key in faults


def run_start(rule: str, key: str, readings: Sequence[tuple[int, Any, Any, Any, Any]]
              ) -> int | None:
    """The time of the first reading of the unbroken run that breaks ``(rule, key)`` and
    ends with the last of ``readings`` (``(at, soh, acc, max_wear, faults)``, time order)."""
    start = None
    for at, soh, acc, wear, faults in reversed(readings):
        hit = breaks(rule, key, soh, acc, wear, faults)
        if hit is None:
            continue
        if not hit:
            break
        start = at
    return start


# --------------------------------------------------------------------------- the update

@dataclass(slots=True)
class Plan:
    """What :func:`update` is to write, computed from the readings and the snapshots' state
    alone (:func:`plan`: no database)."""

    #: ``(at, *metrics, sid, at)`` of the units with a reading newer than their snapshot
    metric_rows: list[tuple[Any, ...]]
    #: units whose ``dirty_from`` or ``first_at`` moved (code → its updated state)
    extra: dict[str, dict[str, Any]]
    #: per unit, the readings that may change its trend: day → (at, soh, max_wear)
    trend_days: dict[str, dict[int, tuple[int, float | None, float | None]]]
    #: units whose alerts must be evaluated: their fresh positions
    check: dict[str, list[int]]
    #: unit → positions of its late readings
    late_units: dict[str, list[int]]


def update(session: Session, batch: rd.Batch, snaps: dict[str, dict[str, Any]],
           stored: dict[str, list[int]], facts: dict[str, tuple[Any, ...]], *,
           notify: bool, folded: Collection[int] = ()) -> None:
    """Fold the stored readings (``stored``: unit → positions, time order) into the units'
    snapshots, trends and alerts. ``folded``: ids of staged rows whose chunks this
    transaction has written (a fold's), not read again from staging."""
    p = plan(batch, snaps, stored)
    extra = p.extra
    if p.metric_rows:
        _write_metrics(session, p.metric_rows)
    trends = _merge_trends(session, snaps, p.trend_days) if p.trend_days else {}
    for code in trends:
        extra[code] = snaps[code]
    if p.check:
        _alerts(session, batch, snaps, p.check, facts, notify=notify, extra=extra)
    if p.late_units:
        _late_alerts(session, batch, snaps, p.late_units, folded)
    if extra:
        _write_extra(session, extra, trends)


def plan(batch: rd.Batch, snaps: dict[str, dict[str, Any]],
         stored: dict[str, list[int]]) -> Plan:
    """The first, database-free part of :func:`update`: moves ``snaps`` (``at``,
    ``dirty_from``, ``first_at``) and says what to write and what to evaluate."""
    ats, soh, max_wear = batch.ats, batch.soh, batch.max_wear
    cols = (batch.soh, batch.cycles, batch.acc, batch.hours, batch.max_wear, batch.wears,
            batch.fault_text, batch.firmware)
    out = Plan([], {}, {}, {}, {})
    trend_days = out.trend_days
    for code, pos in stored.items():
        snap = snaps[code]
        old_at = snap["at"]
        changed: dict[str, Any] = {}
        if old_at is None or ats[pos[-1]] > old_at:
            fresh = pos if old_at is None or ats[pos[0]] > old_at else \
                [i for i in pos if ats[i] > old_at]
            top = fresh[-1]
            values = [col[top] for col in cols]
            if None in values and len(fresh) > 1:
                values = _newest_non_null(cols, fresh)
            out.metric_rows.append((ats[top], *values[:5], _wear_text(values[5]),
                                    *values[6:], snap["sid"], ats[top]))
            snap["at"] = ats[top]
            if not _same_alerts(snap["alert_keys"], values):
                out.check[code] = fresh
            if len(fresh) != len(pos):
                out.late_units[code] = [i for i in pos if ats[i] <= old_at]
        else:
            out.late_units[code] = pos
        # trend: only readings that can change it (a new day, or earlier than a day's point)
        td, tla = snap["trend_day"], snap["trend_last_at"]
        if tla is not None and ats[pos[0]] >= tla and \
                ats[pos[0]] // DAY_MS == td == ats[pos[-1]] // DAY_MS:
            pos_trend: Sequence[int] = ()  # all in the trend's last day, after its point
        else:
            pos_trend = pos
        for i in pos_trend:
            if soh[i] is None and max_wear[i] is None:
                continue
            day = ats[i] // DAY_MS
            if td is None or day > td or (day == td and (tla is None or ats[i] < tla)) \
                    or td - rules.TREND_DAYS < day < td:
                days = trend_days.setdefault(code, {})
                cur = days.get(day)
                if cur is None or ats[i] < cur[0]:
                    days[day] = (ats[i], soh[i], max_wear[i])
        first = ats[pos[0]]
        hour_start = first - first % HOUR_MS
        if snap["dirty_from"] is None or hour_start < snap["dirty_from"]:
            changed["dirty_from"] = hour_start
        if snap["first_at"] is None or first < snap["first_at"]:
            changed["first_at"] = first
        if changed:
            snap.update(changed)
            out.extra[code] = snap
    return out


def _wear_text(wear: dict[str, float] | str | None) -> str | None:
    """A reading's joint wear as the snapshot stores it (JSON text): a staged batch's column
    gives the text already (:func:`staged_batch`), a decoded one the dict."""
    return wear if wear is None or type(wear) is str else orjson.dumps(wear).decode()


def _same_alerts(keys: str | None, values: list[Any]) -> bool:
    """Whether the newest values break exactly the rules already broken (``keys``), so the
    open alerts stay as they are: nothing broken before or now (the live common case), or
    the same rules broken as before."""
    if keys == "[]" and _fine(values):
        return True
    return None not in (values[0], values[2], values[4], values[6]) and keys == orjson.dumps(
        rules.broken_keys(values[0], values[2], values[4], orjson.loads(values[6]))).decode()


_PG_TYPES = ("bigint", "float8", "bigint", "float8", "float8", "float8", "text", "text",
             "text", "int", "bigint")
#: PostgreSQL: snapshot rows per ``UPDATE`` of :func:`_write_metrics`. A fold of 10,000 units
#: sent one document of ~2.5 MB, held three times at once (orjson's bytes, the text, the
#: driver's encoded copy), and libpq grew the connection's output buffer to fit it.
PG_METRIC_ROWS = 2000


def _write_metrics(session: Session, rows: list[tuple[Any, ...]]) -> None:
    """``(at, *metrics, sid, at)`` rows; a metric the newer reading lacks keeps its value, and
    only a newer measurement moves the snapshot. SQLite: one ``executemany`` (in process, no
    round trips); PostgreSQL: one ``UPDATE … FROM json_array_elements`` per
    :data:`PG_METRIC_ROWS` rows (an ``executemany`` would be a round trip per unit)."""
    cur = cursor(session)
    if dialect_name(session) != "postgresql":
        cur.executemany("UPDATE telemetry_units SET at = ?, "
                        + ", ".join(f"{c} = COALESCE(?, {c})" for c in SNAP_COLUMNS)
                        + " WHERE sid = ? AND (at IS NULL OR at < ?)", rows)
        return
    names = ("at", *SNAP_COLUMNS, "sid")
    # one JSON document (orjson, in C) that PostgreSQL splits into rows: psycopg would dump
    # arrays of text (the joint wear JSON) element by element in Python
    fields = ", ".join(f"(e->>{k})::{t} AS {name}"
                       for k, (name, t) in enumerate(zip(names, _PG_TYPES, strict=False)))
    sql = ("UPDATE telemetry_units u SET at = n.at, "
           + ", ".join(f"{c} = COALESCE(n.{c}, u.{c})" for c in SNAP_COLUMNS)
           + f" FROM (SELECT {fields} FROM json_array_elements(%s::json) AS e) AS n "
           "WHERE u.sid = n.sid AND (u.at IS NULL OR u.at < n.at)")
    for start in range(0, len(rows), PG_METRIC_ROWS):  # a few statements, no large message
        part = rows[start:start + PG_METRIC_ROWS]
        cur.execute(sql, (orjson.dumps([row[:len(names)] for row in part]).decode(),))


def _newest_non_null(cols: Sequence[Sequence[Any]], fresh: list[int]) -> list[Any]:
    """Per metric, the newest value among ``fresh`` (time order) that is not null."""
    values: list[Any] = [None] * len(cols)
    missing = list(range(len(cols)))
    for i in reversed(fresh):
        for k in missing[:]:
            if cols[k][i] is not None:
                values[k] = cols[k][i]
                missing.remove(k)
        if not missing:
            break
    return values


def _fine(values: list[Any]) -> bool:
    """No present value breaks a rule (``values`` in :data:`SNAP_COLUMNS` order, with the
    joint wear dict)."""
    soh, acc, wear, faults = values[0], values[2], values[4], values[6]
    return ((soh is None or soh >= rules.BATTERY_SOH_MIN)
            and (acc is None or acc >= rules.ACCURACY_MIN)
            and (wear is None or wear <= rules.JOINT_WEAR_MAX)
            and faults in (None, "[]"))


def _merge_trends(session: Session, snaps: dict[str, dict[str, Any]],
                  trend_days: dict[str, dict[int, tuple[int, float | None, float | None]]],
                  seen: dict[str, str | None] | None = None) -> dict[str, str]:
    """Merge new day points into the stored trends; code → new trend text (changed only).
    ``seen``: gets code → the stored trend text it merged into."""
    sids = {snaps[c]["sid"]: c for c in trend_days}
    stored = dict(_in(session, "SELECT sid, trend FROM telemetry_units WHERE sid IN ({})",
                      list(sids)))
    out: dict[str, str] = {}
    for sid, code in sids.items():
        text = stored.get(sid)
        if seen is not None:
            seen[code] = text
        points = orjson.loads(text) if text else []
        merged = rules.merge_trend(points, trend_days[code])
        snap = snaps[code]
        if merged:
            snap["trend_day"], snap["trend_last_at"] = merged[-1][0], merged[-1][1]
        if merged != points:
            out[code] = orjson.dumps(merged).decode()
    return out


def _write_extra(session: Session, extra: dict[str, dict[str, Any]],
                 trends: dict[str, str]) -> None:
    sql = ("UPDATE telemetry_units SET trend = COALESCE(?, trend), "
           + ", ".join(f"{c} = ?" for c in _EXTRA) + " WHERE sid = ?")
    if dialect_name(session) == "postgresql":
        sql = sql.replace("?", "%s")
    rows = [(trends.get(code), *[snap[c] for c in _EXTRA], snap["sid"])
            for code, snap in extra.items()]
    cursor(session).executemany(sql, rows)


def _full_latest(session: Session, codes: list[str]) -> dict[str, dict[str, Any]]:
    """The snapshots' latest metrics (after this batch's update), as the rules read them."""
    out: dict[str, dict[str, Any]] = {}
    for row in _in(session, "SELECT code, battery_soh, accuracy, joint_wear, fault_codes "
                            "FROM telemetry_units WHERE code IN ({})", codes):
        out[row[0]] = {"battery_soh": row[1], "accuracy": row[2],
                       "joint_wear": orjson.loads(row[3]) if row[3] else None,
                       "fault_codes": orjson.loads(row[4]) if row[4] else None}
    return out


#: Units whose latest metrics :func:`_alerts` reads and evaluates at a time. A new fleet's first
#: fold checks every unit: 10,000 units' metrics with their joint wear as dicts were ~8 MB held
#: at once, on top of the fold's readings.
ALERT_UNITS = 1000


def _alerts(session: Session, batch: rd.Batch, snaps: dict[str, dict[str, Any]],
            check: dict[str, list[int]], facts: dict[str, tuple[Any, ...]], *,
            notify: bool, extra: dict[str, dict[str, Any]]) -> None:
    """Open the alerts the latest values break (``since``: the first reading of the run that
    breaks it) and close those they no longer break, for the units in ``check``."""
    changed: dict[str, dict[tuple[str, str], tuple[str, float | None]]] = {}
    codes = list(check)
    for start in range(0, len(codes), ALERT_UNITS):
        part = codes[start:start + ALERT_UNITS]
        latest = _full_latest(session, part)
        for code in part:
            wanted = rules.evaluate(latest[code])
            keys = orjson.dumps(sorted(f"{r}|{k}" for r, k in wanted)).decode()
            snap = snaps[code]
            if keys != snap["alert_keys"]:
                changed[code] = wanted
                snap["alert_keys"] = keys
                extra[code] = snap
    if not changed:
        return
    open_now: dict[str, dict[tuple[str, str], str]] = {}
    table: Table = TelemetryAlert.__table__  # type: ignore[assignment]
    for start in range(0, len(changed), 900):
        for aid, code, rule, key in session.execute(
                select(table.c.id, table.c.code, table.c.rule, table.c.key)
                .where(table.c.code.in_(list(changed)[start:start + 900]),
                       table.c.closed_at.is_(None))):
            open_now.setdefault(code, {})[(rule, key)] = aid
    ats = batch.ats
    opened: list[dict[str, Any]] = []
    closing: list[dict[str, Any]] = []
    for code, wanted in changed.items():
        current = open_now.get(code, {})
        at = snaps[code]["at"]
        fresh = [(ats[i], batch.soh[i], batch.acc[i], batch.max_wear[i], batch.faults[i])
                 for i in check[code]]
        for (rule, key), (message, value) in wanted.items():
            if (rule, key) not in current:
                since = run_start(rule, key, fresh) or at
                opened.append({"id": new_id("alr"), "code": code, "rule": rule, "key": key,
                               "message": message, "value": value, "since": ms_to_dt(since),
                               "closed_at": None})
        for (rule, key), aid in current.items():
            if (rule, key) not in wanted:
                closing.append({"b_id": aid, "closed_at": ms_to_dt(at)})
    if opened:
        session.execute(insert(TelemetryAlert), opened)
    if closing:
        session.execute(sql_update(table).where(table.c.id == bindparam("b_id")), closing)
    if opened and notify:
        _notify(session, opened, facts)


def _late_alerts(session: Session, batch: rd.Batch, snaps: dict[str, dict[str, Any]],
                 late: dict[str, list[int]], folded: Collection[int] = ()) -> None:
    """Late readings re-evaluate their units' open alerts. ``since`` is the first reading of
    the run that breaks the rule up to the latest reading, so a late reading can only move it
    earlier (it breaks the rule, before ``since``: the run is re-read back from it) or later
    (it does not break it, after ``since``: the run is re-read from it on). Other late
    readings change nothing and read nothing."""
    codes = [c for c in late if snaps[c]["alert_keys"] not in (None, "[]")]
    if not codes:
        return
    from robopass.telemetry import series, staging  # reads: chunks and staged readings

    table: Table = TelemetryAlert.__table__  # type: ignore[assignment]
    work: list[tuple[str, str, str, str, int, int, int]] = []  # code, id, rule, key, since, lo, hi
    for start in range(0, len(codes), 900):
        for code, aid, rule, key, since_dt in session.execute(
                select(table.c.code, table.c.id, table.c.rule, table.c.key, table.c.since)
                .where(table.c.code.in_(codes[start:start + 900]),
                       table.c.closed_at.is_(None))):
            since = series.dt_to_ms(since_dt)
            earlier = later = None
            for i in late[code]:
                hit = breaks(rule, key, batch.soh[i], batch.acc[i], batch.max_wear[i],
                             batch.faults[i])
                at = batch.ats[i]
                if hit and at < since:
                    earlier = at if earlier is None else min(earlier, at)
                elif hit is False and at > since:
                    later = at if later is None else max(later, at)
            if later is not None:  # the run now starts after the latest such reading
                work.append((code, aid, rule, key, since, later, snaps[code]["at"] + 1))
            elif earlier is not None:  # the run may reach back to it
                work.append((code, aid, rule, key, since, earlier, since + 1))
    if not work:
        return
    # only rows that can hold readings in the ranges read below, and not a fold's own rows
    # (in chunks already: written first, same transaction): unpacking every staged row cost
    # 70-110 ms a fold on the live shape, for one or two units
    staged = staging.readings_of(session.connection(), {snaps[w[0]]["sid"] for w in work},
                                 start_ms=min(w[5] for w in work),
                                 end_ms=max(w[6] for w in work), skip=set(folded))
    moved: list[dict[str, Any]] = []
    for code, aid, rule, key, since, lo, hi in work:
        sid = snaps[code]["sid"]
        raws = series.raw_readings(session, sid=sid, start_ms=lo, end_ms=hi,
                                   staged=staged.get(sid, []))
        points = [(r.at, r.battery_soh, r.accuracy, r.max_joint_wear,
                   orjson.loads(r.fault_codes) if r.fault_codes else None) for r in raws]
        first = run_start(rule, key, points)
        if first is not None and first != since:
            moved.append({"b_id": aid, "since": ms_to_dt(first)})
    if moved:
        session.execute(sql_update(table).where(table.c.id == bindparam("b_id")), moved)


class _Lazy(Sequence[Any]):
    """A column decoded only where it is read (the fold reads a few positions of it)."""

    def __init__(self, raw: Sequence[Any], decode: Any) -> None:
        self._raw, self._decode = raw, decode

    def __len__(self) -> int:
        return len(self._raw)

    def __getitem__(self, i: Any) -> Any:
        value = self._raw[i]
        return None if value is None else self._decode(value)


class _Facts(dict[str, tuple[Any, ...]]):
    """code → (status, owner_id, operator_id), read when an alert opens (to notify)."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self._session = session

    def __missing__(self, code: str) -> tuple[Any, ...]:
        row = query(self._session, "SELECT status, owner_id, operator_id FROM units "
                                   "WHERE code = ?", [code])[0]
        self[code] = row
        return row


def staged_state(session: Session, sids: list[int], *, lock: bool = True
                 ) -> tuple[dict[str, dict[str, Any]], dict[int, str]]:
    """The snapshots' :data:`STATE` of the units ``sids`` (sorted) by code, and code by sid;
    ``lock``: on PostgreSQL, row locks in sid order."""
    if lock and dialect_name(session) == "postgresql":
        rows = locked(session, "telemetry_units", STATE, sids)
    else:
        rows = _in(session, f"SELECT {', '.join(STATE)} FROM telemetry_units "
                            "WHERE sid IN ({})", sids)
    snaps: dict[str, dict[str, Any]] = {}
    code_of: dict[int, str] = {}
    for row in rows:
        snaps[row[1]] = dict(zip(STATE, row, strict=True))
        code_of[row[0]] = row[1]
    return snaps, code_of


def staged_batch(session: Session, columns: list[list[Any]], code_of: dict[int, str]
                 ) -> rd.Batch:
    """Staging columns (``[sid[], at[], ...]``) as a batch for :func:`update`; the joint wear
    (straight to the snapshot's JSON text) and fault codes are decoded only where read."""
    from robopass.telemetry.series import layout_names

    names: dict[bytes, tuple[str, ...] | None] = {}

    def wear(blob: bytes) -> str | None:  # the JSON text the snapshot stores
        key = blob[:rd.LAYOUT_KEY_BYTES]  # bytes: msgpack gives bytes, no copies needed
        layout = names.get(key, ())
        if layout == ():
            layout = names[key] = layout_names(session, {key}).get(key)
        return rd.wear_json(blob, layout) if layout else None

    sid_col = columns[0]
    codes = _Lazy(sid_col, code_of.__getitem__)
    return rd.Batch((range(len(sid_col)), codes, columns[1], *columns[2:10],
                     _Lazy(columns[8], orjson.loads), _Lazy(columns[7], wear)), set())


def apply_staged(session: Session, columns: list[list[Any]],
                 groups: dict[int, list[int]], *, folded: Collection[int] = ()) -> None:
    """Apply staged readings whose snapshots were left to the fold to their units'
    snapshots, trends and alerts: ``columns`` the staging columns (``[sid[], at[], ...]``),
    ``groups`` sid → the positions to apply, in time order. One :func:`update` for all of
    them, so a unit costs one snapshot update per fold, not one per batch."""
    snaps, code_of = staged_state(session, sorted(groups))
    stored = {code_of[sid]: pos for sid, pos in groups.items()}
    update(session, staged_batch(session, columns, code_of), snaps, stored, _Facts(session),
           notify=True, folded=folded)


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


def decode(snap: dict[str, Any]) -> dict[str, Any]:
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


_ = chunks  # chunks.Raw is what series reads return
