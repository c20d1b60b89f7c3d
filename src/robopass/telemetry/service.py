"""Telemetry: storing readings in bulk (SPEC §7).

Every path (HTTP, MQTT, the simulator, the demo seeder) stores through :func:`store_readings`
or :func:`store_body`: one validation, one write, one snapshot update
(``telemetry.snapshots``). Live-shaped batches (a few readings per unit) are appended whole
to ``telemetry_staging`` and folded into chunks later (``telemetry.staging``); buffered
uploads are written as chunks at once. Nothing here commits; the caller owns the transaction.
Telemetry does not touch the ledger, so it does not take the ledger writer lock: on
PostgreSQL concurrent batches serialise per unit on their head rows (locked in ``sid`` order,
``snapshots.lock_rows``), on SQLite the write session's ``BEGIN IMMEDIATE`` does. A server decodes a
body (:func:`decode_body`, no database) before it opens the transaction, so server workers
parse in parallel and hold the write lock only to store. Reads are in ``telemetry.series``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from itertools import chain, groupby, islice
from operator import gt, itemgetter
from typing import Any, cast

import orjson
from sqlalchemy import insert
from sqlalchemy.orm import Session

from robopass import runtime
from robopass.auth.service import Actor
from robopass.db import dialect_name
from robopass.robots.models import TERMINAL_STATUSES
from robopass.telemetry import chunks, rules, snapshots, staging
from robopass.telemetry import facts as kept_facts
from robopass.telemetry import readings as rd
from robopass.telemetry.models import TelemetryUnit as Snap
from robopass.telemetry.series import dt_to_ms, ms_to_dt, rfc3339_ms
from robopass.telemetry.settings import get_telemetry_settings
from robopass.timeutil import CLOCK_SKEW, utcnow

log = logging.getLogger(__name__)

CHUNK = 50_000
HOUR_MS = 3_600_000
DAY_MS = rules.DAY_MS
SKEW_MS = int(CLOCK_SKEW.total_seconds() * 1000)
SNAP_COLUMNS = snapshots.SNAP_COLUMNS


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
    #: parsed one at a time as the store consumes them (``readings.split_body``)
    items: Iterable[Any] | None
    rejected: list[dict[str, Any]]
    now: datetime
    #: who sent it (its limits and the units it may report were judged for them)
    actor: Actor | None = None
    #: what :func:`read_facts` learnt of the units before the write transaction, or None
    known: Known | None = None


@dataclass(slots=True)
class Known:
    """What the read phase (:func:`read_facts`) learnt of a batch's units, so the write
    transaction does not work it out while it holds the SQLite writer lock."""

    #: the batch's distinct codes, in order of first appearance
    codes: list[str]
    #: code → ``(status, owner_id, operator_id, sid | None)``; unknown codes absent
    facts: dict[str, tuple[Any, ...]]
    #: per reading, its unit's sid — only for the live shape that needs nothing else: every
    #: unit once, known, with a sid, and one the sender may report; else None
    sids: list[int] | None = None


def read_facts(session: Session, decoded: Decoded) -> None:
    """Read the units' status, owner, operator and sid in a read session, before the write
    transaction, so the single SQLite writer does not hold its lock for them; kept by the
    process while no event can have changed them (``telemetry.facts``). A unit's sid
    never changes; a status or ownership change committed between this read and the write
    orders the batch before that change (as if it had been stored a moment earlier), and so
    does judging here which units the sender may report (:func:`_allowed`, on these facts)."""
    batch = decoded.batch
    if batch is None or not len(batch):
        return
    codes = list(dict.fromkeys(batch.codes))  # sorting cost 0.2 µs each
    facts = kept_facts.cached(session, codes, unit_facts)
    decoded.known = Known(codes, facts, _live_sids(batch, codes, facts, decoded.actor))


def _live_sids(batch: rd.Batch, codes: list[str], facts: dict[str, tuple[Any, ...]],
               actor: Actor | None) -> list[int] | None:
    """:attr:`Known.sids` of ``batch``. The rule (:func:`_refused`) is judged once per
    distinct ``(status, owner, operator)`` among the units (a fleet has few), not per unit."""
    if len(codes) != len(batch) or len(facts) != len(codes):  # a unit twice, or unknown
        return None
    kept = list(map(facts.__getitem__, batch.codes))
    actor_id = None if actor is None else actor.id
    if any(_refused(fact, actor_id) for fact in set(map(itemgetter(0, 1, 2), kept))):
        return None
    sids = list(map(itemgetter(3), kept))
    return None if None in sids else sids


def decode_body(body: bytes, *, actor: Actor | None, now: datetime | None = None) -> Decoded:
    """Parse and validate a JSON array or NDJSON body without touching the database, so a
    server decodes it outside the write transaction (raises ``readings.BadBody``)."""
    now = now or utcnow()
    now_ms = dt_to_ms(now)
    limit = get_telemetry_settings().max_readings if actor is not None else None
    if limit is not None and (reason := rd.too_many_tokens(body, readings=limit)):
        raise rd.BadBody(reason)
    with _no_gc():
        try:
            batch = rd.decode_fast(body, now_ms=now_ms, skew_ms=SKEW_MS,
                                   min_ms=_min_ms(actor, now_ms), max_readings=limit)
        except rd.NotFast:
            if limit is not None and (reason := rd.too_big(body, readings=limit)):
                raise rd.BadBody(reason) from None
            items, rejected = rd.split_body(body, readings=limit)
            return Decoded(None, items, rejected, now, actor)
    return Decoded(batch, None, [], now, actor)


def store_decoded(session: Session, decoded: Decoded, *,
                  actor: Actor | None) -> dict[str, Any]:
    """Store what :func:`decode_body` returned: ``{stored, duplicates, rejected}``."""
    if decoded.batch is not None:
        known = decoded.known if actor is decoded.actor else None  # judged for this sender
        with _no_gc():
            return store_rows(session, decoded.batch, actor=actor, known=known)
    return store_readings(session, decoded.items or [], actor=actor, now=decoded.now,
                          _rejected=decoded.rejected)


def store_body(session: Session, body: bytes, *, actor: Actor | None,
               now: datetime | None = None) -> dict[str, Any]:
    """Parse a JSON array or NDJSON body and store it (raises ``readings.BadBody``)."""
    return store_decoded(session, decode_body(body, actor=actor, now=now), actor=actor)


def store_rows(session: Session, rows: rd.Batch | list[rd.Row], *, actor: Actor | None,
               notify: bool = True, known: Known | None = None) -> dict[str, Any]:
    """Store readings already validated by ``readings.decode_fast`` or ``readings.validate``
    (``known``: what :func:`read_facts` learnt of them for ``actor``)."""
    batch = rows if isinstance(rows, rd.Batch) else rd.Batch.from_rows(rows)
    rejected: list[dict[str, Any]] = []
    stored = duplicates = 0
    n = len(batch)
    for start in range(0, n, CHUNK):
        part = batch if n <= CHUNK else batch.take(range(start, min(n, start + CHUNK)))
        s, d = _store_rows(session, part, actor=actor, rejected=rejected, notify=notify,
                           known=known if part is batch else None)
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


def _query(session: Session, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    return snapshots.query(session, sql, params)


#: Fewer stored readings per unit than this in a batch: the live shape, staged whole
#: (``telemetry.staging``); more: a buffered upload, written as chunks at once.
STAGE_BELOW_PER_UNIT = 8


def unit_facts(session: Session, codes: list[str]) -> dict[str, tuple[Any, ...]]:
    """code → (status, owner_id, operator_id, sid|None)."""
    facts: dict[str, tuple[Any, ...]] = {}
    if dialect_name(session) == "postgresql":
        for row in snapshots._in(session, "SELECT u.code, u.status, u.owner_id, u.operator_id, "
                                          "s.sid FROM units u LEFT JOIN telemetry_units s ON "
                                          "s.code = u.code WHERE u.code IN ({})", codes):
            facts[row[0]] = row[1:]
        return facts
    for start in range(0, len(codes), 900):
        part = codes[start:start + 900]
        for row in _query(session, "SELECT u.code, u.status, u.owner_id, u.operator_id, s.sid "
                                   "FROM units u LEFT JOIN telemetry_units s ON s.code = u.code "
                                   f"WHERE u.code IN ({', '.join('?' * len(part))})", part):
            facts[row[0]] = row[1:]
    return facts


def _unit_sids(session: Session, codes: list[str],
               facts: dict[str, tuple[Any, ...]]) -> dict[str, int]:
    """code → sid, creating the snapshot row (and its head, ``at`` -1: nothing stored) of a
    first-time unit."""
    pg = dialect_name(session) == "postgresql"
    sids = {c: facts[c][3] for c in codes if facts[c][3] is not None}
    missing = sorted(c for c in codes if facts[c][3] is None)
    if missing:
        values = [{"code": c} for c in missing]
        if pg:
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            session.execute(pg_insert(Snap).on_conflict_do_nothing(index_elements=["code"]),
                            values)
        else:  # another writer may have created some since the facts were read
            session.execute(insert(Snap).prefix_with("OR IGNORE"), values)
        new: list[int] = []
        for start in range(0, len(missing), 900):
            part = missing[start:start + 900]
            for code, sid in _query(session, "SELECT code, sid FROM telemetry_units WHERE code "
                                             f"IN ({', '.join('?' * len(part))})", part):
                sids[code] = sid
                new.append(sid)
        snapshots.cursor(session).executemany(_sql(session, (
            "INSERT INTO telemetry_heads (sid, at) VALUES (?, -1) ON CONFLICT DO NOTHING")),
            [(sid,) for sid in sorted(new)])  # row locks in sid order
    return sids


#: A unit's head before anything is stored: ``(at, prev)``.
NO_HEAD = (-1, -1)


def _load_heads(session: Session, sids: list[int]) -> dict[int, tuple[int, int]]:
    """sid → ``(at, prev)``: the newest stored reading time (-1: nothing stored) and the
    bound of the gap below it (no stored reading lies strictly between them)."""
    return {sid: (at, prev) for sid, at, prev in _head_rows(session, sids, "at, prev")}


def _head_rows(session: Session, sids: Sequence[int], columns: str) -> list[tuple[Any, ...]]:
    """``(sid, *columns)`` of the units' heads; locked on PostgreSQL in sid order, so
    concurrent batches of a unit serialise and cannot deadlock."""
    if dialect_name(session) == "postgresql":
        return snapshots.locked(session, "telemetry_heads", ("sid", *columns.split(", ")),
                                sids)
    return _rows_of_units(session, "telemetry_heads", columns, sids)


def _rows_of_units(session: Session, table: str, columns: str, sids: Sequence[int]
                   ) -> list[tuple[Any, ...]]:
    """``(sid, *columns)`` of ``table``'s rows of the units ``sids``, and perhaps of others
    (unlocked)."""
    if dialect_name(session) != "postgresql" and sids and max(sids) - min(sids) < 2 * len(sids):
        # a fleet's batch holds units whose sids were given together: one range scan reads
        # them (and at most as many others, harmless here) for ~0.8 µs a unit less than
        # IN lists of 900 (measured, docs/performance.md)
        return _query(session, f"SELECT sid, {columns} FROM {table} WHERE sid "
                               "BETWEEN ? AND ?", [min(sids), max(sids)])
    return snapshots._in(session, f"SELECT sid, {columns} FROM {table} "
                                  "WHERE sid IN ({})", list(sids))


def moved_head(head: tuple[int, int], times: Sequence[int]) -> tuple[int, int]:
    """A unit's ``(at, prev)`` after storing ``times`` (new, distinct, in time order): the
    newest time, and the largest stored time below it — every stored reading is either at
    the newest time or at most ``prev``."""
    at, prev = head
    newest = times[-1]
    if newest > at:
        return newest, max(at, times[-2] if len(times) > 1 else -1)
    below = newest if newest < at else (times[-2] if len(times) > 1 else -1)
    return at, max(prev, below)


def _move_heads(session: Session, batch: rd.Batch, sids: dict[str, int],
                heads: dict[int, tuple[int, int]], stored: dict[str, list[int]]) -> None:
    """Move each unit's head (and its gap) past the readings just stored."""
    ats = batch.ats
    moved = []
    for code, pos in stored.items():
        sid = sids[code]
        head = heads.get(sid, NO_HEAD)
        if len(pos) == 1 and ats[pos[0]] > head[0]:  # the live shape: one newer reading
            moved.append((ats[pos[0]], head[0], sid))
            continue
        new = moved_head(head, [ats[i] for i in pos] if len(pos) > 1 else (ats[pos[0]],))
        if new != head:
            moved.append((*new, sid))
    _write_heads(session, moved)


