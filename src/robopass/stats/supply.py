"""Supply-chain figures kept in step with every write: the regulator's supply-chain view
(:func:`robopass.stats.service.supply_chain`) without a scan of ``components``.

``supply_counts`` holds, per province prefix (the first two digits of ``units.province``,
``''`` for a unit without a location), the number of *distinct* units that carry at least one
bound component (``components.unit_code`` set) of a (component type, supplier), of a supplier
(type ``''``), and of anything at all (type and supplier ``''``). A unit contributes one to
each key of its *key set*, :func:`unit_keys` (its province prefix × its bound components'
(type, supplier) pairs, plus the two aggregate levels), so a write that changes some units'
components or province adds, for each of them, the difference between its key set after and
before: distinct counts stay exact without a ``COUNT(DISTINCT)``.

Who changes them: component bindings are made and released only by lifecycle events
(``manufactured`` with ``details.components``, ``component_replaced``, ``recycled`` and
``scrapped``, in :mod:`robopass.components.service`), and a unit's province only by lifecycle
events too (``deployed`` and the other events that set a location, corrections that undo
one); both go through the single apply step :func:`robopass.lifecycle.service.record_events`,
which reads the components of the units its batch may re-bind before applying it
(:func:`bound`) and calls :func:`record_changes` after, in the same transaction. Issuance and
CSV import create units without components, federation admission creates a unit without
components or location and an end report changes only its status: none of them changes a key
set. Cost on the event path: nothing for a batch that binds no component and moves no unit to
another province; otherwise one indexed read of ``components`` per 900 such units before and
after, and one upsert statement, taken (like ``unit_counts``') after the ledger append, under
the writer lock that serialises event batches anyway.

:func:`recount` derives the same table from ``components`` joined to ``units`` (three
``COUNT(DISTINCT)`` scans: the old per-worker computation); :func:`differences` compares both
(``robopass stats check``; the tests do it after randomised sequences of writes on both
databases) and :func:`rebuild` replaces the table with the recount (``robopass stats
rebuild``; migration 0011 fills it with the same SQL).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from robopass.stats.models import SupplyCount

if TYPE_CHECKING:
    from robopass.lifecycle.plan import UnitPlan

#: (province prefix or '', component type or '', supplier id or '')
Key = tuple[str, str, str]
#: the (component type, supplier id) pairs of the components bound to a unit
Pairs = frozenset[tuple[str, str]]
KEY_COLUMNS = ("province", "component_type", "supplier_id")
_NONE: Pairs = frozenset()
_CHUNK = 900  # bound parameters per IN list (SQLite's default limit is 999)


def prefix_of(province: str | None) -> str:
    """The province prefix a unit is counted under: what ``Unit.province LIKE 'pp%'`` (the
    provincial scope) matches on."""
    return (province or "")[:2]


def unit_keys(province: str | None, pairs: Iterable[tuple[str, str]]) -> set[Key]:
    """The keys one unit counts once under (empty for a unit without components)."""
    p = prefix_of(province)
    keys: set[Key] = set()
    for ctype, supplier in pairs:
        keys.add((p, ctype, supplier))
        keys.add((p, "", supplier))
    if keys:
        keys.add((p, "", ""))
    return keys


def add(session: Session, deltas: Mapping[Key, int]) -> None:
    """Add ``deltas`` to the stored counts (rows created as needed), in key order."""
    rows = [(*k, n) for k, n in sorted(deltas.items()) if n]
    if not rows:
        return
    conn = session.connection()
    ph = "%s" if conn.dialect.name == "postgresql" else "?"
    cols = ", ".join(KEY_COLUMNS)
    conn.exec_driver_sql(
        f"INSERT INTO supply_counts ({cols}, units) VALUES ({ph}, {ph}, {ph}, {ph}) "
        f"ON CONFLICT ({cols}) DO UPDATE SET units = supply_counts.units + excluded.units",
        rows)


def bound(session: Session, codes: Iterable[str]) -> dict[str, Pairs]:
    """The (type, supplier) pairs of the components bound to each unit of ``codes`` (units
    without any are left out)."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    session.flush()  # read on the connection, past the ORM (39 -> 17 µs per event), so flush
    conn = session.connection()
    select_sql = "SELECT unit_code, component_type, supplier_id FROM components WHERE "
    batches: list[tuple[str, tuple[Any, ...]]]
    if conn.dialect.name == "postgresql":  # one array parameter: planned once, not per code
        batches = [(select_sql + "unit_code = ANY(%s)", ([*wanted],))]
    else:
        batches = [(select_sql + f"unit_code IN ({', '.join('?' * len(chunk))})", tuple(chunk))
                   for chunk in (wanted[i:i + _CHUNK] for i in range(0, len(wanted), _CHUNK))]
    found: dict[str, set[tuple[str, str]]] = {}
    for sql, params in batches:
        for code, ctype, supplier in conn.exec_driver_sql(sql, params):
            found.setdefault(code, set()).add((ctype, supplier))
    return {code: frozenset(pairs) for code, pairs in found.items()}


