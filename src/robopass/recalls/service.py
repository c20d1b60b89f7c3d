"""Recall campaigns: open over a scope, notify, remedy per unit, report progress (SPEC §6).

Opening a recall is set-based so 100,000 units take one ``INSERT ... SELECT`` into
``recall_units`` and one ``UPDATE`` of ``units.open_recalls``: the affected set is fixed when
the campaign opens (a component from the recalled batch installed later is not added; open a
new campaign for it). Owners and operators are notified through the outbox in the same
transaction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import String, cast, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from robopass import gate, idcode
from robopass.auth.service import Actor
from robopass.components.models import Component
from robopass.db import dialect_name
from robopass.errors import Conflict, Forbidden, InvalidInput, NotFound
from robopass.ids import new_id
from robopass.notifications import service as notification_service
from robopass.organizations.models import Organization
from robopass.product_models.models import ProductModel
from robopass.recalls.models import Recall, RecallUnit
from robopass.robots.models import TERMINAL_STATUSES, Unit
from robopass.timeutil import rfc3339, utcnow

SCOPE_KEYS = ("model_id", "production_from", "production_to", "serial_from", "serial_to",
              "component_supplier", "component_batch")
MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
#: Codes listed per organisation in a recall notice (the rest via GET /recalls/{id}/units).
NOTICE_CODES = 1000


def _scope_error(message: str, key: str, code: str = "invalid_scope") -> InvalidInput:
    return InvalidInput(message, field=f"scope.{key}" if key else "scope", code=code)


def _model_of_code(session: Session, code: str) -> ProductModel | None:
    return session.scalar(select(ProductModel).where(ProductModel.company_code == code[2:6],
                                                     ProductModel.model_code == code[6:12]))


def validate_scope(session: Session, *, actor: Actor, scope: Any) -> dict[str, str]:
    """Check a scope and return it cleaned (compact codes). Raises InvalidInput/Forbidden."""
    if not isinstance(scope, dict) or not scope:
        raise _scope_error("scope must be a non-empty object with any of: "
                           + ", ".join(SCOPE_KEYS), "", code="empty_scope")
    unknown = sorted(set(scope) - set(SCOPE_KEYS))
    if unknown:
        raise _scope_error(f"unknown scope key(s) {', '.join(unknown)}; known: "
                           + ", ".join(SCOPE_KEYS), unknown[0])
    clean: dict[str, str] = {}
    for key, value in scope.items():
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip() or len(value) > 64 \
                or "\x00" in value:
            raise _scope_error(f"{key} must be a non-empty string of at most 64 characters",
                               key)
        clean[key] = value.strip()
    if not clean:
        raise _scope_error("scope names nothing", "", code="empty_scope")
    for key in ("production_from", "production_to"):
        if key in clean and not MONTH_RE.match(clean[key]):
            raise _scope_error(f"{key} must be YYYY-MM, got {clean[key]!r}", key)
    if clean.get("production_from", "") > clean.get("production_to", "9999-99"):
        raise _scope_error("production_from is after production_to", "production_from",
                           code="empty_range")
    model: ProductModel | None = None
    if "model_id" in clean:
        model = session.get(ProductModel, clean["model_id"])
        if model is None:
            raise _scope_error(f"no product model {clean['model_id']!r}", "model_id",
                               code="model_not_found")
    serial_model: ProductModel | None = None
    for key in ("serial_from", "serial_to"):
        if key not in clean:
            continue
        try:
            clean[key] = idcode.validate(clean[key])
        except idcode.InvalidCode as exc:
            raise _scope_error(f"{key}: {exc.message}", key, code=exc.code) from exc
        this = _model_of_code(session, clean[key])
        if this is None:
            raise _scope_error(f"{key} {clean[key]} belongs to no filed model", key,
                               code="model_not_found")
        if serial_model is not None and this.id != serial_model.id:
            raise _scope_error("serial_from and serial_to must be codes of one model", key,
                               code="serial_range_across_models")
        serial_model = this
    if clean.get("serial_from", "") > clean.get("serial_to", "~"):
        raise _scope_error("serial_from is after serial_to", "serial_from", code="empty_range")
    if serial_model is not None:
        if model is not None and model.id != serial_model.id:
            raise _scope_error("the serial range is not of scope.model_id", "serial_from",
                               code="serial_range_other_model")
        model = serial_model
        clean["model_id"] = model.id
    if "component_supplier" in clean:
        supplier = session.get(Organization, clean["component_supplier"])
        if supplier is None or not {"component_supplier", "manufacturer"} & set(supplier.roles):
            raise _scope_error(f"{clean['component_supplier']!r} is not a component supplier",
                               "component_supplier", code="supplier_not_found")
    if actor.is_regulator:
        return clean
    if "manufacturer" not in actor.roles:
        raise Forbidden("recalls are opened by a manufacturer (its own models) or the regulator",
                        code="not_entitled")
    if model is not None and model.manufacturer_id != actor.id:
        raise Forbidden("a manufacturer recalls its own models only", code="not_your_model")
    return clean


def _unit_filter(scope: Mapping[str, str], actor: Actor) -> list[Any]:
    conds: list[Any] = [Unit.status.not_in(TERMINAL_STATUSES)]
    if "model_id" in scope:
        conds.append(Unit.model_id == scope["model_id"])
    if "production_from" in scope:
        conds.append(Unit.production_month >= scope["production_from"])
    if "production_to" in scope:
        conds.append(Unit.production_month <= scope["production_to"])
    if "serial_from" in scope:
        conds.append(Unit.code >= scope["serial_from"])
    if "serial_to" in scope:
        conds.append(Unit.code <= scope["serial_to"])
    if "component_supplier" in scope or "component_batch" in scope:
        parts: list[Any] = [Component.unit_code.is_not(None)]
        if "component_supplier" in scope:
            parts.append(Component.supplier_id == scope["component_supplier"])
        if "component_batch" in scope:
            parts.append(Component.batch == scope["component_batch"])
        conds.append(Unit.code.in_(select(Component.unit_code).where(*parts)))
    if not actor.is_regulator:
        conds.append(Unit.manufacturer_id == actor.id)
    else:
        conds.append(gate.unit_filter(actor))
    return conds


def open_recall(session: Session, *, actor: Actor, reason: str, scope: Any,
                signal_id: str | None = None, now: datetime | None = None,
                remedy_by: date | None = None) -> Recall:
    """Open a campaign: every non-terminal unit in scope is affected, owners and operators are
    notified; units still unremedied after ``remedy_by`` count as overdue. Raises InvalidInput
    (reason, scope, nothing in scope, remedy_by before the opening day), Forbidden."""
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 2000 \
            or "\x00" in reason:
        raise InvalidInput("reason must be a non-empty text of at most 2000 characters",
                           field="reason")
    clean = validate_scope(session, actor=actor, scope=scope)
    now = now or utcnow()
    if remedy_by is not None and remedy_by < now.date():
        raise InvalidInput(f"remedy_by {remedy_by} is before the recall opens ({now.date()})",
                           field="remedy_by", code="date_in_past")
    recall = Recall(id=new_id("rcl"), reason=reason.strip(), scope=clean, opened_by_id=actor.id,
                    opened_by_role="regulator" if actor.is_regulator else "manufacturer",
                    manufacturer_ids=[], opened_at=now, affected=0, remedied=0, notified=0,
                    signal_id=signal_id, remedy_by=remedy_by)
    session.add(recall)
    session.flush()
    _mark_affected(session, recall.id, clean, actor)
    affected = int(session.scalar(select(func.count()).select_from(RecallUnit)
                                  .where(RecallUnit.recall_id == recall.id)) or 0)
    if affected == 0:
        raise InvalidInput("no registered, non-terminal unit is in this scope", field="scope",
                           code="scope_matches_nothing")
    recall.affected = affected
    recall.manufacturer_ids = sorted(session.scalars(
        select(RecallUnit.manufacturer_id).where(RecallUnit.recall_id == recall.id)
        .distinct()))
    recall.notified = _notify_opened(session, recall)
    session.flush()
    return recall


def _mark_affected(session: Session, recall_id: str, scope: Mapping[str, str],
                   actor: Actor) -> None:
    """Insert the affected units into ``recall_units`` and count the recall on each unit.

    PostgreSQL does both in one statement (``WITH hit AS (UPDATE units ... RETURNING ...)
    INSERT ... SELECT FROM hit``), one pass over the units; SQLite, which has no
    data-modifying CTEs, inserts first and then updates the units it inserted.
    """
    columns = ["recall_id", "code", "owner_id", "operator_id", "manufacturer_id"]
    conds = _unit_filter(scope, actor)
    if dialect_name(session) == "postgresql":
        hit = (update(Unit).where(*conds).values(open_recalls=Unit.open_recalls + 1)
               .returning(Unit.code, Unit.owner_id, Unit.operator_id, Unit.manufacturer_id)
               .cte("hit"))
        session.execute(insert(RecallUnit).from_select(columns, select(
            literal(recall_id, String), hit.c.code, hit.c.owner_id, hit.c.operator_id,
            hit.c.manufacturer_id)))
        return
    session.execute(insert(RecallUnit).from_select(columns, select(
        literal(recall_id, String), Unit.code, Unit.owner_id, Unit.operator_id,
        Unit.manufacturer_id).where(*conds)))
    session.execute(update(Unit).where(Unit.code.in_(
        select(RecallUnit.code).where(RecallUnit.recall_id == recall_id)))
        .values(open_recalls=Unit.open_recalls + 1)
        .execution_options(synchronize_session=False))


def _notify_opened(session: Session, recall: Recall) -> int:
    """One notice per owner or operator listing its units; the manufacturers and the
    regulator are told too. Returns how many owners and operators were notified."""
    per_org: dict[str, list[str]] = {}
    counts: dict[str, int] = {}
    for code, owner, operator in session.execute(
            select(RecallUnit.code, RecallUnit.owner_id, RecallUnit.operator_id)
            .where(RecallUnit.recall_id == recall.id).order_by(RecallUnit.code)):
        for org in {owner, operator} - {None}:
            assert org is not None
            counts[org] = counts.get(org, 0) + 1
            codes = per_org.setdefault(org, [])
            if len(codes) < NOTICE_CODES:
                codes.append(code)
    base = {"recall_id": recall.id, "reason": recall.reason, "scope": recall.scope,
            "opened_at": rfc3339(recall.opened_at), "ordered_by": recall.opened_by_role,
            "units_url": f"/api/v1/recalls/{recall.id}/units"}
    notification_service.notify_each(session, topic="recall", payloads={
        org: {**base, "your_units": counts[org], "codes": codes,
              "codes_truncated": counts[org] > len(codes)}
        for org, codes in per_org.items()})
    overseers = set(recall.manufacturer_ids) | set(notification_service.regulator_ids(session))
    overseers -= set(per_org)
    notification_service.notify(session, organization_ids=overseers, topic="recall",
                                payload={**base, "affected": recall.affected})
    return len(per_org)


def notify_new_parties(session: Session, parties: Mapping[str, set[str]]) -> int:
    """Units that got a new owner or operator while recalls are open on them (``code → new
    organisations``): each new party is told of every open recall of those units, with the
    same notice the owners and operators got when the recall opened (``joined_after_opening``
    set). Runs in the event's transaction. Returns how many notices were written."""
    codes = sorted(parties)
    found: dict[tuple[str, str], list[str]] = {}  # (org, recall) -> codes
    recalls: dict[str, Recall] = {}
    for start in range(0, len(codes), 900):
        for code, recall in session.execute(
                select(RecallUnit.code, Recall)
                .join(Recall, Recall.id == RecallUnit.recall_id)
                .where(RecallUnit.code.in_(codes[start:start + 900]),
                       RecallUnit.remedied_at.is_(None), Recall.closed_at.is_(None))
                .order_by(RecallUnit.code)):
            recalls[recall.id] = recall
            for org in sorted(parties[code]):
                found.setdefault((org, recall.id), []).append(code)
    written = 0
    for (org, recall_id), unit_codes in sorted(found.items()):
        recall = recalls[recall_id]
        notification_service.notify(session, organization_ids=[org], topic="recall", payload={
            "recall_id": recall.id, "reason": recall.reason, "scope": recall.scope,
            "opened_at": rfc3339(recall.opened_at), "ordered_by": recall.opened_by_role,
            "units_url": f"/api/v1/recalls/{recall.id}/units", "your_units": len(unit_codes),
            "codes": unit_codes[:NOTICE_CODES],
            "codes_truncated": len(unit_codes) > NOTICE_CODES,
            "joined_after_opening": True})
        written += 1
    return written