def _write_heads(session: Session, moved: list[tuple[int, int, int]]) -> None:
    """Write heads given as ``(at, prev, sid)``."""
    if not moved:
        return
    if dialect_name(session) == "postgresql":
        snapshots.cursor(session).execute(
            "UPDATE telemetry_heads h SET at = n.at, prev = n.prev FROM unnest(%s::bigint[], "
            "%s::bigint[], %s::int[]) AS n(at, prev, sid) WHERE h.sid = n.sid",
            tuple(snapshots.pg_array([m[k] for m in moved]) for k in range(3)))
    else:  # multi-row upserts: ~half the CPU of an UPDATE per row (every row exists)
        cur = snapshots.cursor(session)
        for start in range(0, len(moved), _HEADS_PER_STATEMENT):
            part = moved[start:start + _HEADS_PER_STATEMENT]
            cur.execute(_upsert_heads(len(part)), list(chain.from_iterable(part)))


#: Head moves per SQLite statement (3 parameters each; SQLite allows 32,766).
_HEADS_PER_STATEMENT = 2000


@lru_cache(maxsize=8)
def _upsert_heads(rows: int) -> str:
    """SQLite: move ``rows`` heads, given as ``(at, prev, sid)`` each, in one statement."""
    return ("INSERT INTO telemetry_heads (at, prev, sid) VALUES "
            + ", ".join(["(?, ?, ?)"] * rows)
            + " ON CONFLICT (sid) DO UPDATE SET at = excluded.at, prev = excluded.prev")