def _move(deltas: dict[Key, int], before: set[Key], after: set[Key]) -> None:
    for k in before - after:
        deltas[k] = deltas.get(k, 0) - 1
    for k in after - before:
        deltas[k] = deltas.get(k, 0) + 1


def record_changes(session: Session, working: Mapping[str, UnitPlan], *,
                   touched: Iterable[str], held: Mapping[str, Pairs]) -> None:
    """Count an applied event batch: ``touched``, the units whose bindings it may have
    changed, with ``held`` their bound components before it (:func:`bound`, read before the
    batch was applied); ``working``, the batch's final states against the stored ones (the
    provinces before and after). Call after the batch's writes, in its transaction."""
    touched = set(touched)
    moved = {code for code, w in working.items()
             if w.changed and w.initial.province != w.state.province
             and prefix_of(w.initial.province) != prefix_of(w.state.province)}
    codes = touched | moved
    if not codes:
        return
    now = bound(session, codes)
    deltas: dict[Key, int] = {}
    for code in codes:
        w = working[code]
        after = now.get(code, _NONE)
        before = held.get(code, _NONE) if code in touched else after
        _move(deltas, unit_keys(w.initial.province, before), unit_keys(w.state.province, after))
    add(session, deltas)


# ----------------------------------------------------------------------------- recount

#: The recount, per level: the scan the supply-chain view used to run in every worker.
#: Plain SQL shared with migration 0011 (``substr``/``coalesce`` mean the same on both
#: databases).
RECOUNT_SQL = " UNION ALL ".join(
    f"SELECT substr(coalesce(u.province, ''), 1, 2) AS province, {ctype} AS component_type, "
    f"{supplier} AS supplier_id, count(DISTINCT c.unit_code) AS units "
    "FROM components c JOIN units u ON u.code = c.unit_code WHERE c.unit_code IS NOT NULL "
    f"GROUP BY substr(coalesce(u.province, ''), 1, 2){group}"
    for ctype, supplier, group in (
        ("c.component_type", "c.supplier_id", ", c.component_type, c.supplier_id"),
        ("''", "c.supplier_id", ", c.supplier_id"),
        ("''", "''", "")))


def recount(session: Session) -> dict[Key, int]:
    """The counts derived from ``components`` and ``units`` (three scans)."""
    return {(str(p), str(t), str(s)): int(n)
            for p, t, s, n in session.execute(text(RECOUNT_SQL))}


def stored(session: Session) -> dict[Key, int]:
    """The maintained counts (rows at 0 left out)."""
    cols = [getattr(SupplyCount, c) for c in KEY_COLUMNS]
    return {(row[0], row[1], row[2]): int(row[3]) for row in
            session.execute(select(*cols, SupplyCount.units).where(SupplyCount.units != 0))}


def differences(session: Session) -> list[dict[str, Any]]:
    """Where the maintained counts and the recount disagree (empty when they agree)."""
    from robopass.stats.counts import compare

    return compare(stored(session), recount(session), KEY_COLUMNS)


def rebuild(session: Session) -> int:
    """Replace the maintained counts by the recount; returns the number of rows."""
    counts = recount(session)
    session.execute(delete(SupplyCount))
    add(session, counts)
    return len(counts)
