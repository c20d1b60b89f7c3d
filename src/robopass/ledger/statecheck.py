"""Re-derive every unit's state from its events and compare it with the stored row (SPEC §12).

The ``units`` row keeps the current state (status, owner, operator, location, firmware, open
recalls) so checks are O(1); it is derived data, and the ledger alone does not protect it:
``UPDATE units SET status='scrapped'`` changes no event and no leaf. So ``robopass ledger
verify`` also folds each unit's uncorrected events with the same pure rules the write path
uses (:func:`robopass.lifecycle.rules.fold`) and compares:

* ``status``, ``owner_id``, ``operator_id`` — from the events alone (a unit starts ``coded``,
  owned by its manufacturer);
* ``province``, ``city``, ``firmware`` — from the events; a unit whose events never set one
  keeps the value it was issued with (CSV import), which no event records;
* ``open_recalls`` — the count of its unremedied ``recall_units`` rows of campaigns not closed.

Imported units start from the status their origin registry's passport claimed, and the owner
they were admitted to. Work is set-based: units are read in keyset-ordered chunks, each
chunk's events in one ordered query.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from robopass.federation.models import ImportedRobot
from robopass.lifecycle import rules
from robopass.lifecycle.models import Event
from robopass.organizations.models import Organization
from robopass.recalls.models import Recall, RecallUnit
from robopass.robots.models import Unit

CHUNK = 5000
FIELDS = ("status", "owner_id", "operator_id", "province", "city", "firmware", "open_recalls")
#: Fields a unit keeps from its issuance when no event sets them.
ISSUED_WITH = ("province", "city", "firmware")


@dataclass(frozen=True)
class Difference:
    code: str
    field: str
    stored: Any
    derived: Any

    def __str__(self) -> str:
        return (f"unit {self.code}: {self.field} is {self.stored!r} in the units table, "
                f"but its events say {self.derived!r}")


_UNIT_COLUMNS = (Unit.code, Unit.manufacturer_id, Unit.imported, *(
    getattr(Unit, f) for f in FIELDS))


def _units(session: Session, after: str | None) -> list[Any]:
    query = select(*_UNIT_COLUMNS).order_by(Unit.code).limit(CHUNK)
    if after is not None:
        query = query.where(Unit.code > after)
    return list(session.execute(query))


def _events(session: Session, first: str, last: str) -> Iterator[Any]:
    return iter(session.execute(
        select(Event.code, Event.type, Event.organization_id, Event.to_organization_id,
               Event.details)
        .where(Event.code >= first, Event.code <= last, Event.corrected.is_(False))
        .order_by(Event.code, Event.seq)))


def _open_recalls(session: Session, first: str, last: str) -> dict[str, int]:
    return dict(session.execute(  # type: ignore[arg-type]
        select(RecallUnit.code, func.count())
        .join(Recall, Recall.id == RecallUnit.recall_id)
        .where(RecallUnit.code >= first, RecallUnit.code <= last,
               RecallUnit.remedied_at.is_(None), Recall.closed_at.is_(None))
        .group_by(RecallUnit.code)).all())


def _imported_status(session: Session, codes: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for code, claims in session.execute(select(ImportedRobot.code, ImportedRobot.claims)
                                        .where(ImportedRobot.code.in_(codes))):
        status = claims.get("status") if isinstance(claims, dict) else None
        out[code] = status if isinstance(status, str) and status else "sold"
    return out


def regulator_ids(session: Session) -> frozenset[str]:
    rows = session.execute(select(Organization.id, Organization.roles).where(
        cast(Organization.roles, String).like('%"regulator"%')))
    return frozenset(org_id for org_id, roles in rows if "regulator" in roles)


def _initial(row: Any, imported: dict[str, str]) -> rules.UnitState:
    state = rules.UnitState.initial(row.manufacturer_id)
    if row.imported:
        state = state._replace(status=imported.get(row.code, "sold"), owner_id=row.owner_id)
    return state


def _compare(row: Any, state: rules.UnitState, set_by_events: set[str],
             open_recalls: int) -> Iterator[Difference]:
    derived = state._replace(open_recalls=open_recalls)
    for name in FIELDS:
        stored, want = getattr(row, name), getattr(derived, name)
        if name in ISSUED_WITH and name not in set_by_events:
            continue  # issuance data (CSV import): no event to derive it from
        if name == "open_recalls":
            stored = int(stored or 0)
        if stored != want:
            yield Difference(row.code, name, stored, want)


def _fold_unit(row: Any, events: list[Any], regulators: frozenset[str],
               imported: dict[str, str]) -> tuple[rules.UnitState, set[str]]:
    pairs = []
    set_by_events: set[str] = set()
    for _code, etype, org_id, to_org, details in events:
        if isinstance(details, str | bytes):
            details = orjson.loads(details)
        details = details or {}
        for name in ("province", "city"):
            if isinstance(details.get(name), str) and etype in _SETS_LOCATION:
                set_by_events.add(name)
        if etype == "firmware_updated":
            set_by_events.add("firmware")
        pairs.append((rules.EventInput(type=etype, to_organization=to_org, details=details),
                      org_id in regulators))
    return rules.fold(_initial(row, imported), pairs), set_by_events


#: Events whose effect takes ``details.province`` / ``details.city`` (lifecycle.rules.effect).
_SETS_LOCATION = frozenset({"manufactured", "shipped", "sold", "deployed", "transferred"})


def check_units(session: Session, *, progress: Callable[[int], None] | None = None,
                limit: int = 100) -> tuple[int, list[Difference]]:
    """Fold every unit and compare; returns (units checked, up to ``limit`` differences)."""
    regulators = regulator_ids(session)
    differences: list[Difference] = []
    checked = 0
    after: str | None = None
    while len(differences) < limit:
        units = _units(session, after)
        if not units:
            break
        first, last = units[0].code, units[-1].code
        recalls = _open_recalls(session, first, last)
        imported = _imported_status(session, [u.code for u in units if u.imported])
        events = _events(session, first, last)
        pending = next(events, None)
        for row in units:
            mine = []
            while pending is not None and pending[0] == row.code:
                mine.append(pending)
                pending = next(events, None)
            state, set_by_events = _fold_unit(row, mine, regulators, imported)
            differences.extend(_compare(row, state, set_by_events, recalls.get(row.code, 0)))
        checked += len(units)
        after = last
        if progress is not None:
            progress(len(units))
    return checked, differences[:limit]


def count_units(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Unit)) or 0)