def _allowed(facts: dict[str, tuple[Any, ...]], codes: list[str],
             actor: Actor | None) -> dict[str, str | None]:
    """code → why its readings are refused, or None."""
    allowed: dict[str, str | None] = {}
    actor_id = None if actor is None else actor.id
    for code in codes:
        fact = facts.get(code)
        if fact is None:
            allowed[code] = f"unknown unit {code}"
        elif (refused := _refused(fact, actor_id)) == "terminal":
            allowed[code] = f"unit {code} is {fact[0]}; it reports no telemetry"
        elif refused == "not_yours":
            allowed[code] = f"unit {code} is not yours: only its owner or operator reports"
        else:
            allowed[code] = None
    return allowed


def _refused(fact: tuple[Any, ...], actor_id: str | None) -> str | None:
    """Why a known unit (its facts) may not report for ``actor_id`` (None: the system):
    ``terminal``, ``not_yours``, or None."""
    if fact[0] in TERMINAL_STATUSES:
        return "terminal"
    if actor_id is not None and actor_id != fact[1] and actor_id != fact[2]:
        return "not_yours"
    return None


#: A staged batch of at least this many readings (the live shape at scale) leaves its units'
#: health snapshots and alerts to the folder (``staging.fold``), which applies many batches
#: per unit at once; a smaller one updates them in its own transaction.
DEFER_SNAPSHOTS_FROM = 2000


