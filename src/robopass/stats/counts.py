"""Unit counts kept in step with every write: the dashboard's O(units) figures without a scan.

``unit_counts`` holds one row per (status, manufacturer, province, scenario, production
month, issue month) with the number of units in it. Every code path that creates a unit or
changes one of those fields adds its deltas here, in its own transaction:

* issuance (:func:`robopass.robots.service.issue_codes`) and CSV import: :func:`add_new`;
* lifecycle events, the single apply step of every event and correction
  (:func:`robopass.lifecycle.service.record_events`): :func:`record_changes`;
* federation admission and hand-over end reports (ORM rows): :func:`add_unit`,
  :func:`change_unit`.

So the figures are exact at every commit, and reading them costs a query over a table of a few
thousand rows whatever the number of units. Contention: issuance, import and event batches
update the counts *after* their ledger append, i.e. while holding the ledger head's row lock
that serialises them anyway, so on PostgreSQL the count rows are never waited for and take part
in no lock cycle (a federation admission, which writes no leaf, touches only its own unit's
row and takes no lock after it); rows are upserted in key order all the same. Cost on the
event path: ~1.1 µs per unit whose status, province or scenario changed, plus one upsert
statement per batch. :func:`recount` derives the same table from ``units`` in one scan;
:func:`differences` compares both (``robopass stats check``; the tests do it after randomised
sequences of events on both databases) and :func:`rebuild` replaces the table with the recount
(``robopass stats rebuild``, and migration 0008 fills it that way).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from robopass.robots.models import Unit
from robopass.stats.models import UnitCount
from robopass.timeutil import as_utc

if TYPE_CHECKING:
    from robopass.lifecycle.plan import UnitPlan, UnitRecord

#: (status, manufacturer_id, province or '', scenario or '', production month, issue month)
Key = tuple[str, str, str, str, str, str]
KEY_COLUMNS = ("status", "manufacturer_id", "province", "scenario", "production_month",
               "issued_month")


def month(value: datetime) -> str:
    """The UTC calendar month of ``value``, ``YYYY-MM``."""
    return as_utc(value).strftime("%Y-%m")


def key(status: str, manufacturer_id: str, province: str | None, scenario: str | None,
        production_month: str, issued_month: str) -> Key:
    return (status, manufacturer_id, province or "", scenario or "", production_month,
            issued_month)


def add(session: Session, deltas: Mapping[Key, int]) -> None:
    """Add ``deltas`` to the stored counts (rows created as needed), in key order."""
    rows = [(*k, n) for k, n in sorted(deltas.items()) if n]
    if not rows:
        return
    conn = session.connection()
    ph = "%s" if conn.dialect.name == "postgresql" else "?"
    cols = ", ".join(KEY_COLUMNS)
    conn.exec_driver_sql(
        f"INSERT INTO unit_counts ({cols}, units) VALUES ({', '.join([ph] * 7)}) "
        f"ON CONFLICT ({cols}) DO UPDATE SET units = unit_counts.units + excluded.units", rows)


def add_new(session: Session, units: Iterable[tuple[str, str | None, str]], *,
            issued_at: datetime, status: str = "coded") -> None:
    """Count new units, given as (manufacturer_id, province, production month) each."""
    issued = month(issued_at)
    deltas: dict[Key, int] = {}
    for maker, province, produced in units:
        k = key(status, maker, province, None, produced, issued)
        deltas[k] = deltas.get(k, 0) + 1
    add(session, deltas)


def record_changes(session: Session, records: Mapping[str, UnitRecord],
                   working: Mapping[str, UnitPlan]) -> None:
    """Move the units whose status, province or scenario an event batch changed (``working``:
    the batch's final states against the stored ones; ``records``: what was loaded)."""
    deltas: dict[Key, int] = {}
    months: dict[datetime, str] = {}  # a batch's units share a few months: format each once
    for code, w in working.items():
        old, new = w.initial, w.state
        if not w.changed or (old.status == new.status and old.province == new.province
                             and old.scenario == new.scenario):
            continue
        rec = records[code]
        produced = months.get(rec.month_start) or months.setdefault(rec.month_start,
                                                                    month(rec.month_start))
        issued = months.get(rec.issued_at) or months.setdefault(rec.issued_at,
                                                                month(rec.issued_at))
        before = key(old.status, old.manufacturer_id, old.province, old.scenario, produced,
                     issued)
        after = key(new.status, new.manufacturer_id, new.province, new.scenario, produced,
                    issued)
        deltas[before] = deltas.get(before, 0) - 1
        deltas[after] = deltas.get(after, 0) + 1
    add(session, deltas)


def _unit_key(unit: Unit, **changes: Any) -> Key:
    f = {"status": unit.status, "province": unit.province, "scenario": unit.scenario, **changes}
    return key(f["status"], unit.manufacturer_id, f["province"], f["scenario"],
               unit.production_month, month(unit.issued_at))


def add_unit(session: Session, unit: Unit) -> None:
    """Count one unit written through the ORM (federation admission)."""
    add(session, {_unit_key(unit): 1})


def change_unit(session: Session, unit: Unit, **changes: Any) -> None:
    """Count ``unit`` (as stored) under the fields ``changes`` gives it; call before the ORM
    assignment."""
    before, after = _unit_key(unit), _unit_key(unit, **changes)
    if before != after:
        add(session, {before: -1, after: 1})


# ----------------------------------------------------------------------------- recount

def _recount_query(session: Session) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        issued = func.to_char(func.timezone("UTC", Unit.issued_at), "YYYY-MM")
    else:
        issued = func.substr(Unit.issued_at, 1, 7)
    dims = (Unit.status, Unit.manufacturer_id, func.coalesce(Unit.province, ""),
            func.coalesce(Unit.scenario, ""), Unit.production_month, issued)
    return select(*dims, func.count()).group_by(*dims)


def recount(session: Session) -> dict[Key, int]:
    """The counts derived from ``units`` (one scan)."""
    return {tuple(row[:6]): int(row[6])  # type: ignore[misc]
            for row in session.execute(_recount_query(session))}


def stored(session: Session) -> dict[Key, int]:
    """The maintained counts (rows at 0 left out)."""
    cols = [getattr(UnitCount, c) for c in KEY_COLUMNS]
    return {tuple(row[:6]): int(row[6])  # type: ignore[misc]
            for row in session.execute(select(*cols, UnitCount.units).where(UnitCount.units != 0))}


def compare(have: Mapping[Any, int], want: Mapping[Any, int],
            columns: tuple[str, ...]) -> list[dict[str, Any]]:
    """The keys where maintained counts (``have``) and a recount (``want``) disagree, each as
    ``{column: value, ..., stored, recounted}`` (empty when they agree)."""
    return [{**dict(zip(columns, k, strict=True)), "stored": have.get(k, 0),
             "recounted": want.get(k, 0)}
            for k in sorted(set(have) | set(want)) if have.get(k, 0) != want.get(k, 0)]


def differences(session: Session) -> list[dict[str, Any]]:
    """Where the maintained counts and the recount disagree (empty when they agree)."""
    return compare(stored(session), recount(session), KEY_COLUMNS)


def rebuild(session: Session) -> int:
    """Replace the maintained counts by the recount; returns the number of rows."""
    counts = recount(session)
    session.execute(delete(UnitCount))
    add(session, counts)
    return len(counts)
