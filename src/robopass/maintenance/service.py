"""Maintenance records read back from the lifecycle events (SPEC §4, §6).

Work is recorded as lifecycle events (``maintenance_started``/``_completed`` with details such
as ``work_order``, ``description``, ``parts``; ``firmware_updated``; ``component_replaced``;
``recall_remedied``) by the owner, operator or an authorised service provider, and ledgered
there. This module only groups them into work orders and lists them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from robopass import gate
from robopass.auth.service import Actor
from robopass.components.models import Component, ComponentBinding
from robopass.lifecycle.models import Event
from robopass.organizations.models import Organization
from robopass.robots import service as robot_service
from robopass.timeutil import rfc3339

WORK_TYPES = ("maintenance_started", "maintenance_completed", "firmware_updated",
              "component_replaced", "recall_remedied")


def _names(session: Session, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    return dict(session.execute(select(Organization.id, Organization.name)
                                .where(Organization.id.in_(ids))).all())


def _event(e: Event, names: dict[str, str]) -> dict[str, Any]:
    return {"id": e.id, "code": e.code, "type": e.type, "at": rfc3339(e.at),
            "organization": {"id": e.organization_id, "name": names.get(e.organization_id)},
            "details": e.details or {}, "ledger_index": e.ledger_index,
            "corrected": bool(e.corrected)}


def work_orders(events: list[Event], names: dict[str, str]) -> list[dict[str, Any]]:
    """Pair ``maintenance_started`` with its ``_completed`` (same ``work_order``, else the
    latest open one); firmware, component and remedy events join the open order."""
    orders: list[dict[str, Any]] = []
    open_orders: dict[str, dict[str, Any]] = {}
    for e in events:
        if e.corrected:
            continue
        details = e.details or {}
        ref = details.get("work_order") if isinstance(details.get("work_order"), str) else None
        order: dict[str, Any] | None
        if e.type == "maintenance_started":
            order = {"work_order": ref, "status": "open", "started_at": rfc3339(e.at),
                     "completed_at": None,
                     "provider": {"id": e.organization_id,
                                  "name": names.get(e.organization_id)},
                     "description": details.get("description"), "parts": details.get("parts"),
                     "events": [], "ledger_indexes": []}
            orders.append(order)
            open_orders[ref or f"#{len(orders)}"] = order
        else:
            key = ref if ref in open_orders else next(reversed(open_orders), None)
            order = open_orders.get(key) if key else None
            if order is None:
                continue
            if e.type == "maintenance_completed":
                order["status"] = "completed"
                order["completed_at"] = rfc3339(e.at)
                order["parts"] = details.get("parts", order["parts"])
                order["description"] = order["description"] or details.get("description")
                del open_orders[key]  # type: ignore[arg-type]
        order["events"].append(e.id)
        order["ledger_indexes"].append(e.ledger_index)
    return orders


def unit_maintenance(session: Session, *, actor: Actor, code: str) -> dict[str, Any]:
    """Legitimate interest or authority: work orders, work events, component history."""
    unit = robot_service.get_unit_or_raise(session, code)
    gate.see(session, actor, unit, need="legitimate", audit="read_maintenance",
             message="maintenance records need legitimate interest or authority")
    events = list(session.scalars(select(Event).where(Event.code == unit.code,
                                                      Event.type.in_(WORK_TYPES))
                                  .order_by(Event.seq)))
    bindings_rows = session.execute(
        select(ComponentBinding, Component).join(Component,
                                                 Component.id == ComponentBinding.component_id)
        .where(ComponentBinding.unit_code == unit.code).order_by(ComponentBinding.bound_at)
    ).all()
    history = [{"serial": c.serial, "type": c.component_type, "supplier_id": c.supplier_id,
                "batch": c.batch, "bound_at": rfc3339(b.bound_at),
                "unbound_at": rfc3339(b.unbound_at), "bound_by_event": b.bound_by_event,
                "unbound_by_event": b.unbound_by_event} for b, c in bindings_rows]
    names = _names(session, {e.organization_id for e in events}
                   | {c.supplier_id for _, c in bindings_rows})
    for h in history:
        h["supplier"] = names.get(str(h["supplier_id"]))
    return {"code": unit.code, "work_orders": work_orders(events, names),
            "events": [_event(e, names) for e in events], "components": history,
            "maintenance_count": sum(1 for e in events
                                     if e.type == "maintenance_completed" and not e.corrected)}


def provider_work(session: Session, *, actor: Actor, code: str | None = None,
                  since: datetime | None = None, until: datetime | None = None,
                  limit: int = 100, offset: int = 0) -> dict[str, Any]:
    """The acting organisation's own recorded work, newest first, grouped into orders."""
    query = select(Event).where(Event.type.in_(WORK_TYPES), Event.organization_id == actor.id)
    if code:
        query = query.where(Event.code == robot_service.normalise_code(code))
    if since:
        query = query.where(Event.at >= since)
    if until:
        query = query.where(Event.at < until)
    events = list(session.scalars(query.order_by(Event.at.desc(), Event.id)
                                  .limit(limit).offset(offset)))
    names = _names(session, {actor.id})
    by_unit: dict[str, list[Event]] = {}
    for e in sorted(events, key=lambda e: (e.code, e.seq)):
        by_unit.setdefault(e.code, []).append(e)
    orders = [{"code": c, **o} for c, evs in by_unit.items() for o in work_orders(evs, names)]
    orders.sort(key=lambda o: o["started_at"] or "", reverse=True)
    return {"organization": actor.id, "work_orders": orders,
            "events": [_event(e, names) for e in events]}