def _store_rows(session: Session, batch: rd.Batch, *, actor: Actor | None,
                rejected: list[dict[str, Any]], notify: bool,
                known: Known | None = None) -> tuple[int, int]:
    if known is not None and known.sids is not None:
        live = _store_live(session, batch, known.sids, known.facts, notify=notify)
        if live is not None:
            return live
    codes = known.codes if known is not None else list(dict.fromkeys(batch.codes))
    facts = None if known is None else known.facts
    # facts read for these codes lack only unknown ones: equal sizes, nothing missing
    if facts is None or (len(facts) != len(codes) and not facts.keys() >= set(codes)):
        facts = unit_facts(session, codes)
    allowed = _allowed(facts, codes, actor)
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
    sids = _unit_sids(session, ok_codes, facts)
    heads = _load_heads(session, list(sids.values()))
    _register_layouts(session, batch.layouts)
    stored = _new_positions(session, batch, sids, heads)
    count, deferred = _write(session, batch, sids, stored)
    _move_heads(session, batch, sids, heads, stored)
    if count and not deferred:
        _update_snapshots(session, batch, sids, stored, facts, notify=notify)
    return count, len(batch) - count


def _store_live(session: Session, batch: rd.Batch, sids: list[int],
                facts: dict[str, tuple[Any, ...]], *, notify: bool) -> tuple[int, int] | None:
    """The live shape (``sids``: each reading's unit, every unit once), staged with C
    builtins over its columns instead of a Python loop per unit under the write lock: a
    reading newer than its unit's head, or inside the gap below it, is new without a lookup;
    the others (a batch that several others overtook, a retry) are looked up as the general
    path does (:func:`_stored_among`) and the ones stored already are dropped. None, having
    written nothing, when a unit has no head yet."""
    rows = _head_rows(session, sids, "at, prev")
    found = list(map(dict(zip(map(itemgetter(0), rows), rows, strict=True)).get, sids))
    if None in found:
        return None
    heads = cast(list[tuple[int, int, int]], found)
    olds = list(map(itemgetter(1), heads))
    if all(map(gt, batch.ats, olds)):
        moved, unsure = list(zip(batch.ats, olds, sids, strict=True)), list[int]()
    else:
        moved, unsure = _gap_moves(batch.ats, heads)
    total = len(batch)
    if unsure:
        late, late_moved = _unsure_live(session, batch, sids, heads, unsure)
        moved += late_moved
        if len(late) != len(unsure):  # some stored already: stage the others
            dropped = set(unsure).difference(late)
            keep = [i for i in range(total) if i not in dropped]
            if not keep:
                return 0, total
            batch, sids = batch.take(keep), [sids[i] for i in keep]
    _register_layouts(session, batch.layouts)
    deferred = _stage(session, sids, _columns_of(batch))
    _write_heads(session, moved)
    if not deferred:
        stored = {code: [i] for i, code in enumerate(batch.codes)}
        _update_snapshots(session, batch, dict(zip(batch.codes, sids, strict=True)), stored,
                          facts, notify=notify)
    return len(batch), total - len(batch)


