"""Recording lifecycle events under the rules (SPEC §4), ledgered in the same transaction.

Batches are all or nothing: every event is checked against the state left by the events before
it (in the batch too), and a single refusal refuses the whole batch. Refused attempts are
recorded by :func:`record_refusals` in a separate transaction, after the rollback, so the
regulator sees them.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from robopass import canonical, idcode
from robopass.auth.service import Actor
from robopass.components import service as component_service
from robopass.db import bulk_insert, db_timestamp
from robopass.errors import RobopassError
from robopass.federation import handover
from robopass.ids import new_id
from robopass.ledger import service as ledger_service
from robopass.lifecycle import rules
from robopass.lifecycle.models import Event, FraudAlert, RefusedAttempt
from robopass.organizations.models import Organization, ServiceAuthorization
from robopass.robots.models import Unit
from robopass.timeutil import CLOCK_SKEW, as_utc, rfc3339, utcnow

_STATUS_ERRORS = {403: "forbidden", 404: "not_found", 409: "rule_violation",
                  422: "invalid_input"}


@dataclass
class EventRequest:
    code: str
    type: str
    at: datetime | None = None
    to_organization: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


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
        extra: dict[str, Any] = {"code_input": code_input}
        if index is not None:
            extra["index"] = index
        if refusal.field:
            extra["field"] = refusal.field
        message = refusal.message if index is None else f"events[{index}]: {refusal.message}"
        super().__init__(message, code=refusal.code, **extra)
        self.status = refusal.status
        self.attempts = attempts


@dataclass
class _Working:
    state: rules.UnitState
    initial: rules.UnitState
    last_at: datetime | None
    month_start: datetime
    seq: int
    changed: bool = False


_STATE_COLUMNS = ("code", "status", "manufacturer_id", "owner_id", "operator_id",
                  "status_before_suspension", "suspended_by_authority", "recycler_id",
                  "firmware", "open_recalls", "province", "city", "last_event_at",
                  "production_month", "event_count", "exported_to")
_UnitRow = namedtuple("_UnitRow", _STATE_COLUMNS)  # type: ignore[misc]


def _load_units(session: Session, codes: list[str]) -> dict[str, Any]:
    """The state columns of many units, at driver level (the batch path's first step)."""
    conn = session.connection()
    raw: Any = conn.connection.dbapi_connection
    cols = ", ".join(_STATE_COLUMNS)
    out: dict[str, Any] = {}
    cur = raw.cursor()
    try:
        if conn.dialect.name == "postgresql":
            cur.execute(f"SELECT {cols} FROM units WHERE code = ANY(%s)", (codes,))
            fetched = cur.fetchall()
        else:
            fetched = []
            for start in range(0, len(codes), 900):
                chunk = codes[start:start + 900]
                cur.execute(f"SELECT {cols} FROM units WHERE code IN "
                            f"({','.join('?' * len(chunk))})", chunk)
                fetched += cur.fetchall()
    finally:
        cur.close()
    for values in fetched:
        row: Any = _UnitRow(*values)
        last = row.last_event_at
        if isinstance(last, str):
            last = datetime.fromisoformat(last).replace(tzinfo=UTC)
        elif last is not None:
            last = as_utc(last)
        out[row.code] = row._replace(last_event_at=last)
    return out


_EVENT_COLUMNS = ("id", "code", "seq", "type", "at", "recorded_at", "organization_id",
                  "to_organization_id", "details", "ledger_index", "corrected")


def _state_of(row: Any) -> rules.UnitState:
    return rules.UnitState(
        status=row.status, manufacturer_id=row.manufacturer_id, owner_id=row.owner_id,
        operator_id=row.operator_id, status_before_suspension=row.status_before_suspension,
        suspended_by_authority=bool(row.suspended_by_authority), recycler_id=row.recycler_id,
        firmware=row.firmware, open_recalls=int(row.open_recalls or 0), province=row.province,
        city=row.city)


def _month_start(production_month: str) -> datetime:
    year, month = production_month.split("-")
    return datetime(int(year), int(month), 1, tzinfo=UTC)


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
    """Check and record events; returns their API representations. Raises EventRefused."""
    now = now or utcnow()
    compact: list[str | None] = []
    for req in requests:
        try:
            compact.append(idcode.validate(req.code))
        except idcode.InvalidCode:
            compact.append(None)
    codes = sorted({c for c in compact if c})
    rows = _load_units(session, codes)
    working: dict[str, _Working] = {
        code: _Working(state=(st := _state_of(u)), initial=st, last_at=u.last_event_at,
                       month_start=_month_start(u.production_month), seq=u.event_count)
        for code, u in rows.items()}
    to_ids = {r.to_organization for r in requests if r.to_organization}
    to_roles: dict[str, frozenset[str]] = {}
    if to_ids:
        for org_id, roles in session.execute(select(Organization.id, Organization.roles)
                                             .where(Organization.id.in_(to_ids))):
            to_roles[org_id] = frozenset(roles)
    provider_grants = _provider_grants(session, actor)

    out: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []
    leaves: list[ledger_service.LeafInput] = []
    corrections: list[tuple[str, str]] = []
    pending_bindings: list[component_service.PendingBinding] = []
    recorded_at = rfc3339(now)
    at_texts: dict[datetime, str | None] = {}
    assert recorded_at is not None
    for index, req in enumerate(requests):
        idx = index if batch else None
        code = compact[index]
        details = dict(req.details or {})
        try:
            try:
                details_json = orjson.dumps(details).decode()
            except (TypeError, orjson.JSONEncodeError) as exc:
                raise rules.Refusal("invalid_details", f"details cannot be stored: {exc}",
                                    status=422, field="details") from exc
            if code is None and req.type in rules.MARKET_EVENTS:
                raise rules.Refusal("no_market_access", "no code, no market access: "
                                    f"{str(req.code)[:40]!r} is not a valid identity code",
                                    fraud=True)
            if code is None:
                try:
                    idcode.validate(req.code)
                except idcode.InvalidCode as exc:
                    raise rules.Refusal(exc.code, exc.message, status=422, field="code") from exc
            w = working.get(code) if code else None
            if req.to_organization and req.to_organization not in to_roles:
                raise rules.Refusal("organization_not_found",
                                    f"no organisation {req.to_organization!r}", status=422,
                                    field="to_organization")
            if w is not None:
                granted = w.state.owner_id in provider_grants.get(code or "", set()) or (
                    w.state.operator_id in provider_grants.get(code or "", set())) or bool(
                    {w.state.owner_id, w.state.operator_id} & provider_grants.get("*", set()))
            else:
                granted = False
            facts = rules.ActorFacts(id=actor.id, roles=actor.roles, authorised_provider=granted)
            event = rules.EventInput(type=req.type, to_organization=req.to_organization,
                                     to_roles=to_roles.get(req.to_organization or "",
                                                           frozenset()),
                                     details=details)
            _check_scope(actor, w)
            # SPEC §16 hand-over (crossborder): an exported unit takes only corrections here.
            exported = handover.exported_refusal(
                rows[code].exported_to if w is not None and code else None, req.type)
            if exported:
                raise rules.Refusal("exported_unit", exported, field="code")
            rules.check(w.state if w else None, event, facts)
            assert code is not None and w is not None
            at = _check_time(req.at, now, w)
            event_id = new_id("evt")
            if req.type == "correction":
                corrected = _check_correction(session, actor, code, details, corrections)
                corrections.append((code, corrected))
            elif req.type == "recall_remedied":
                from robopass.recalls import service as recall_service

                recall_service.remedy_for_event(session, code=code,
                                                recall_id=str(details["recall_id"]),
                                                event_id=event_id, at=at, actor=actor)
                w.state = w.state._replace(open_recalls=max(0, w.state.open_recalls - 1))
            if req.type == "manufactured" and details.get("components"):
                pending_bindings.extend(
                    component_service.PendingBinding(index=index, code=code, event_id=event_id,
                                                     at=at, spec=spec, field=field)
                    for spec, field in component_service.parse_components(details))
            elif req.type == "component_replaced" or req.type in rules.TERMINAL:
                component_service.apply_event(session, code=code, event_type=req.type,
                                              details=details, event_id=event_id, at=at,
                                              actor=actor)
            w.state = rules.effect(w.state, event, actor.is_regulator)
        except rules.Refusal as refusal:
            raise _refuse(refusal, req, idx) from None
        except RobopassError as exc:
            converted = rules.Refusal(exc.code, exc.message, status=exc.status,
                                      field=exc.extra.get("field"))
            raise _refuse(converted, req, idx) from None
        w.seq += 1
        w.last_at = at
        w.changed = True
        at_text = at_texts.get(at)
        if at_text is None:  # batches share few distinct instants: format each once
            at_text = at_texts[at] = rfc3339(at)
        assert at_text is not None
        record = event_record(id=event_id, code=code, type=req.type, at=at_text,
                              recorded_at=recorded_at, organization=actor.id,
                              to_organization=req.to_organization, details=details)
        event_rows.append({"id": event_id, "code": code, "seq": w.seq, "type": req.type,
                           "at": at, "recorded_at": now, "organization_id": actor.id,
                           "to_organization_id": req.to_organization, "details": details_json,
                           "corrected": False})
        # The record's own fields are registry-made strings; only details come from the
        # client, so when they are JCS-safe orjson with sorted keys is the JCS form.
        record_bytes = (orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
                        if canonical.fast_path_ok(details) else canonical.canonical_json(record))
        leaves.append(ledger_service.LeafInput(kind="event", code=code, type=req.type,
                                               at=at_text, id=event_id, record=record_bytes))
        out.append({"id": event_id, "code": code, "type": req.type, "at": at_text,
                    "organization": actor.id, "to_organization": req.to_organization,
                    "details": details, "corrected": False})

    try:
        component_service.bind_batch(session, pending_bindings)
    except component_service.BindingRefused as refused:
        err = refused.error
        raise _refuse(rules.Refusal(err.code, err.message, status=err.status,
                                    field=err.extra.get("field")),
                      requests[refused.index], refused.index if batch else None) from None
    first = ledger_service.append(session, leaves)
    for i, (erow, item) in enumerate(zip(event_rows, out, strict=True)):
        erow["ledger_index"] = item["ledger_index"] = first + i
    stamps: dict[datetime, Any] = {}

    def stamp(value: datetime) -> Any:
        if value not in stamps:
            stamps[value] = db_timestamp(session, value)
        return stamps[value]

    bulk_insert(session, "events", _EVENT_COLUMNS, [
        (r["id"], r["code"], r["seq"], r["type"], stamp(r["at"]), stamp(r["recorded_at"]),
         r["organization_id"], r["to_organization_id"], r["details"],
         r["ledger_index"], False) for r in event_rows])
    for code, corrected_id in corrections:
        session.execute(update(Event).where(Event.id == corrected_id).values(corrected=True))
        from robopass.recalls import service as recall_service  # a corrected remedy reopens

        recall_service.undo_remedy(session, code=code, event_id=corrected_id)
        working[code].state = replay_state(session, code)
    _write_states(session, working)
    _tell_new_parties_of_recalls(session, working)
    # SPEC §16 hand-over (crossborder): an imported unit's end is reported to its origin.
    handover.queue_terminal_reports(session, {
        code: (w.state.status, w.last_at or now) for code, w in working.items()
        if w.changed and w.state.status in rules.TERMINAL and w.initial.status != w.state.status})
    return out


#: UnitState field → units column written back after a batch.
_STATE_FIELDS = ("status", "owner_id", "operator_id", "status_before_suspension",
                 "suspended_by_authority", "recycler_id", "firmware", "province", "city")
_STATE_INDEX = tuple(rules.UnitState._fields.index(f) for f in _STATE_FIELDS)


def _write_states(session: Session, working: dict[str, _Working]) -> None:
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


def _tell_new_parties_of_recalls(session: Session, working: dict[str, _Working]) -> None:
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


def _check_scope(actor: Actor, w: _Working | None) -> None:
    if w is None or actor.scope_province is None:
        return
    province = w.state.province
    if province is not None and province[:2] != actor.scope_province[:2]:
        raise rules.Refusal("outside_province", "this unit is outside your province",
                            status=403)


def _check_time(at: datetime | None, now: datetime, w: _Working) -> datetime:
    if at is None:
        at = now
    elif at.tzinfo is not UTC:
        at = as_utc(at)
    if at > now + CLOCK_SKEW:
        raise rules.Refusal("time_in_future", f"at {rfc3339(at)} is in the future", status=422,
                            field="at")
    if w.last_at is not None and at < w.last_at:
        raise rules.Refusal("time_before_previous_event",
                            f"at {rfc3339(at)} is before the unit's previous event "
                            f"({rfc3339(w.last_at)})", status=422, field="at")
    if at < w.month_start:
        raise rules.Refusal("time_before_production",
                            f"at {rfc3339(at)} is before the unit's production month",
                            status=422, field="at")
    return at


def _provider_grants(session: Session, actor: Actor) -> dict[str, set[str]]:
    """code (or ``*`` for all units) → organisations that authorised this provider."""
    if "service_provider" not in actor.roles:
        return {}
    grants: dict[str, set[str]] = {}
    for code, granted_by in session.execute(
            select(ServiceAuthorization.code, ServiceAuthorization.granted_by_id).where(
                ServiceAuthorization.provider_id == actor.id,
                ServiceAuthorization.revoked_at.is_(None))):
        grants.setdefault(code or "*", set()).add(granted_by)
    return grants


def _check_correction(session: Session, actor: Actor, code: str, details: dict[str, Any],
                      pending: list[tuple[str, str]]) -> str:
    target_id = details.get("corrects")
    reason = details.get("reason")
    if not isinstance(target_id, str):
        raise rules.Refusal("invalid_details", "correction needs details.corrects (an event id)",
                            status=422, field="details.corrects")
    if not isinstance(reason, str) or not reason.strip():
        raise rules.Refusal("invalid_details", "correction needs details.reason", status=422,
                            field="details.reason")
    target = session.get(Event, target_id)
    if target is None or target.code != code:
        raise rules.Refusal("event_not_found", f"no event {target_id!r} on this unit",
                            status=404, field="details.corrects")
    if target.type == "correction":
        raise rules.Refusal("invalid_correction", "a correction cannot itself be corrected; "
                            "record the right event instead")
    if target.corrected or any(t == target_id for _, t in pending):
        raise rules.Refusal("already_corrected", f"event {target_id} is already corrected")
    if not actor.is_regulator and actor.id != target.organization_id:
        raise rules.Refusal("not_entitled", "only the recorder of an event or the regulator "
                            "corrects it", status=403)
    return target_id


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
