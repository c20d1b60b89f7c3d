"""Live readings staged append-only, folded into chunks later (SPEC §7, §10).

On the live shape (one reading per unit per batch) a chunk per reading made every reading an
insert into the middle of the ``(sid, at)`` key, under the single SQLite writer lock. A live
batch is instead appended as ONE row of ``telemetry_staging`` (its readings' columns packed
with msgpack, like a chunk, plus the sorted set of its units' sids), in the ingest
transaction: acknowledged means committed, so a staged reading survives ``kill -9``.

A folder (:func:`fold`: a thread of ``robopass serve``, and the ingest path itself when the
backlog passes :data:`MAX_BACKLOG` rows) moves staged rows into chunks in one transaction
(delete staged rows, insert their chunks), so each reading is always in exactly one place.
Readers are exact without waiting for it: they merge a unit's staged readings
(:func:`readings_of`) with its chunks, and drop a time seen twice (on PostgreSQL a fold can
commit between the two reads; staging is read first, so a reading is never missed).

Row format: ``data`` is a msgpack array ``[1, sid[], at[], battery_soh[], ...]`` (the
chunk columns of :data:`chunks.FIELDS`, with each reading's sid first); ``sids`` the sorted
distinct sids as little-endian int32 (a reader skips rows without its unit unopened).
"""

from __future__ import annotations

import logging
import threading
from array import array
from bisect import bisect_left
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from typing import Any

import msgspec
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from robopass.telemetry import chunks

log = logging.getLogger(__name__)

VERSION = 1
#: Staged rows past which an ingest folds before it returns (bounds reads and memory when
#: no folder thread runs, e.g. an MQTT ingestor alone).
MAX_BACKLOG = 64
#: Staged rows folded per transaction (one transaction holds the SQLite writer lock).
FOLD_ROWS = 8
#: ... or fewer, as many as hold this many distinct units (at least one row). A fold's
#: memory and its write transaction grow with its units: on the benchmark's shape each row
#: holds the same 10,000 units, but a fleet of 50,000 sends rows of different units, and
#: 8 of them (80,000 units) peaked the server at 665 MB and slowed it (70,618 readings/s);
#: with this bound 507 MB, 80,134/s (measured, docs/performance.md).
FOLD_UNITS = 20_000

_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder().decode