def get_or_raise(session: Session, recall_id: str) -> Recall:
    recall = session.get(Recall, recall_id)
    if recall is None:
        raise NotFound(f"no recall {recall_id!r}", code="recall_not_found")
    return recall


def can_oversee(session: Session, actor: Actor, recall: Recall) -> bool:
    """Its manufacturer(s), whoever opened it, and the regulator in scope see the whole
    campaign (the gate decides)."""
    return gate.at_least(gate.decide(actor, gate.recall_subject(session, recall)), "legitimate")


def overdue_count(session: Session, recall: Recall, *, today: date | None = None) -> int:
    """Affected units still unremedied and not terminal after ``remedy_by`` (0 without one,
    and once the campaign is closed)."""
    today = today or utcnow().date()
    if recall.remedy_by is None or recall.closed_at is not None or today <= recall.remedy_by:
        return 0
    return int(session.scalar(
        select(func.count()).select_from(RecallUnit)
        .join(Unit, Unit.code == RecallUnit.code)
        .where(RecallUnit.recall_id == recall.id, RecallUnit.remedied_at.is_(None),
               Unit.status.not_in(TERMINAL_STATUSES))) or 0)


def progress(recall: Recall, *, overdue: int = 0) -> dict[str, Any]:
    open_ = recall.affected - recall.remedied
    rate = round(recall.remedied / recall.affected, 4) if recall.affected else 0.0
    status = "closed" if recall.closed_at is not None else \
        "completed" if open_ == 0 else "open"
    return {"id": recall.id, "reason": recall.reason, "scope": recall.scope,
            "opened_by": recall.opened_by_id, "ordered_by": recall.opened_by_role,
            "opened_at": rfc3339(recall.opened_at), "manufacturers": recall.manufacturer_ids,
            "affected": recall.affected, "remedied": recall.remedied, "open": open_,
            "completion_rate": rate, "notified": recall.notified,
            "status": status, "signal_id": recall.signal_id,
            "remedy_by": recall.remedy_by.isoformat() if recall.remedy_by else None,
            "overdue": overdue, "closed_at": rfc3339(recall.closed_at),
            "closed_by": recall.closed_by_id, "close_reason": recall.close_reason}