def _gap_moves(ats: Sequence[int], heads: list[tuple[int, int, int]]
               ) -> tuple[list[tuple[int, int, int]], list[int]]:
    """Each unit's head ``(at, prev, sid)`` moved past its one reading (:func:`moved_head`),
    given the heads as ``(sid, at, prev)``, for the readings newer than their head or inside
    the gap below it; and the positions of the others (to look up)."""
    moved = []
    unsure = []
    for i, (at, (sid, head_at, prev)) in enumerate(zip(ats, heads, strict=True)):
        if at > head_at:
            moved.append((at, head_at, sid))
        elif prev < at < head_at:  # no stored reading lies in the gap: new, and its bound
            moved.append((head_at, at, sid))
        else:
            unsure.append(i)
    return moved, unsure


def _unsure_live(session: Session, batch: rd.Batch, sids: list[int],
                 heads: list[tuple[int, int, int]], unsure: list[int]
                 ) -> tuple[list[int], list[tuple[int, int, int]]]:
    """Of the live readings ``unsure`` (positions; one per unit), those not stored yet, and
    their units' head moves ``(at, prev, sid)`` (:func:`moved_head`)."""
    codes, ats = batch.codes, batch.ats
    have = _stored_among(session, batch, {codes[i]: sids[i] for i in unsure},
                         {codes[i]: ([i], [i]) for i in unsure})
    new: list[int] = []
    moved: list[tuple[int, int, int]] = []
    for i in unsure:
        if ats[i] in have[sids[i]]:
            continue
        new.append(i)
        sid, at, prev = heads[i]
        head = moved_head((at, prev), [ats[i]])
        if head != (at, prev):
            moved.append((*head, sid))
    return new, moved


