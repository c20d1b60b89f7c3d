"""The background fold in two phases: the work outside the write lock (SPEC §7, §10).

:func:`staging.fold` does everything in the caller's write transaction; on SQLite that holds
the single writer lock (measured on the live shape: ~20 µs of CPU per reading, ~60 % of the
wall time, while the server workers waited for it). The folder thread of ``robopass serve``
folds in two phases instead:

1. :func:`prepare`, in a read transaction (no lock): read the oldest staged rows, unpack
   them, encode their chunks, read the units' snapshot state and plan the snapshot update
   (``snapshots.plan``: metrics, trend, ``dirty_from``, ``first_at``). A unit whose alerts
   must be evaluated (a rule newly broken or mended, or a late reading while an alert is
   open) is left to the second phase whole: that work reads and writes the alerts.
2. :func:`commit`, in a short write transaction: check that the staged rows are still there
   (another folder, a health read or retention may have folded them: then fold in the lock,
   :func:`staging.fold`), insert the chunks, widen ``chunk_span`` (a maximum the statement
   keeps itself, so nothing read earlier goes stale), write each planned snapshot with a
   guard — its ``WHERE`` holds every state column the plan read (``at``, the trend's day
   and time, ``alert_keys``, ``dirty_from``, ``first_at``, and the trend text when merged
   into). If another writer changed any of them in between (an ingest of a small batch
   updates snapshots itself; retention clears ``dirty_from``), the guarded writes are
   rolled back to a savepoint and the changed units are found by reading their state under
   the lock and folded there (``snapshots.apply_staged``, as before); the others are
   written as planned. Then the staged rows are deleted, in the same transaction.

So the result is always that of folding under the lock at commit time; the lock is held
only for the inserts, one guarded update per unit and the delete. The server's folder uses
this on SQLite; on PostgreSQL :func:`fold_once` folds in one transaction (no single writer
lock there to keep short).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy.orm import Session

from robopass.db import dialect_name
from robopass.telemetry import snapshots, staging

#: The state columns a plan reads: a snapshot write is guarded on all of them.
GUARD = ("at", "trend_day", "trend_last_at", "alert_keys", "dirty_from", "first_at")
_SET = ("at", *snapshots.SNAP_COLUMNS, "trend", "trend_day", "trend_last_at", "dirty_from",
        "first_at")
_NO_METRICS = (None,) * (1 + len(snapshots.SNAP_COLUMNS))
#: Tests: called between the two phases (another writer's turn).
between_phases: Callable[[], None] | None = None


@dataclass(slots=True)
class Prepared:
    """The read phase's work: the chunks, the planned snapshot writes and what is left to
    the lock."""

    built: staging.Built
    #: one per planned unit: ``(*new values in _SET order, sid, *old GUARD values,
    #: trend guarded 0/1, old trend)``
    rows: list[tuple[Any, ...]]
    #: sid → positions of the units folded under the lock (alerts to evaluate)
    locked: dict[int, list[int]]
    #: sid → the ``chunk_span`` the plan read (it only grows)
    spans: dict[int, int | None]


def prepare(session: Session, *, rows: int = staging.FOLD_ROWS, whole: bool = False
            ) -> Prepared | None:
    """Phase 1, in a read transaction: None when nothing is staged (``whole``: when less
    than a whole fold is, ``staging.take``)."""
    taken, full = staging.take(session.connection(), rows, lock=False)
    if not taken or (whole and not full):
        return None
    built = staging.build(taken)
    del taken  # the packed rows (~1 MB each) are not needed past here: a lower peak
    if not built.groups:
        return Prepared(built, [], {}, {})
    snaps, code_of = snapshots.staged_state(session, sorted(built.groups), lock=False)
    planned, locked = _plan(session, built, snaps, code_of)
    return Prepared(built, planned, locked,
                    {snap["sid"]: snap["chunk_span"] for snap in snaps.values()})


def _plan(session: Session, built: staging.Built, snaps: dict[str, dict[str, Any]],
          code_of: dict[int, str]) -> tuple[list[tuple[Any, ...]], dict[int, list[int]]]:
    groups = built.groups
    guard = itemgetter(*GUARD)
    before = {code: guard(snap) for code, snap in snaps.items()}
    batch = snapshots.staged_batch(session, built.columns, code_of)
    plan = snapshots.plan(batch, snaps, {code_of[sid]: pos for sid, pos in groups.items()})
    hard = set(plan.check) | {c for c in plan.late_units
                              if snaps[c]["alert_keys"] not in (None, "[]")}
    seen: dict[str, str | None] = {}
    trend_days = {c: days for c, days in plan.trend_days.items() if c not in hard}
    trends = snapshots._merge_trends(session, snaps, trend_days, seen) if trend_days else {}
    metrics = {row[-2]: row[:-2] for row in plan.metric_rows}  # sid -> (at, *metrics)
    out: list[tuple[Any, ...]] = []
    for code, snap in snaps.items():
        if code in hard:
            continue
        sid = snap["sid"]
        out.append((*metrics.get(sid, _NO_METRICS), trends.get(code), snap["trend_day"],
                    snap["trend_last_at"], snap["dirty_from"], snap["first_at"], sid,
                    *before[code], int(code in seen), seen.get(code)))
    return out, {sid: groups[sid] for sid, code in code_of.items() if code in hard}


def commit(session: Session, prepared: Prepared) -> int:
    """Phase 2, in the caller's write transaction: returns how many readings moved."""
    conn = session.connection()
    built = prepared.built
    if not _still_staged(session, built.ids):  # folded meanwhile: fold what is left, locked
        return staging.fold(session)
    # on PostgreSQL: the units' rows locked in sid order
    staging.store(conn, built, known=prepared.spans)
    locked = dict(prepared.locked)
    if prepared.rows:
        cur = snapshots.cursor(session)
        cur.execute("SAVEPOINT robopass_fold")
        if _write_guarded(session, prepared.rows) != len(prepared.rows):
            cur.execute("ROLLBACK TO SAVEPOINT robopass_fold")
            ok, changed = _split_changed(session, prepared.rows)
            if ok:
                _write_guarded(session, ok)  # under the lock: these still match
            locked.update((sid, built.groups[sid]) for sid in changed)
        cur.execute("RELEASE SAVEPOINT robopass_fold")
    if locked:
        snapshots.apply_staged(session, built.columns, locked, folded=built.ids)
    staging.remove(conn, built.ids)
    return len(built.columns[0])