def read_recall(session: Session, *, actor: Actor, recall_id: str) -> dict[str, Any]:
    recall = get_or_raise(session, recall_id)
    gate.see(session, actor, recall, need="legitimate",
             message="a recall's progress is for its manufacturer and the regulator")
    return progress(recall, overdue=overdue_count(session, recall))


def list_recalls(session: Session, *, actor: Actor, limit: int = 100,
                 offset: int = 0) -> list[dict[str, Any]]:
    """Campaigns the actor oversees (regulator: all; manufacturer: its own)."""
    query = select(Recall)
    if actor.is_regulator:
        query = query.where(gate.recall_filter(actor))
    else:
        query = query.where(or_(Recall.opened_by_id == actor.id,
                                cast(Recall.manufacturer_ids, String).like(f'%"{actor.id}"%')))
    rows = session.scalars(query.order_by(Recall.opened_at.desc()).limit(limit).offset(offset))
    return [progress(r, overdue=overdue_count(session, r)) for r in rows]


def list_units(session: Session, *, actor: Actor, recall_id: str, status: str | None = None,
               limit: int = 1000, offset: int = 0) -> dict[str, Any]:
    """The campaign's units: all for overseers, its own for a current owner or operator."""
    recall = get_or_raise(session, recall_id)
    query = (select(RecallUnit.code, RecallUnit.remedied_at, RecallUnit.remedy_event_id)
             .where(RecallUnit.recall_id == recall.id))
    oversees = can_oversee(session, actor, recall)
    if not oversees:
        query = query.join(Unit, Unit.code == RecallUnit.code).where(
            or_(Unit.owner_id == actor.id, Unit.operator_id == actor.id))
    elif actor.is_regulator and actor.scope_province is not None:
        query = query.where(RecallUnit.code.in_(gate.units_in_scope(actor)))
    if status == "open":
        query = query.where(RecallUnit.remedied_at.is_(None))
    elif status == "remedied":
        query = query.where(RecallUnit.remedied_at.is_not(None))
    elif status is not None:
        raise InvalidInput("status must be open or remedied", field="status")
    rows = session.execute(query.order_by(RecallUnit.code).limit(limit).offset(offset)).all()
    if not rows and not oversees and offset == 0:
        raise Forbidden("none of this recall's units are yours", code="not_entitled")
    return {"id": recall.id, "units": [
        {"code": code, "remedied": at is not None, "remedied_at": rfc3339(at),
         "remedy_event": event} for code, at, event in rows]}