def _update_snapshots(session: Session, batch: rd.Batch, sids: dict[str, int],
                      stored: dict[str, list[int]], facts: dict[str, tuple[Any, ...]], *,
                      notify: bool) -> None:
    """Apply the stored readings to their units' snapshots and alerts (rows locked on
    PostgreSQL in sid order, after the heads, as every writer takes them)."""
    snaps, _ = snapshots.staged_state(session, sorted(sids[c] for c in stored))
    snapshots.update(session, batch, snaps, stored, facts, notify=notify)


def _register_layouts(session: Session, keys: set[bytes]) -> None:
    """Make sure the joint names of every packed ``joint_wear`` are stored (idempotent)."""
    if not keys:
        return
    values = [(k, orjson.dumps(list(rd.LAYOUT_NAMES[k])).decode()) for k in sorted(keys)]
    cur = snapshots.cursor(session)
    if dialect_name(session) == "postgresql":
        cur.executemany("INSERT INTO telemetry_joint_layouts (key, names) VALUES (%s, %s) "
                        "ON CONFLICT DO NOTHING", values)
    else:
        cur.executemany("INSERT OR IGNORE INTO telemetry_joint_layouts (key, names) "
                        "VALUES (?, ?)", values)


def _new_positions(session: Session, batch: rd.Batch, sids: dict[str, int],
                   heads: dict[int, tuple[int, int]]) -> dict[str, list[int]]:
    """Unit → positions of its readings to store, in time order: a repeat of a time in the
    batch or of a stored reading is dropped (the first one sent wins). A reading newer than
    the unit's head (its newest stored reading), or inside the gap below it, cannot be
    stored already; only the others are looked up, in staging and chunks."""
    ats = batch.ats
    out: dict[str, list[int]] = {}
    unsure: dict[str, tuple[list[int], list[int]]] = {}
    if len(sids) == len(ats):  # one reading per unit (the live shape): no runs to find
        by_code = {code: [i] for i, code in enumerate(batch.codes)}
    else:
        by_code = _positions_by_code(batch.codes)  # type: ignore[arg-type]
    for code, pos in by_code.items():
        if len(pos) > 1:
            pos.sort(key=ats.__getitem__)  # stable: among equal times the first sent first
            pos = chunks.first_of_each_time(pos, ats)
        at, prev = heads.get(sids[code], NO_HEAD)
        if ats[pos[0]] > at:
            out[code] = pos
            continue
        if len(pos) == 1:  # (the live shape: no list to build)
            old = pos if ats[pos[0]] <= prev or ats[pos[0]] == at else []
        else:
            old = [i for i in pos if ats[i] <= prev or ats[i] == at]
        if old:
            unsure[code] = (pos, old)
        else:  # all in the gap (prev, at) or newer
            out[code] = pos
    if unsure:
        have = _stored_among(session, batch, sids, unsure)
        for code, (pos, _) in unsure.items():
            times = have[sids[code]]
            if not times or (len(pos) == 1 and ats[pos[0]] not in times):
                keep = pos
            else:
                keep = [i for i in pos if ats[i] not in times]
            if keep:
                out[code] = keep
    return out