def fold_once(url: str, *, rows: int = staging.FOLD_ROWS, two_phase: bool | None = None,
              whole: bool = False) -> int:
    """One fold of ``url``'s oldest staged rows; returns how many readings moved (0: nothing
    staged, or ``whole`` and less than a whole fold staged: ``staging.take``). ``two_phase``
    None: on SQLite in two phases; on PostgreSQL in one transaction — there is no single
    writer lock to keep short there (the fold locks only its units' snapshot rows, which
    ingest does not take), and one transaction is faster: two phases read the units' state
    twice (measured, 10,000 units × 4 staged rows: 8.1 µs wall per reading in one
    transaction, 11.9 in two)."""
    from robopass.db import (
        close_after,
        is_sqlite,
        reading,
        shrink_after,
        transaction,
        write_session,
    )

    if not (is_sqlite(url) if two_phase is None else two_phase):
        with write_session(url) as session, transaction(session, ledger=False):
            moved = staging.fold(session, rows=rows, whole=whole)
            if moved:  # its libpq buffers grew to the fold's messages: not kept in the pool
                close_after(session)
            return moved
    with reading(url) as session:
        shrink_after(session)  # the fold's pages need not stay in any cache (RSS)
        prepared = prepare(session, rows=rows, whole=whole)
    if prepared is None:
        return 0
    if between_phases is not None:
        between_phases()
    with write_session(url) as session, transaction(session, ledger=False):
        shrink_after(session)
        return commit(session, prepared)