def remedy_for_event(session: Session, *, code: str, recall_id: str, event_id: str,
                     at: datetime, actor: Actor) -> None:
    """Close ``recall_id`` for ``code`` (called while recording a ``recall_remedied`` event).

    Raises NotFound (no such recall), Conflict (unit not in the campaign, already remedied),
    InvalidInput (remedy dated before the recall opened).
    """
    recall = session.get(Recall, recall_id)
    if recall is None:
        raise NotFound(f"no recall {recall_id!r}", code="recall_not_found",
                       field="details.recall_id")
    row = session.get(RecallUnit, (recall_id, code))
    if row is None:
        raise Conflict(f"unit {code} is not in recall {recall_id}", code="not_in_recall",
                       field="details.recall_id")
    if recall.closed_at is not None:
        raise Conflict(f"recall {recall_id} was closed at {rfc3339(recall.closed_at)}",
                       code="recall_closed", field="details.recall_id")
    if row.remedied_at is not None:
        raise Conflict(f"recall {recall_id} was already remedied for {code} at "
                       f"{rfc3339(row.remedied_at)}", code="already_remedied",
                       field="details.recall_id")
    if at < recall.opened_at:
        raise InvalidInput(f"the remedy ({rfc3339(at)}) cannot precede the recall "
                           f"({rfc3339(recall.opened_at)})", field="at",
                           code="remedy_before_recall")
    row.remedied_at = at
    row.remedy_event_id = event_id
    row.remedied_by_id = actor.id
    recall.remedied += 1
    unit = session.get(Unit, code)
    assert unit is not None
    unit.open_recalls = max(0, int(unit.open_recalls or 0) - 1)
    session.flush()