def _stored_among(session: Session, batch: rd.Batch, sids: dict[str, int],
                  unsure: dict[str, tuple[list[int], list[int]]]) -> dict[int, set[int]]:
    """sid → the stored times (staged or in chunks) among those of the readings ``unsure``
    (unit → (positions, the positions to look up))."""
    ats = batch.ats
    lo = min(ats[old[0]] for _, old in unsure.values())
    hi = max(ats[old[-1]] for _, old in unsure.values())
    have = {sids[c]: set() for c in unsure}  # type: dict[int, set[int]]
    wanted = {(sids[c], ats[i]) for c, (_, old) in unsure.items() for i in old}
    for sid, at in staging.staged_among(session.connection(), wanted, lo=lo, hi=hi):
        have[sid].add(at)  # staging first
    # After staging (a fold moves readings to chunks and the snapshot's ``at`` past them
    # in one transaction): every reading in a unit's chunks is at most its snapshot's
    # ``at``, so readings newer than it are stored in staging if at all — the usual case of
    # a batch a few rounds late, whose newer rounds are not folded yet.
    state = {sid: (span, newest) for sid, span, newest in _rows_of_units(
        session, "telemetry_units", "chunk_span, at", list(have))}
    by_hour: dict[int, list[tuple[int, int, int, int | None]]] = {}
    for code, (_, old) in unsure.items():
        sid = sids[code]
        span, newest = state.get(sid, (None, None))
        if newest is None or ats[old[0]] > newest:
            continue
        for part in [old] if len(old) == 1 else chunks.split_by_hour(old, ats):
            first, last = ats[part[0]], ats[part[-1]]
            by_hour.setdefault(chunks.hour_of(first), []).append((sid, first, last, span))
    for hour, parts in by_hour.items():
        _stored_times(session, hour, parts, have)
    return have


def _stored_times(session: Session, hour: int,
                  parts: list[tuple[int, int, int, int | None]],
                  have: dict[int, set[int]]) -> None:
    """Add to ``have[sid]`` the times stored in chunks for late readings of one clock hour
    (``parts``: ``(sid, lo, hi, chunk_span)``), one query per 900 units. A stored reading at
    ``t`` is in a chunk with ``at <= t <= last_at`` and ``at >= t - chunk_span`` (the unit's
    longest chunk), so only such chunks are read."""
    for start in range(0, len(parts), 900):
        group = parts[start:start + 900]
        floor = min(hour if span is None else max(hour, lo - span) for _, lo, _, span in group)
        hi = max(p[2] for p in group)
        lo = min(p[1] for p in group)
        sids = sorted({p[0] for p in group})
        for sid, data in _query(session, "SELECT sid, data FROM telemetry_chunks WHERE sid IN "
                                         f"({', '.join('?' * len(sids))}) AND at >= ? "
                                         "AND at <= ? AND last_at >= ?",
                                [*sids, floor, hi, lo]):
            have[sid].update(chunks.times(bytes(data)))


