"""Record and read regulatory decisions (SPEC §13).

:func:`record_decision` is the one way a decision is written: the record and its ``decision``
ledger leaf land in the caller's transaction, so a decision is never half-written. Model,
amendment, accreditation, organisation, signal, recall, policy and pilot decisions all call it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from robopass.auth.service import Actor
from robopass.canonical import canonical_json
from robopass.decisions.models import Decision
from robopass.errors import InvalidInput
from robopass.ids import new_id
from robopass.ledger import service as ledger_service
from robopass.timeutil import as_utc, rfc3339, utcnow

LEAF_KIND = "decision"


def json_safe(value: Any) -> Any:
    """Dates and datetimes as RFC 3339 / ISO strings, recursively; everything else as is."""
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def decision_record(*, id: str, at: str, actor_id: str, actor_name: str, action: str,
                    object_type: str, object_id: str, before: Any, after: Any,
                    reason: str | None, request_id: str | None) -> dict[str, Any]:
    """The full stored record of a decision; its digest is in the ledger leaf."""
    return {"id": id, "at": at, "actor_id": actor_id, "actor_name": actor_name,
            "action": action, "object_type": object_type, "object_id": object_id,
            "before": before, "after": after, "reason": reason, "request_id": request_id}


def record_of(row: Decision) -> dict[str, Any]:
    return decision_record(id=row.id, at=rfc3339(row.at) or "", actor_id=row.actor_id,
                           actor_name=row.actor_name, action=row.action,
                           object_type=row.object_type, object_id=row.object_id,
                           before=row.before, after=row.after, reason=row.reason,
                           request_id=row.request_id)


def leaf_input(row: Decision) -> ledger_service.LeafInput:
    return ledger_service.LeafInput(kind=LEAF_KIND, code=row.code or "", type=row.action,
                                    at=rfc3339(row.at), id=row.id,
                                    record=canonical_json(record_of(row)))


def record_decision(session: Session, *, actor: Actor, action: str, object_type: str,
                    object_id: str, before: Any = None, after: Any = None,
                    reason: str | None = None, organization_id: str | None = None,
                    province: str | None = None, code: str = "",
                    request_id: str | None = None) -> Decision:
    """Append a decision record and its ledger leaf in the caller's transaction.

    ``organization_id`` is the organisation the object belongs to (it may read the decision);
    ``province`` places it in a provincial regulator's scope; ``code`` is the unit's code when
    the object is a unit. ``request_id`` defaults to the one the API put on the session.
    """
    request_id = request_id or session.info.get("request_id")
    row = Decision(id=new_id("dec"), at=utcnow().replace(microsecond=0), actor_id=actor.id,
                   actor_name=actor.name, action=action, object_type=object_type,
                   object_id=object_id, before=json_safe(before), after=json_safe(after),
                   reason=reason, request_id=request_id, organization_id=organization_id,
                   province=province, code=code, ledger_index=-1)
    row.ledger_index = ledger_service.append(session, [leaf_input(row)])
    session.add(row)
    session.flush()
    return row


def list_decisions(session: Session, *, actor: Actor, object_id: str | None = None,
                   action: str | None = None, from_: datetime | None = None,
                   to: datetime | None = None, limit: int = 200,
                   offset: int = 0) -> list[Decision]:
    """Decisions the actor may see, newest first: a national regulator all, a provincial one
    its province's (and registry-wide ones), any other organisation those about itself and its
    own models and units."""
    if from_ is not None and to is not None and as_utc(to) < as_utc(from_):
        raise InvalidInput("to must not be before from", field="to", code="invalid_range")
    query = select(Decision).order_by(Decision.at.desc(), Decision.id.desc())
    if object_id:
        query = query.where(Decision.object_id == object_id)
    if action:
        query = query.where(Decision.action == action)
    if from_ is not None:
        query = query.where(Decision.at >= as_utc(from_))
    if to is not None:
        query = query.where(Decision.at < as_utc(to))
    if not actor.is_regulator or actor.scope_province is not None:
        query = query.where(_visible_to(actor))
    return list(session.scalars(query.limit(limit).offset(offset)))


def _visible_to(actor: Actor) -> ColumnElement[bool]:
    """A provincial regulator: its province's decisions, registry-wide ones and those about
    recalls the gate lets it list; an organisation: those about itself, its models and units,
    and about every recall that names it among the manufacturers (a recall of several makers'
    units is recorded once, under the first)."""
    from robopass import gate
    from robopass.recalls.models import Recall, RecallUnit

    if actor.is_regulator:
        recalls = select(Recall.id).where(gate.recall_filter(actor))
        return or_(Decision.province.like(f"{(actor.scope_province or '')[:2]}%"),
                   Decision.organization_id.is_(None),
                   and_(Decision.object_type == "recall", Decision.object_id.in_(recalls)))
    recalls = select(RecallUnit.recall_id).where(RecallUnit.manufacturer_id == actor.id)
    return or_(Decision.organization_id == actor.id,
               and_(Decision.object_type == "recall", Decision.object_id.in_(recalls)))


def history(session: Session, *, actor: Actor, object_id: str,
            limit: int = 100) -> list[Decision]:
    """One object's decisions as the actor may see them (for the object's pages)."""
    return list_decisions(session, actor=actor, object_id=object_id, limit=limit)
