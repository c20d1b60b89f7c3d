"""Search by robot code (typo-tolerant like the public page), organisation name (either
language), component serial or batch. Every hit passes one small permission function, so the
integrator's gate can replace each decision in one place."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from robopass import idcode
from robopass.auth.service import Actor
from robopass.components.models import Component
from robopass.db import read_session
from robopass.organizations.models import Organization
from robopass.robots.models import Unit
from robopass.stats import service as stats
from robopass.verification import service as verification_service
from robopass.visibility import at_least, tier_for
from robopass.web import public
from robopass.web.app import common

router = APIRouter(include_in_schema=False)
LIMIT = 50


def may_open_unit(db: Session, actor: Actor, unit: Unit) -> bool:
    """The unit page needs legitimate interest or authority (SPEC §8)."""
    return at_least(tier_for(db, actor, unit), "legitimate")


def may_see_component(db: Session, actor: Actor, comp: Component, unit: Unit | None) -> bool:
    """Its supplier, or whoever may open the unit it is fitted to."""
    if actor.id == comp.supplier_id:
        return True
    if actor.is_regulator and actor.scope_province is None:
        return True
    return unit is not None and may_open_unit(db, actor, unit)


def may_see_organisation(db: Session, actor: Actor, org: Organization) -> bool:
    """Names, roles and country are a directory every registered organisation uses to pick its
    trading partners; a provincial regulator's list stays within its province."""
    if actor.is_regulator:
        return stats.org_in_scope(db, actor, org.id)
    return True


def _units(db: Session, actor: Actor, q: str) -> tuple[list[dict[str, Any]], str | None]:
    compact = idcode.compact(q)
    if len(compact) < 28:
        return [], None
    suggestion = None
    unit = db.get(Unit, compact)
    if unit is None and len(compact) == 29 and not idcode.is_valid(compact):
        suggestion = verification_service.suggest_correction(db, compact)
        unit = db.get(Unit, suggestion) if suggestion else None
    if unit is None:
        return [], None
    return [{"code": unit.code, "status": unit.status,
             "open": may_open_unit(db, actor, unit)}], suggestion


def _organisations(db: Session, actor: Actor, q: str) -> list[Organization]:
    pattern = f"%{q.lower()}%"
    columns = [func.lower(Organization.name).like(pattern)]
    name_zh = getattr(Organization, "name_zh", None)  # filed by branch filings when merged
    if name_zh is not None:
        columns.append(func.lower(name_zh).like(pattern))
    rows = db.scalars(select(Organization).where(or_(*columns))
                      .order_by(Organization.name).limit(LIMIT * 2))
    return [o for o in rows if may_see_organisation(db, actor, o)][:LIMIT]


def _components(db: Session, actor: Actor, q: str) -> list[dict[str, Any]]:
    rows = db.execute(select(Component, Organization.name)
                      .join(Organization, Organization.id == Component.supplier_id)
                      .where(or_(Component.serial == q, Component.batch == q,
                                 Component.serial.like(f"{q}%")))
                      .order_by(Component.serial).limit(LIMIT * 4)).all()
    out = []
    for comp, supplier in rows:
        unit = db.get(Unit, comp.unit_code) if comp.unit_code else None
        if may_see_component(db, actor, comp, unit):
            out.append({"c": comp, "supplier": supplier, "unit": unit.code if unit else None,
                        "open": unit is not None and may_open_unit(db, actor, unit)})
        if len(out) >= LIMIT:
            break
    return out


@router.get("/app/search")
def search(request: Request) -> Response:
    ws = common.require(request)
    q = (request.query_params.get("q") or "").strip()[:100]
    ctx: dict[str, Any] = {"q": q, "units": [], "orgs": [], "components": [],
                           "suggestion": None, "status_labels": public.STATUS_LABELS}
    if len(q) >= 2:
        with read_session(request.app.state.settings.database_url) as db:
            ctx["units"], ctx["suggestion"] = _units(db, ws.actor, q)
            ctx["orgs"] = _organisations(db, ws.actor, q)
            ctx["components"] = _components(db, ws.actor, q)
    return common.render(request, "app/search.html", ctx, ws)