def _write(session: Session, batch: rd.Batch, sids: dict[str, int],
           stored: dict[str, list[int]]) -> tuple[int, bool]:
    """Store the new readings: staged whole on the live shape, as chunks (one per unit and
    clock hour) for buffered uploads. Returns how many readings were stored and whether
    their snapshots are left to the folder."""
    count = sum(map(len, stored.values()))
    if not count:
        return 0, False
    columns = _columns_of(batch)
    if count < STAGE_BELOW_PER_UNIT * len(stored):
        if count == len(batch):  # every reading new: the batch's columns as they are (a
            # staged row's order does not matter: readers and the fold sort by unit and time)
            unit_sids = [sids[code] for code in batch.codes]
            staged: Sequence[Sequence[Any]] = columns
        else:
            positions = [i for pos in stored.values() for i in pos]
            unit_sids = [sids[code] for code, pos in stored.items() for _ in pos]
            take = itemgetter(*positions) if len(positions) > 1 else (
                lambda col: (col[positions[0]],))
            staged = [take(col) for col in columns]
        return count, _stage(session, unit_sids, staged)
    rows: list[tuple[int, int, int, int, bytes]] = []
    spans: list[tuple[int, int, int]] = []
    ats = batch.ats
    for code, positions in stored.items():
        sid, span = sids[code], -1
        for part in chunks.split_by_hour(positions, ats):
            first, last = ats[part[0]], ats[part[-1]]
            rows.append((sid, first, last, len(part), chunks.encode(columns, part)))
            span = max(span, last - first)
        spans.append((span, sid, span))
    spans.sort(key=itemgetter(1))  # row locks in sid order, as every writer takes them
    staging.write_chunks(session.connection(), rows)
    snapshots.cursor(session).executemany(_sql(session, (
        "UPDATE telemetry_units SET chunk_span = ? WHERE sid = ? AND "
        "(chunk_span IS NULL OR chunk_span < ?)")), spans)
    return count, False


def _columns_of(batch: rd.Batch) -> tuple[Sequence[Any], ...]:
    """The batch's columns as chunks and staged rows hold them (``chunks.FIELDS``)."""
    return (batch.ats, batch.soh, batch.cycles, batch.acc, batch.hours, batch.max_wear,
            batch.wear, batch.fault_text, batch.firmware)


def _stage(session: Session, sids: Sequence[int], columns: Sequence[Sequence[Any]]) -> bool:
    """Append readings (``sids``: each one's unit) to staging as one row; returns whether
    their snapshots are left to the folder (a batch of :data:`DEFER_SNAPSHOTS_FROM` or
    more)."""
    deferred = len(sids) >= DEFER_SNAPSHOTS_FROM
    if staging.stage(session.connection(), sids, columns, snap=not deferred) \
            > staging.MAX_BACKLOG:
        # no folder keeping up (an MQTT ingestor alone, a stopped thread): fold the oldest
        # rows, more than this batch added, so the backlog stays bounded and no one batch
        # pays for all of it
        staging.fold(session, rows=staging.FOLD_ROWS)
    return deferred


def _sql(session: Session, sql: str) -> str:
    return sql.replace("?", "%s") if dialect_name(session) == "postgresql" else sql


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


def snapshot_pending(session: Session, code: str) -> bool:
    """Whether readings of the unit wait in staging for the folder to apply them to its
    health snapshot (large live batches, :data:`DEFER_SNAPSHOTS_FROM`): a health read folds
    first (``routes.get_health``), so it is exact."""
    sid = _query(session, "SELECT sid FROM telemetry_units WHERE code = ?", [code])
    return bool(sid) and staging.pending(session.connection(), sid[0][0])


def fold_staged(session: Session) -> int:
    """Fold every staged reading into chunks (retention and downsampling jobs call this
    first; reads never need to)."""
    return staging.fold_all(session)


# Reads live in ``telemetry.series``; these names stay importable from here.
from robopass.telemetry.series import (  # noqa: E402
    RESOLUTIONS,
    SERIES_METRICS,
    decode_rows,
    default_range,
    fleet_health_distribution,
    get_snapshot,
    health,
    iter_chunks,
    latest_battery_soh,
    open_alerts,
    raw_hourly,
    raw_readings,
    readings_between,
    series,
)

__all__ = ["RESOLUTIONS", "SERIES_METRICS", "Decoded", "decode_body", "decode_rows",
           "default_range", "dt_to_ms", "fleet_health_distribution", "fold_staged",
           "get_snapshot", "health", "iter_chunks", "latest_battery_soh", "ms_to_dt",
           "open_alerts", "raw_hourly", "raw_readings", "readings_between", "rfc3339_ms",
           "series", "store_body", "store_decoded", "store_readings", "store_rows"]