def _pg(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def _cursor(conn: Connection) -> Any:
    return conn.connection.driver_connection.cursor()  # type: ignore[union-attr]


def _q(conn: Connection, sql: str) -> str:
    return sql.replace("?", "%s") if _pg(conn) else sql


def pack(sids: Sequence[int], columns: Sequence[Sequence[Any]]) -> tuple[bytes, bytes]:
    """``(sids blob, data)`` of readings given column by column (``sids`` one per reading,
    ``columns`` in :data:`chunks.FIELDS` order)."""
    data = _encode([VERSION, *[col if type(col) in (list, tuple) else list(col)
                               for col in (sids, *columns)]])
    return array("i", sorted(set(sids))).tobytes(), data


def unpack(data: bytes) -> list[list[Any]]:
    """``[sid[], at[], battery_soh[], ...]`` of a staged row."""
    try:
        value = _decode(data)
    except msgspec.DecodeError as exc:
        raise chunks.ChunkError(f"unreadable staged telemetry: {exc}") from exc
    if not isinstance(value, list) or not value or value[0] != VERSION \
            or len(value) != len(chunks.FIELDS) + 2:
        raise chunks.ChunkError("unknown staged telemetry format")
    return value[1:]


class _Times(msgspec.Struct, array_like=True):
    """A staged row's version, sids and times; the other columns are skipped, not built."""

    version: int
    sid: list[int]
    at: list[int]


_decode_times = msgspec.msgpack.Decoder(_Times).decode


def unpack_times(data: bytes) -> tuple[list[int], list[int]]:
    """``(sid[], at[])`` of a staged row (the duplicate check: no other column built)."""
    try:
        value = _decode_times(data)
    except msgspec.DecodeError as exc:
        raise chunks.ChunkError(f"unreadable staged telemetry: {exc}") from exc
    if value.version != VERSION:
        raise chunks.ChunkError("unknown staged telemetry format")
    return value.sid, value.at


def unpack_sids(blob: bytes) -> array[int]:
    """A staged row's distinct sids, sorted (its ``sids`` column, :func:`pack`)."""
    sids = array("i")
    sids.frombytes(bytes(blob))
    return sids


def has_sid(blob: bytes, sid: int) -> bool:
    sids = unpack_sids(blob)
    k = bisect_left(sids, sid)
    return k < len(sids) and sids[k] == sid


def stage(conn: Connection, sids: Sequence[int], columns: Sequence[Sequence[Any]], *,
          snap: bool = True) -> int:
    """Append one staged row; returns how many rows are staged now (this one included).
    ``snap`` False: its readings are not in their units' snapshots yet (the fold applies
    them)."""
    blob, data = pack(sids, columns)
    cur = _cursor(conn)
    ats = columns[0]
    cur.execute(_q(conn, "INSERT INTO telemetry_staging (n, sids, data, snap, lo, hi) "
                         "VALUES (?, ?, ?, ?, ?, ?)"),
                (len(sids), blob, data, int(snap), min(ats), max(ats)))
    cur.execute("SELECT count(*) FROM telemetry_staging")
    return int(cur.fetchone()[0])


def readings_of(conn: Connection, sids: set[int], *, start_ms: int | None = None,
                end_ms: int | None = None, skip: Collection[int] = ()
                ) -> dict[int, list[chunks.Raw]]:
    """Staged readings of the units ``sids`` (with ``start_ms <= at < end_ms`` when given),
    unsorted. Rows without any of the units are not unpacked, nor the rows ``skip`` (ids:
    a fold's own rows, whose chunks its transaction has written already)."""
    out: dict[int, list[chunks.Raw]] = {}
    if not sids:
        return out
    lo = -1 << 62 if start_ms is None else start_ms
    hi = 1 << 62 if end_ms is None else end_ms
    for data in _data_of(conn, sids, "hi >= ? AND lo < ?", (lo, hi), skip):
        cols = unpack(data)
        sid_col, at_col = cols[0], cols[1]
        for k in [k for k, sid in enumerate(sid_col) if sid in sids]:
            if lo <= at_col[k] < hi:
                out.setdefault(sid_col[k], []).append(
                    chunks.Raw(*[col[k] for col in cols[1:]]))
    return out


def staged_among(conn: Connection, wanted: set[tuple[int, int]], *, lo: int, hi: int
                 ) -> set[tuple[int, int]]:
    """Which of the readings ``wanted`` (``(sid, at)`` pairs, every ``at`` in ``[lo, hi]``)
    are staged (the duplicate check of late readings): rows outside the range or without
    any of the units are not read, no reading objects built, and each row's pairs are
    matched by C set operations, not a Python loop per reading (~2.7 → ~1.3 ms a row of
    10,000 readings)."""
    found: set[tuple[int, int]] = set()
    sids = {sid for sid, _ in wanted}
    for data in _data_of(conn, sids, "hi >= ? AND lo <= ?", (lo, hi)):
        found |= wanted.intersection(zip(*unpack_times(data), strict=True))
    return found


def _data_of(conn: Connection, sids: set[int], where: str, params: tuple[int, int],
             skip: Collection[int] = ()) -> Iterator[bytes]:
    """The packed data of the staged rows (oldest first) that match ``where`` (a time
    range), hold one of ``sids`` and are not in ``skip``. Rows are chosen by their ids and
    units first and only the chosen rows' data (~1 MB each) is fetched: a late reading's
    check under the write lock fetched every staged row in range, the fold's own rows too
    (measured on the live shape: 7 % of the folder thread's time)."""
    cur = _cursor(conn)
    cur.execute(_q(conn, f"SELECT id, sids FROM telemetry_staging WHERE {where} ORDER BY id"),
                params)
    one = next(iter(sids)) if len(sids) == 1 else None
    ids = []
    for row_id, blob in cur.fetchall():
        if row_id in skip:
            continue
        if one is not None:
            if has_sid(blob, one):
                ids.append(row_id)
            continue
        if not sids.isdisjoint(unpack_sids(blob)):
            ids.append(row_id)
    for start in range(0, len(ids), 900):  # a row gone since was folded: its readings
        part = ids[start:start + 900]  # are in chunks, which callers read after staging
        cur.execute(_q(conn, "SELECT data FROM telemetry_staging WHERE id IN "
                             f"({', '.join('?' * len(part))}) ORDER BY id"), part)
        for (data,) in cur:
            yield bytes(data)


def pending(conn: Connection, sid: int) -> bool:
    """Whether a staged row whose snapshots are left to the fold holds readings of ``sid``."""
    cur = _cursor(conn)
    cur.execute("SELECT sids FROM telemetry_staging WHERE snap = 0")
    return any(has_sid(blob, sid) for (blob,) in cur.fetchall())


def oldest(conn: Connection) -> int | None:
    """The id of the oldest staged row (None: nothing staged)."""
    cur = _cursor(conn)
    cur.execute("SELECT min(id) FROM telemetry_staging")
    row = cur.fetchone()
    return None if row is None or row[0] is None else int(row[0])


def _session(where: Session | Connection) -> Session:
    return where if isinstance(where, Session) else Session(bind=where)


@dataclass(slots=True)
class Built:
    """Staged rows read and turned into chunk rows (:func:`build`: no database)."""

    ids: list[int]
    #: the rows' readings: ``[sid[], at[], battery_soh[], ...]``
    columns: list[list[Any]]
    chunk_rows: list[tuple[int, int, int, int, bytes]]
    #: ``(span, sid, span)`` per unit, in sid order
    spans: list[tuple[int, int, int]]
    #: sid → the positions whose snapshot update was left to the fold, in time order
    groups: dict[int, list[int]]


def take(conn: Connection, rows: int, *, lock: bool = True
         ) -> tuple[list[tuple[int, bytes, int]], bool]:
    """``(id, data, snap)`` of the oldest staged rows, up to ``rows`` of them or as many as
    hold :data:`FOLD_UNITS` units (at least one row), and whether that is a whole fold
    (either bound reached); ``lock`` on PostgreSQL: locked, skipping rows another folder
    holds."""
    cur = _cursor(conn)
    suffix = " FOR UPDATE SKIP LOCKED" if lock and _pg(conn) else ""
    cur.execute(_q(conn, f"SELECT id, sids FROM telemetry_staging ORDER BY id LIMIT ?{suffix}"),
                (rows,))
    ids: list[int] = []
    units: set[int] = set()
    full = False
    for row_id, blob in cur.fetchall():
        units.update(unpack_sids(blob))
        if ids and len(units) > FOLD_UNITS:
            full = True
            break
        ids.append(row_id)
    if not ids:
        return [], False
    cur.execute(_q(conn, "SELECT * FROM telemetry_staging WHERE id IN "
                         f"({', '.join('?' * len(ids))}) ORDER BY id"), ids)
    names = [d[0] for d in cur.description]  # * : a database downgraded past 0010 has no
    at_id, at_data = names.index("id"), names.index("data")  # ``snap`` column
    at_snap = names.index("snap") if "snap" in names else None
    return [(row[at_id], row[at_data], 1 if at_snap is None else row[at_snap])
            for row in cur.fetchall()], full or len(ids) == rows or len(units) >= FOLD_UNITS


#: Staged columns (``[sid[], at[], ...]``) whose text repeats from reading to reading: fault
#: codes (mostly ``[]``) and firmware. msgpack decodes each into a string of its own.
_REPEATING = tuple(1 + chunks.FIELDS.index(name) for name in ("fault_codes", "firmware"))


#: Staged columns of numbers, kept in C arrays while every value is of the one type (a
#: metric a reading lacks is None: then the column becomes a list): 8 bytes a value
#: there, 32–36 in a list of Python objects.
_NUMBERS = {1 + chunks.FIELDS.index(name): (code, kind) for name, code, kind in (
    ("battery_soh", "d", float), ("cycle_count", "q", int), ("accuracy", "d", float),
    ("operating_hours", "d", float), ("max_joint_wear", "d", float))}


def _unpack_all(taken: list[tuple[int, bytes, int]]) -> tuple[list[Any], bytearray]:
    """The readings of staged rows as columns (``[sid[], at[], ...]``), and per reading 1
    if its snapshot update was left to the fold. Empties ``taken`` as it goes.

    A fold holds every reading of its rows at once, so they are kept compact: sids, times
    and numbers in C arrays, repeating strings shared, each row's packed data dropped once
    unpacked (measured, 8 rows of 10,000 readings: the Python peak 18 MB lower for the
    sids, times, strings and dropped rows, and 9 MB lower again for the numbers)."""
    columns: list[Any] = [array("i"), array("q"), *[[] for _ in chunks.FIELDS[1:]]]
    for k, (code, _) in _NUMBERS.items():
        columns[k] = array(code)
    waiting = bytearray()
    shared: dict[str, str] = {}
    taken.reverse()
    while taken:
        _, data, snap = taken.pop()
        parts = unpack(bytes(data))
        del data
        for k in _REPEATING:
            parts[k] = list(map(shared.setdefault, parts[k], parts[k]))
        for k, (col, part) in enumerate(zip(columns, parts, strict=True)):
            if type(col) is array and k in _NUMBERS and not _all_of(part, _NUMBERS[k][1]):
                col = columns[k] = list(col)  # a None, an int among floats, a huge int
            col.extend(part)
        waiting.extend((b"\x00" if snap else b"\x01") * len(parts[0]))
        del parts
    return columns, waiting


def _all_of(values: list[Any], kind: type) -> bool:
    """Whether every value is exactly of ``kind`` (and an int fits in 64 bits), so an array
    gives each back equal and of the same type."""
    if set(map(type, values)) - {kind}:
        return False
    return kind is not int or not values or (-(1 << 63) <= min(values) and max(values) < 1 << 63)


def build(taken: list[tuple[int, bytes, int]]) -> Built:
    """Unpack staged rows and encode their chunks (one per unit and clock hour); empties
    ``taken`` (:func:`_unpack_all`)."""
    ids = [row[0] for row in taken]
    columns, waiting = _unpack_all(taken)
    sid_col, ats = columns[0], columns[1]
    chunk_columns = columns[1:]
    by_sid = sorted(range(len(sid_col)), key=sid_col.__getitem__)
    chunk_rows: list[tuple[int, int, int, int, bytes]] = []
    spans: list[tuple[int, int, int]] = []
    groups: dict[int, list[int]] = {}  # sid -> its positions in time order
    for sid, run in groupby(by_sid, key=sid_col.__getitem__):
        span = -1
        parts = chunks.split_by_hour(list(run), ats)
        for part in parts:
            first, last = ats[part[0]], ats[part[-1]]
            chunk_rows.append((sid, first, last, len(part), chunks.encode(chunk_columns, part)))
            span = max(span, last - first)
        spans.append((span, sid, span))
        groups[sid] = parts[0] if len(parts) == 1 else [i for part in parts for i in part]
    spans.sort(key=itemgetter(1))  # row locks in sid order, as ingest takes them
    if not any(waiting):
        groups = {}
    elif not all(waiting):
        groups = {sid: kept for sid, pos in groups.items()
                  if (kept := [i for i in pos if waiting[i]])}
    return Built(ids, columns, chunk_rows, spans, groups)


def store(conn: Connection, built: Built, *, known: dict[int, int | None] | None = None
          ) -> None:
    """Insert the chunks and widen the units' ``chunk_span`` (a maximum kept by the
    statement itself, so it needs no earlier read); on PostgreSQL the units' snapshot rows
    are locked first, in sid order. ``known``: sid → a ``chunk_span`` read earlier; a span
    can only have grown since, so a unit whose new chunks span no more is not written.
    ``built.chunk_rows`` is emptied once written (~6 MB of a 40,000-reading fold)."""
    spans = built.spans
    if known is not None:
        spans = [s for s in spans if (k := known.get(s[1])) is None or s[0] > k]
    cur = _cursor(conn)
    if _pg(conn):  # one statement, not a round trip per unit; row locks in sid order first
        from robopass.telemetry.snapshots import lock_rows, pg_array

        lock_rows(cur, "telemetry_units", ("sid",), [x[1] for x in built.spans])
        cur.execute("UPDATE telemetry_units u SET chunk_span = n.span FROM "
                    "unnest(%s::bigint[], %s::int[]) WITH ORDINALITY AS n(span, sid, k) "
                    "WHERE u.sid = n.sid AND (u.chunk_span IS NULL OR u.chunk_span < n.span)",
                    (pg_array([x[0] for x in spans]), pg_array([x[1] for x in spans])))
    else:
        cur.executemany("UPDATE telemetry_units SET chunk_span = ? WHERE sid = ? AND "
                        "(chunk_span IS NULL OR chunk_span < ?)", spans)
    write_chunks(conn, built.chunk_rows)
    built.chunk_rows.clear()  # written: not held through the snapshot work that follows


def remove(conn: Connection, ids: list[int]) -> None:
    """Delete folded staged rows (their readings are in chunks, written in this
    transaction). On SQLite without ``secure_delete`` (on by default in Debian's build): it
    zeroes every freed page, and a staged row's ~1 MB spans ~250 overflow pages, all written
    to the WAL and checkpointed again — for readings that live on in the chunks just written
    (measured: 0.88 → 0.75 µs per reading under the write lock for the whole fold). Other
    deletes (retention) keep the connection's setting."""
    cur = _cursor(conn)
    sql = _q(conn, f"DELETE FROM telemetry_staging WHERE id IN ({', '.join('?' * len(ids))})")
    if _pg(conn):
        cur.execute(sql, ids)
        return
    cur.execute("PRAGMA secure_delete")
    (before,) = cur.fetchone()
    cur.execute("PRAGMA secure_delete = 0")
    try:
        cur.execute(sql, ids)
    finally:
        cur.execute(f"PRAGMA secure_delete = {int(before)}")


def fold(where: Session | Connection, *, rows: int = FOLD_ROWS, whole: bool = False) -> int:
    """Move up to ``rows`` of the oldest staged rows into chunks (one chunk per unit and
    clock hour of them), and the readings of those whose snapshots were left to the fold
    into their units' snapshots and alerts (``snapshots.apply_staged``, once per unit for
    all of them), in the caller's transaction; returns how many readings moved. On
    PostgreSQL concurrent folders take different rows (``SKIP LOCKED``). The background
    folder does the same in two phases, most of the work outside the write lock
    (``telemetry.folding``). ``whole``: nothing (0) unless a whole fold is staged
    (:func:`take`)."""
    session = _session(where)
    conn = session.connection()
    taken, full = take(conn, rows)
    if not taken or (whole and not full):
        return 0
    built = build(taken)
    del taken  # the packed rows are not needed past here: a lower peak
    store(conn, built)
    if built.groups:
        from robopass.telemetry import snapshots

        snapshots.apply_staged(session, built.columns, built.groups, folded=built.ids)
    remove(conn, built.ids)
    return len(built.columns[0])


def write_chunks(conn: Connection, rows: list[tuple[int, int, int, int, bytes]]) -> None:
    """Insert chunk rows ``(sid, at, last_at, n, data)``: COPY on PostgreSQL."""
    if not rows:
        return
    cur = _cursor(conn)
    if _pg(conn):
        with cur.copy("COPY telemetry_chunks (sid, at, last_at, n, data) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        cur.executemany("INSERT INTO telemetry_chunks (sid, at, last_at, n, data) "
                        "VALUES (?, ?, ?, ?, ?)", rows)


def fold_all(where: Session | Connection) -> int:
    """Fold every staged row (in the caller's transaction)."""
    session = _session(where)
    total = 0
    while moved := fold(session, rows=FOLD_ROWS):
        total += moved
    return total


def run_folder(url: str, *, stop: threading.Event, interval: float = 1.0) -> None:
    """Fold staged readings of ``url`` every ``interval`` seconds until ``stop`` is set, in
    two phases (``telemetry.folding``: most of the work outside the write lock).

    Each round folds whole groups of :data:`FOLD_ROWS` rows (or of :data:`FOLD_UNITS`
    units) and leaves less for the next (a unit's readings in one fold share its chunk and
    its one snapshot update: a fold of 8 rows costs ~30 % less CPU per reading than one of
    4, measured); rows that waited a
    whole round are folded however few, so a reading's snapshot and alerts wait at most
    about two rounds."""
    from robopass.telemetry import folding

    left: int | None = None  # the oldest row the last round left staged
    while not stop.wait(interval):
        try:
            while not stop.is_set() and folding.fold_once(url, rows=FOLD_ROWS, whole=True):
                pass
            oldest = folding.oldest_staged(url)
            if oldest is not None and oldest == left:
                while not stop.is_set() and folding.fold_once(url, rows=FOLD_ROWS):
                    pass
                oldest = None
            left = oldest
        except Exception:  # a failed fold leaves the rows staged; the next one retries
            log.exception("telemetry fold failed")


def start_background_folder(url: str, *, interval: float = 1.0) -> threading.Event:
    """Start a daemon thread folding staged readings of ``url``; set the event to stop it."""
    stop = threading.Event()
    threading.Thread(target=run_folder, args=(url,), kwargs={"stop": stop,
                                                            "interval": interval},
                     name="robopass-telemetry-fold", daemon=True).start()
    return stop
