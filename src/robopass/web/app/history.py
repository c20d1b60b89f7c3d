"""An object's decision history on its page (SPEC §13.7): every regulatory decision about a
model (and its amendments), an organisation or a recall, as ``decisions.service.history``
gives it to this actor (a regulator in its scope; an organisation the decisions about itself
and its own models) — the pages add no filter of their own."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from robopass.auth.service import Actor
from robopass.decisions import service as decision_service
from robopass.web.i18n import N_

ACTION_LABELS: dict[str, str] = {
    "model.approve": N_("Model approved"), "model.reject": N_("Model rejected"),
    "model.suspend": N_("Model suspended"), "model.revoke": N_("Model revoked"),
    "amendment.approve": N_("Amendment approved"),
    "amendment.reject": N_("Amendment rejected"),
    "organization.update": N_("Organisation updated"),
    "organization.suspend": N_("Organisation suspended"),
    "organization.reinstate": N_("Organisation reinstated"),
    "organization.deregister": N_("Organisation deregistered"),
    "organization.accredit": N_("Laboratory accredited"),
    "recall.close": N_("Recall closed"), "signal.dismiss": N_("Signal dismissed"),
    "policy_set": N_("Policy set"), "pilot_open": N_("Pilot opened"),
    "pilot_end": N_("Pilot ended"),
}
#: Changed values longer than this are cut (the full record is at ``/api/v1/decisions``).
VALUE_MAX = 120


def _text(value: Any) -> str:
    if value is None:
        return "—"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False,
                                                           sort_keys=True)
    return text if len(text) <= VALUE_MAX else text[:VALUE_MAX - 1] + "…"


def changes(before: Any, after: Any) -> list[dict[str, str]]:
    """The top-level fields a decision changed: ``{field, before, after}``."""
    if not isinstance(before, dict) or not isinstance(after, dict):
        return [] if before == after else [{"field": "", "before": _text(before),
                                             "after": _text(after)}]
    return [{"field": k, "before": _text(before.get(k)) if k in before else "—",
             "after": _text(after.get(k)) if k in after else "—"}
            for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)]


def rows(db: Session, actor: Actor, *object_ids: str, limit: int = 100
         ) -> list[dict[str, Any]]:
    """The decisions about ``object_ids`` this actor may read, newest first, each with the
    inclusion proof of its ``decision`` ledger leaf."""
    from robopass.ledger import service as ledger_service

    size = ledger_service.size(db)
    found = {d.id: d for oid in object_ids
             for d in decision_service.history(db, actor=actor, object_id=oid, limit=limit)}
    ordered = sorted(found.values(), key=lambda d: (d.at, d.id), reverse=True)[:limit]
    return [{"id": d.id, "at": d.at.strftime("%Y-%m-%d %H:%M"), "action": d.action,
             "label": ACTION_LABELS.get(d.action, d.action), "actor": d.actor_name,
             "reason": d.reason, "changes": changes(d.before, d.after),
             "ledger_index": d.ledger_index,
             "proof": f"/api/v1/ledger/proof/inclusion?index={d.ledger_index}&size={size}"}
            for d in ordered]