def undo_remedy(session: Session, *, code: str, event_id: str) -> None:
    """Reopen the recall a corrected ``recall_remedied`` event had closed (if it closed one)."""
    row = session.scalar(select(RecallUnit).where(RecallUnit.code == code,
                                                  RecallUnit.remedy_event_id == event_id))
    if row is None:
        return
    row.remedied_at = row.remedy_event_id = row.remedied_by_id = None
    recall = session.get(Recall, row.recall_id)
    assert recall is not None
    recall.remedied = max(0, recall.remedied - 1)
    unit = session.get(Unit, code)
    assert unit is not None
    if recall.closed_at is None:  # a closed campaign blocks nothing
        unit.open_recalls = int(unit.open_recalls or 0) + 1
    session.flush()


def open_recalls_public(session: Session, code: str) -> list[dict[str, Any]]:
    """Open recalls of a unit, public-safe: no supplier or owner identity."""
    rows = session.execute(
        select(Recall.id, Recall.reason, Recall.opened_at, Recall.opened_by_role, Recall.scope)
        .join(RecallUnit, RecallUnit.recall_id == Recall.id)
        .where(RecallUnit.code == code, RecallUnit.remedied_at.is_(None),
               Recall.closed_at.is_(None))
        .order_by(Recall.opened_at))
    return [{"id": rid, "reason": reason, "opened_at": rfc3339(opened),
             "ordered_by": role, "scope": scope_summary(scope)}
            for rid, reason, opened, role, scope in rows]


def scope_summary(scope: Mapping[str, str]) -> list[str]:
    """What kind of scope (model, production months, serial range, component batch...)."""
    kinds = []
    if "model_id" in scope:
        kinds.append("model")
    if "production_from" in scope or "production_to" in scope:
        kinds.append(f"production {scope.get('production_from', '…')} to "
                     f"{scope.get('production_to', '…')}")
    if "serial_from" in scope or "serial_to" in scope:
        kinds.append("serial range")
    if "component_batch" in scope:
        kinds.append("component batch")
    elif "component_supplier" in scope:
        kinds.append("component supplier")
    return kinds


def recalls_open_at(session: Session, code: str, at: datetime) -> list[dict[str, Any]]:
    """Recalls of ``code`` open at ``at``: opened before it, not remedied by then."""
    rows = session.execute(
        select(Recall, RecallUnit).join(RecallUnit, RecallUnit.recall_id == Recall.id)
        .where(RecallUnit.code == code, Recall.opened_at <= at,
               or_(RecallUnit.remedied_at.is_(None), RecallUnit.remedied_at > at),
               or_(Recall.closed_at.is_(None), Recall.closed_at > at))
        .order_by(Recall.opened_at))
    return [{"id": r.id, "reason": r.reason, "scope": r.scope, "ordered_by": r.opened_by_role,
             "opened_by": r.opened_by_id, "opened_at": rfc3339(r.opened_at),
             "notified": [o for o in {ru.owner_id, ru.operator_id} if o],
             "owner_at_opening": ru.owner_id, "operator_at_opening": ru.operator_id,
             "remedied_at": rfc3339(ru.remedied_at), "remedy_event": ru.remedy_event_id}
            for r, ru in rows]



