"""What the regulator's dashboard shows of differentiated regulation (SPEC §14): units in
service by scenario and province, open findings by kind, pilots with their units. Scoped: a
provincial regulator sees its province only."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from robopass.auth.service import Actor
from robopass.compliance import service as compliance_service
from robopass.compliance.scan import IN_SERVICE
from robopass.errors import Forbidden
from robopass.pilots import service as pilot_service
from robopass.robots.models import Unit
from robopass.stats.models import UnitCount


def _prefix(actor: Actor) -> str | None:
    if not actor.is_regulator:
        raise Forbidden("the regulation dashboard is the regulator's", code="role_required",
                        roles=["regulator"])
    return actor.scope_province[:2] if actor.scope_province else None


def units_by_scenario(session: Session, *, actor: Actor) -> list[dict[str, Any]]:
    """Units in service (or under maintenance) per (scenario, province), most first; read from
    the maintained unit counts (:mod:`robopass.stats.counts`), not by scanning ``units``."""
    prefix = _prefix(actor)
    total = func.sum(UnitCount.units)
    query = (select(UnitCount.scenario, UnitCount.province, total)
             .where(UnitCount.scenario != "", UnitCount.status.in_(IN_SERVICE))
             .group_by(UnitCount.scenario, UnitCount.province).having(total > 0))
    if prefix:
        query = query.where(UnitCount.province.like(f"{prefix}%"))
    rows = [{"scenario": s, "province": p or None, "units": int(n)}
            for s, p, n in session.execute(query)]
    return sorted(rows, key=lambda r: (-r["units"], r["scenario"], r["province"] or ""))


def pilots_with_units(session: Session, *, actor: Actor) -> list[dict[str, Any]]:
    prefix = _prefix(actor)
    counts = pilot_service.unit_counts(session)
    return [pilot_service.view(p, counts.get(p.id, 0)) for p in pilot_service.list_pilots(session)
            if prefix is None or any(pr[:2] == prefix for pr in p.provinces)]


def overview(session: Session, *, actor: Actor) -> dict[str, Any]:
    prefix = _prefix(actor)
    return {"units_by_scenario": units_by_scenario(session, actor=actor),
            "open_findings_by_kind": compliance_service.open_by_kind(session,
                                                                     province_prefix=prefix),
            "pilots": pilots_with_units(session, actor=actor)}


def pilot_units(session: Session, *, actor: Actor, pilot_id: str,
                limit: int = 50) -> list[dict[str, Any]]:
    """The units in service under one pilot that the regulator may see (the gate's unit
    filter), newest deployment first: ``{code, province, city, scenario}``."""
    from robopass import gate

    _prefix(actor)
    query = (select(Unit.code, Unit.province, Unit.city, Unit.scenario)
             .where(Unit.pilot_id == pilot_id, Unit.status.in_(IN_SERVICE),
                    gate.unit_filter(actor))
             .order_by(Unit.last_event_at.desc(), Unit.code).limit(limit))
    return [{"code": c, "province": p, "city": ci, "scenario": s}
            for c, p, ci, s in session.execute(query)]
