"""Recording lifecycle events under the rules (SPEC §4), ledgered in the same transaction.

Batches are all or nothing: every event is checked against the state left by the events before
it (in the batch too), and a single refusal refuses the whole batch. Refused attempts are
recorded by :func:`record_refusals` in a separate transaction, after the rollback, so the
regulator sees them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from robopass import canonical, gate
from robopass.auth.service import Actor
from robopass.components import service as component_service
from robopass.db import bulk_insert, db_timestamp
from robopass.errors import RobopassError
from robopass.federation import handover
from robopass.ids import new_id
from robopass.ledger import service as ledger_service
from robopass.lifecycle import facts as lifecycle_facts
from robopass.lifecycle import rules
from robopass.lifecycle.models import Event, FraudAlert, RefusedAttempt
from robopass.lifecycle.plan import (
    EventRequest,
    Plan,
    PlannedEvent,
    Recorder,
    UnitPlan,
    compact_codes,
    plan_events,
    refusal_of,
)
from robopass.organizations.models import Organization
from robopass.robots.models import Unit
from robopass.stats import counts as unit_counts
from robopass.stats import supply as supply_counts
from robopass.timeutil import rfc3339, utcnow

__all__ = ["Attempt", "EventRefused", "EventRequest", "record_events", "record_refusals",
           "replay_state"]

_STATUS_ERRORS = {403: "forbidden", 404: "not_found", 409: "rule_violation",
                  422: "invalid_input"}


@dataclass
class Attempt:
    code_input: str
    type: str
    error_code: str
    message: str
    fraud: bool


class EventRefused(RobopassError):
    """The event (or one event of a batch) was refused; nothing was written."""

    def __init__(self, refusal: rules.Refusal, *, index: int | None, attempts: list[Attempt],
                 code_input: str) -> None:
        extra: dict[str, Any] = {"code_input": code_input, **refusal.extra}
        if index is not None:
            extra["index"] = index
        if refusal.field:
            extra["field"] = refusal.field
        message = refusal.message if index is None else f"events[{index}]: {refusal.message}"
        super().__init__(message, code=refusal.code, **extra)
        self.status = refusal.status
        self.attempts = attempts


_EVENT_COLUMNS = ("id", "code", "seq", "type", "at", "recorded_at", "organization_id",
                  "to_organization_id", "details", "ledger_index", "corrected")


def event_record(*, id: str, code: str, type: str, at: str, recorded_at: str, organization: str,
                 to_organization: str | None, details: dict[str, Any]) -> dict[str, Any]:
    """The full stored record of an event; its digest is in the ledger leaf."""
    return {"id": id, "code": code, "type": type, "at": at, "recorded_at": recorded_at,
            "organization": organization, "to_organization": to_organization,
            "details": details}


def _refuse(refusal: rules.Refusal, req: EventRequest, index: int | None) -> EventRefused:
    attempt = Attempt(code_input=str(req.code)[:100], type=str(req.type)[:40],
                      error_code=refusal.code, message=refusal.message, fraud=refusal.fraud)
    return EventRefused(refusal, index=index, attempts=[attempt], code_input=str(req.code)[:100])


def record_events(session: Session, *, actor: Actor, requests: Sequence[EventRequest],
                  batch: bool = False, now: datetime | None = None) -> list[dict[str, Any]]:
    """Check and record events; returns their API representations. Raises EventRefused.

    Three steps: load the facts the rules need in bulk (:mod:`.facts`), plan every event
    purely over them (:func:`.plan.plan_events`: a refusal or a planned change each), then
    apply the plan in one go (events, ledger leaves, unit states, side effects).
    """
    now = now or utcnow()
    scope_orgs = frozenset(session.scalars(gate.orgs_in_scope(actor))) \
        if actor.is_regulator and actor.scope_province else frozenset()
    recorder = Recorder(id=actor.id, roles=actor.roles, scope_province=actor.scope_province,
                        scope_orgs=scope_orgs)
    codes = sorted({c for c in compact_codes(requests) if c})
    facts = lifecycle_facts.batch_facts(session, recorder=recorder, requests=requests,
                                        codes=codes, now=now)
    plan = plan_events(facts, recorder, requests)
    if plan.refusal is not None:
        index, refusal = plan.refusal
        raise _refuse(refusal, requests[index], index if batch else None)
    # the supply-chain counts need the bindings of the units the batch may re-bind, before
    touched = {p.code for p in plan.events if _changes_bindings(p)}
    held = supply_counts.bound(session, touched)
    out = _apply(session, actor=actor, plan=plan, requests=requests, batch=batch, now=now)
    unit_counts.record_changes(session, facts.units, plan.units)  # the dashboard's counts
    supply_counts.record_changes(session, plan.units, touched=touched, held=held)
    return out


def _changes_bindings(planned: PlannedEvent) -> bool:
    """Whether :func:`_side_effects` binds or releases components for this event."""
    return ((planned.type == "manufactured" and bool(planned.details.get("components")))
            or planned.type == "component_replaced" or planned.type in rules.TERMINAL)


def _side_effects(session: Session, actor: Actor, planned: PlannedEvent, event_id: str,
                  pending: list[component_service.PendingBinding]) -> None:
    """The storage-side part of an event: recall remedies, component bindings (these refuse
    by raising RobopassError, turned into the event's refusal by the caller)."""
    if planned.type == "recall_remedied":
        from robopass.recalls import service as recall_service

        recall_service.remedy_for_event(session, code=planned.code,
                                        recall_id=str(planned.details["recall_id"]),
                                        event_id=event_id, at=planned.at, actor=actor)
    elif not _changes_bindings(planned):
        return
    elif planned.type == "manufactured":
        pending.extend(component_service.PendingBinding(
            index=planned.index, code=planned.code, event_id=event_id, at=planned.at,
            spec=spec, field=field) for spec, field in
            component_service.parse_components(planned.details))
    else:  # component_replaced, recycled, scrapped
        component_service.apply_event(session, code=planned.code, event_type=planned.type,
                                      details=planned.details, event_id=event_id,
                                      at=planned.at, actor=actor)


def _apply(session: Session, *, actor: Actor, plan: Plan, requests: Sequence[EventRequest],
           batch: bool, now: datetime) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    event_rows: list[tuple[Any, ...]] = []
    leaves: list[ledger_service.LeafInput] = []
    pending: list[component_service.PendingBinding] = []
    recorded_at = rfc3339(now) or ""
    stamps: dict[datetime, Any] = {}
    for planned in plan.events:
        event_id = new_id("evt")
        try:
            _side_effects(session, actor, planned, event_id, pending)
        except RobopassError as exc:
            raise _refuse(refusal_of(exc), requests[planned.index],
                          planned.index if batch else None) from None
        code, details, at_text = planned.code, planned.details, planned.at_text
        record = event_record(id=event_id, code=code, type=planned.type, at=at_text,
                              recorded_at=recorded_at, organization=actor.id,
                              to_organization=planned.to_organization, details=details)
        # The record's own fields are registry-made strings; only details come from the
        # client, so when they are JCS-safe orjson with sorted keys is the JCS form.
        record_bytes = (orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
                        if canonical.fast_path_ok(details) else canonical.canonical_json(record))
        leaves.append(ledger_service.LeafInput(kind="event", code=code, type=planned.type,
                                               at=at_text, id=event_id, record=record_bytes))
        event_rows.append((event_id, code, planned.seq, planned.type,
                           _stamp(session, stamps, planned.at), _stamp(session, stamps, now),
                           actor.id, planned.to_organization, planned.details_json))
        out.append({"id": event_id, "code": code, "type": planned.type, "at": at_text,
                    "organization": actor.id, "to_organization": planned.to_organization,
                    "details": details, "corrected": False})
    try:
        component_service.bind_batch(session, pending)
    except component_service.BindingRefused as refused:
        raise _refuse(refusal_of(refused.error), requests[refused.index],
                      refused.index if batch else None) from None
    first = ledger_service.append(session, leaves)
    for i, item in enumerate(out):
        item["ledger_index"] = first + i
    bulk_insert(session, "events", _EVENT_COLUMNS,
                [(*row, first + i, False) for i, row in enumerate(event_rows)])
    for corrected_id, code in plan.corrections:
        session.execute(update(Event).where(Event.id == corrected_id).values(corrected=True))
        from robopass.recalls import service as recall_service  # a corrected remedy reopens

        recall_service.undo_remedy(session, code=code, event_id=corrected_id)
        plan.units[code].state = replay_state(session, code)
    _write_states(session, plan.units)
    _tell_new_parties_of_recalls(session, plan.units)
    # SPEC §16 hand-over: an imported unit's end is reported to its origin registry.
    handover.queue_terminal_reports(session, {
        code: (w.state.status, w.last_at or now) for code, w in plan.units.items()
        if w.changed and w.state.status in rules.TERMINAL and w.initial.status != w.state.status})
    return out


#: UnitState field → units column written back after a batch.
_STATE_FIELDS = ("status", "owner_id", "operator_id", "status_before_suspension",
                 "suspended_by_authority", "recycler_id", "firmware", "province", "city",
                 "scenario", "pilot_id", "policy_version")
_STATE_INDEX = tuple(rules.UnitState._fields.index(f) for f in _STATE_FIELDS)


def _write_states(session: Session, working: dict[str, UnitPlan]) -> None:
    """Write changed unit states back, one driver-level executemany per set of changed
    columns: SQLite rewrites an index only for columns in the SET list, so a batch of
    ``manufactured`` events does not touch the owner, operator or province indexes."""
    groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    stamps: dict[datetime, Any] = {}
    for code, w in working.items():
        if not w.changed:
            continue
        new, old = w.state, w.initial
        changed = [k for k, i in enumerate(_STATE_INDEX) if new[i] != old[i]]
        cols = tuple(_STATE_FIELDS[k] for k in changed)
        values = tuple(new[_STATE_INDEX[k]] for k in changed)
        groups.setdefault(cols, []).append(
            (*values, _stamp(session, stamps, w.last_at), w.seq, code))
    conn = session.connection()
    ph = "%s" if conn.dialect.name == "postgresql" else "?"
    for cols, rows in groups.items():
        sets = ", ".join(f"{c} = {ph}" for c in (*cols, "last_event_at", "event_count"))
        conn.exec_driver_sql(f"UPDATE units SET {sets} WHERE code = {ph}", rows)


def _tell_new_parties_of_recalls(session: Session, working: dict[str, UnitPlan]) -> None:
    """A unit with open recalls that got a new owner or operator (deployed to an operator,
    say: recalls block sale and transfer, not deployment): the newcomer learns of the recalls
    as the owners and operators did when they opened. Costs nothing for units without open
    recalls (the batch path's common case)."""
    parties: dict[str, set[str]] = {}
    for code, w in working.items():
        new, old = w.state, w.initial
        if not w.changed or not new.open_recalls:
            continue
        joined = {new.owner_id, new.operator_id} - {old.owner_id, old.operator_id, None}
        if joined:
            parties[code] = joined  # type: ignore[assignment]
    if parties:
        from robopass.recalls import service as recall_service

        recall_service.notify_new_parties(session, parties)


def _stamp(session: Session, memo: dict[datetime, Any], value: datetime | None) -> Any:
    if value is None:
        return None
    if value not in memo:
        memo[value] = db_timestamp(session, value)
    return memo[value]


def replay_state(session: Session, code: str, as_of: datetime | None = None) -> rules.UnitState:
    """Fold the unit's non-corrected events (up to ``as_of``) from its initial state."""
    unit = session.get(Unit, code)
    assert unit is not None
    query = select(Event.type, Event.to_organization_id, Event.details, Event.organization_id,
                   Organization.roles).join(Organization, Organization.id == Event.organization_id
                                            ).where(Event.code == code,
                                                    Event.corrected.is_(False))
    if as_of is not None:
        query = query.where(Event.at <= as_of)
    pairs = [(rules.EventInput(type=t, to_organization=to, details=d or {}),
              "regulator" in roles)
             for t, to, d, _org, roles in session.execute(query.order_by(Event.seq))]
    state = rules.fold(rules.UnitState.initial(unit.manufacturer_id), pairs)
    if as_of is None:
        state = state._replace(open_recalls=int(unit.open_recalls or 0))
    return state


def record_refusals(session: Session, *, actor: Actor | None, attempts: Sequence[Attempt]) -> None:
    """Store refused attempts and fraud alerts (called in its own transaction)."""
    now = utcnow()
    for a in attempts:
        session.add(RefusedAttempt(id=new_id("ref"), code_input=a.code_input, type=a.type,
                                   organization_id=actor.id if actor else None,
                                   error_code=a.error_code, message=a.message[:1000],
                                   created_at=now))
        if a.fraud:
            kind = ("scrapped_unit_resale" if a.error_code == "terminal_unit"
                    else "invalid_code_market_event")
            alert = FraudAlert(id=new_id("fraud"), kind=kind, code_input=a.code_input,
                               organization_id=actor.id if actor else None,
                               message=f"{a.type}: {a.message}"[:1000], created_at=now)
            session.add(alert)
            session.flush()
            _notify_fraud(session, alert)


def _notify_fraud(session: Session, alert: FraudAlert) -> None:
    """Tell the regulator through the notification outbox, when subscriptions exist."""
    from robopass.notifications import service as notification_service

    notification_service.notify_regulators(session, topic="fraud_alert", payload={
        "id": alert.id, "kind": alert.kind, "code": alert.code_input,
        "organization": alert.organization_id, "message": alert.message,
        "at": rfc3339(alert.created_at)})


def event_view(event: Event) -> dict[str, Any]:
    return {"id": event.id, "code": event.code, "type": event.type, "at": rfc3339(event.at),
            "organization": event.organization_id, "to_organization": event.to_organization_id,
            "details": event.details or {}, "ledger_index": event.ledger_index,
            "corrected": bool(event.corrected), "recorded_at": rfc3339(event.recorded_at)}


def history(session: Session, code: str) -> list[Event]:
    return list(session.scalars(select(Event).where(Event.code == code).order_by(Event.seq)))