def oldest_staged(url: str) -> int | None:
    """The id of ``url``'s oldest staged row (None: nothing staged)."""
    from robopass.db import reading

    with reading(url) as session:
        return staging.oldest(session.connection())


def _still_staged(session: Session, ids: list[int]) -> bool:
    """Whether the staged rows are all still there (on PostgreSQL: locked by this fold)."""
    if dialect_name(session) == "postgresql":
        got = snapshots.query(session, "SELECT id FROM telemetry_staging WHERE id = "
                                       "ANY(?::bigint[]) FOR UPDATE SKIP LOCKED",
                              [snapshots.pg_array(ids)])
        return len(got) == len(ids)
    got = snapshots.query(session, "SELECT count(*) FROM telemetry_staging WHERE id IN "
                                   f"({', '.join('?' * len(ids))})", ids)
    return int(got[0][0]) == len(ids)


def _split_changed(session: Session, rows: list[tuple[Any, ...]]
                   ) -> tuple[list[tuple[Any, ...]], list[int]]:
    """Planned rows whose units' state is still what the plan read, and the sids of the
    others (read under the lock)."""
    at_sid = len(_SET)
    state = {row[0]: row[1:] for row in snapshots._in(
        session, f"SELECT sid, {', '.join(GUARD)}, trend FROM telemetry_units "
                 "WHERE sid IN ({})", [row[at_sid] for row in rows])}
    ok: list[tuple[Any, ...]] = []
    changed: list[int] = []
    for row in rows:
        now = state[row[at_sid]]
        old = row[at_sid + 1:at_sid + 1 + len(GUARD)]
        if now[:-1] == old and (not row[-2] or now[-1] == row[-1]):
            ok.append(row)
        else:
            changed.append(row[at_sid])
    return ok, changed


_SQLITE = ("UPDATE telemetry_units SET "
           + ", ".join(f"{c} = COALESCE(?{k}, {c})" for k, c in enumerate(_SET[:10], 1))
           + ", " + ", ".join(f"{c} = ?{k}" for k, c in enumerate(_SET[10:], 11))
           + f" WHERE sid = ?{len(_SET) + 1} AND "
           + " AND ".join(f"{c} IS ?{k}" for k, c in enumerate(GUARD, len(_SET) + 2))
           + f" AND (?{len(_SET) + len(GUARD) + 2} = 0 OR trend IS ?{len(_SET) + len(GUARD) + 3})")
_PG_TYPES = ("bigint", "float8", "bigint", "float8", "float8", "float8", "text", "text",
             "text", "text", "bigint", "bigint", "bigint", "bigint", "int", "bigint", "bigint",
             "bigint", "text", "bigint", "bigint", "int", "text")
_PG_NAMES = (*_SET, "sid", *[f"o_{c}" for c in GUARD], "tg", "o_trend")
_PG = ("UPDATE telemetry_units u SET "
       + ", ".join(f"{c} = COALESCE(n.{c}, u.{c})" for c in _SET[:10]) + ", "
       + ", ".join(f"{c} = n.{c}" for c in _SET[10:])
       + " FROM (SELECT "
       + ", ".join(f"(e->>{k})::{t} AS {name}"
                   for k, (name, t) in enumerate(zip(_PG_NAMES, _PG_TYPES, strict=True)))
       + " FROM json_array_elements(%s::json) AS e) AS n WHERE u.sid = n.sid AND "
       + " AND ".join(f"u.{c} IS NOT DISTINCT FROM n.o_{c}" for c in GUARD)
       + " AND (n.tg = 0 OR u.trend IS NOT DISTINCT FROM n.o_trend)")


def _write_guarded(session: Session, rows: list[tuple[Any, ...]]) -> int:
    """Write the planned snapshot rows where the state is still what the plan read; returns
    how many were written. A metric the newer reading lacks keeps its value."""
    cur = snapshots.cursor(session)
    if dialect_name(session) == "postgresql":
        cur.execute(_PG, (orjson.dumps(rows).decode(),))
    else:
        cur.executemany(_SQLITE, rows)
    return int(cur.rowcount)

