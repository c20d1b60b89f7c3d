"""Closing a recall campaign (SPEC §13).

Its manufacturer closes it once every affected unit is remedied or terminal; the regulator
closes it at any time with a reason (e.g. a recall opened in error). A closed campaign blocks
nothing: each unit it still held open has its ``open_recalls`` count lowered, in the same
transaction as the decision record.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from robopass.auth.service import Actor
from robopass.decisions import service as decision_service
from robopass.errors import Conflict, Forbidden, InvalidInput
from robopass.organizations.models import Organization
from robopass.recalls.models import Recall, RecallUnit
from robopass.recalls.service import get_or_raise, overdue_count, progress
from robopass.robots.models import TERMINAL_STATUSES, Unit
from robopass.timeutil import utcnow


def _check_closer(session: Session, actor: Actor, recall: Recall) -> None:
    if actor.is_regulator:
        if actor.scope_province is not None:
            provinces = set(session.scalars(select(Organization.province).where(
                Organization.id.in_(recall.manufacturer_ids))))
            if any((p or "")[:2] != actor.scope_province[:2] for p in provinces):
                raise Forbidden("this campaign reaches manufacturers outside your province",
                                code="outside_province", field="recall_id")
        return
    if actor.id not in recall.manufacturer_ids and actor.id != recall.opened_by_id:
        raise Forbidden("only the recall's manufacturer or the regulator closes it",
                        code="not_entitled", field="recall_id")
    still_open = int(session.scalar(
        select(func.count()).select_from(RecallUnit).join(Unit, Unit.code == RecallUnit.code)
        .where(RecallUnit.recall_id == recall.id, RecallUnit.remedied_at.is_(None),
               Unit.status.not_in(TERMINAL_STATUSES))) or 0)
    if still_open:
        raise Conflict(f"{still_open} affected unit(s) are neither remedied nor terminal; only "
                       "the regulator closes a campaign before that", code="recall_units_open",
                       field="recall_id", open=still_open)


def close_recall(session: Session, *, actor: Actor, recall_id: str,
                 reason: str) -> Recall:
    """Close the campaign; raises Forbidden, Conflict (already closed, units still open for a
    manufacturer), InvalidInput (no reason). Writes a decision record."""
    text = (reason or "").strip()
    if not text or len(text) > 2000 or "\x00" in text:
        raise InvalidInput("a reason of at most 2000 characters is required", field="reason",
                           code="reason_required")
    recall = get_or_raise(session, recall_id)
    if recall.closed_at is not None:
        raise Conflict(f"recall {recall.id} is already closed", code="recall_closed",
                       field="recall_id")
    _check_closer(session, actor, recall)
    before = progress(recall, overdue=overdue_count(session, recall))
    held = select(RecallUnit.code).where(RecallUnit.recall_id == recall.id,
                                         RecallUnit.remedied_at.is_(None))
    session.execute(update(Unit).where(Unit.code.in_(held), Unit.open_recalls > 0)
                    .values(open_recalls=Unit.open_recalls - 1)
                    .execution_options(synchronize_session=False))
    recall.closed_at = utcnow()
    recall.closed_by_id = actor.id
    recall.close_reason = text
    session.flush()
    maker = session.get(Organization, recall.manufacturer_ids[0]) \
        if recall.manufacturer_ids else None
    decision_service.record_decision(
        session, actor=actor, action="recall.close", object_type="recall", object_id=recall.id,
        before={k: before[k] for k in ("status", "affected", "remedied", "open", "overdue")},
        after={"status": "closed", "closed_at": recall.closed_at}, reason=text,
        organization_id=maker.id if maker else None,
        province=maker.province if maker else None)
    return recall
