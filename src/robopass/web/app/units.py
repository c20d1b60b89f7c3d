"""The unit page: timeline with ledger proofs, component tree, telemetry charts, recalls,
incidents and their trace reports, by visibility tier. An organisation without at least
legitimate interest (SPEC §8) gets the same 404 as for an unknown code: nothing leaks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select

from robopass import gate, idcode, regions
from robopass.db import read_session
from robopass.errors import RobopassError
from robopass.incidents import service as incident_service
from robopass.ledger import service as ledger_service
from robopass.lifecycle import service as lifecycle_service
from robopass.organizations.models import Organization
from robopass.recalls.models import Recall, RecallUnit
from robopass.robots.models import Unit
from robopass.robots.views import unit_view
from robopass.telemetry import service as telemetry_service
from robopass.timeutil import rfc3339, utcnow
from robopass.web import public
from robopass.web.app import charts, common
from robopass.web.app.dashboard import ALERT_LABELS, SEVERITY_LABELS
from robopass.web.i18n import N_

router = APIRouter(include_in_schema=False)

EVENT_LABELS = {
    "manufactured": N_("Manufactured"), "shipped": N_("Shipped to a seller"),
    "sold": N_("Sold"), "deployed": N_("Deployed"), "transferred": N_("Transferred"),
    "maintenance_started": N_("Maintenance started"),
    "maintenance_completed": N_("Maintenance completed"),
    "firmware_updated": N_("Firmware updated"), "component_replaced": N_("Component replaced"),
    "suspended": N_("Suspended"), "reinstated": N_("Reinstated"),
    "recall_remedied": N_("Recall remedied"), "decommissioned": N_("Decommissioned"),
    "recycled": N_("Recycled"), "scrapped": N_("Scrapped"), "refurbished": N_("Refurbished"),
    "correction": N_("Correction"),
}
TIER_LABELS = {"legitimate": N_("legitimate interest"), "authority": N_("authority")}


def unit_actions(db: Any, actor: Any, unit: Unit) -> list[dict[str, str]]:
    """The event forms the state machine would let this actor use on this unit now (the same
    ``lifecycle.rules.check``; what the form still asks for, such as the new owner, is not held
    against it). The service decides again when the form is posted."""
    from robopass.lifecycle import rules
    from robopass.organizations import service as org_service
    from robopass.web.app import forms

    state = lifecycle_service.replay_state(db, unit.code)
    facts = rules.ActorFacts(id=actor.id, roles=frozenset(actor.roles),
                             authorised_provider="service_provider" in actor.roles
                             and org_service.is_authorised_provider(
                                 db, provider_id=actor.id, code=unit.code,
                                 owner_id=unit.owner_id, operator_id=unit.operator_id))
    out = []
    for etype in rules.EVENT_TYPES:
        form = forms.FORMS.get(f"event-{etype}")
        if form is None or not form.allowed(actor) or etype == "correction":
            continue
        try:
            rules.check(state, rules.EventInput(type=etype), facts)
        except rules.Refusal as refusal:
            if refusal.code not in ("missing_to_organization", "invalid_details", "wrong_role"):
                continue
        out.append({"name": form.name, "title": form.title,
                    "href": forms.href(form.name, code=unit.code)})
    for name in ("incident-report", "service-authorize"):
        form = forms.FORMS[name]
        if form.allowed(actor) and (actor.is_regulator
                                    or actor.id in (unit.owner_id, unit.operator_id)):
            out.append({"name": name, "title": form.title, "href": forms.href(name,
                                                                               code=unit.code)})
    return out


def _load(db: Any, actor: Any, raw: str, path: str) -> tuple[Unit | None, str]:
    """The unit and the tier the gate grants (the read is audit-logged by the gate); no
    unit when the code is unknown or the actor may not see the page."""
    try:
        code = idcode.validate(raw[:60])
    except idcode.InvalidCode:
        return None, "public"
    unit = db.get(Unit, code)
    if unit is None:
        return None, "public"
    try:
        return unit, gate.see(db, actor, unit, need="legitimate", audit="read_unit_page",
                              path=path)
    except RobopassError:
        return None, "public"


@router.get("/app/units/{raw}")
def unit_page(raw: str, request: Request) -> Response:
    ws = common.require(request)
    _ = common.gettext(request)
    loc = common.locale(request)
    with read_session(request.app.state.settings.database_url) as db:
        unit, tier = _load(db, ws.actor, raw, request.url.path)
        if unit is None:
            return common.not_found(request, ws)
        view = unit_view(db, unit, tier)  # type: ignore[arg-type]
        events = lifecycle_service.history(db, unit.code)
        size = ledger_service.size(db)
        org_ids = {e.organization_id for e in events} | {e.to_organization_id for e in events
                                                         if e.to_organization_id}
        org_ids |= {x for x in (unit.owner_id, unit.operator_id, unit.recycler_id) if x}
        names = {o.id: o.name for o in db.scalars(select(Organization).where(
            Organization.id.in_(sorted(org_ids))))} if org_ids else {}
        timeline = [{"type": e.type, "label": _(EVENT_LABELS[e.type]) if e.type in EVENT_LABELS
                     else e.type, "at": rfc3339(e.at), "by": names.get(e.organization_id),
                     "to": names.get(e.to_organization_id or ""), "corrected": e.corrected,
                     "ledger_index": e.ledger_index, "details": e.details,
                     "proof": f"/api/v1/ledger/proof/inclusion?index={e.ledger_index}"
                              f"&size={size}"} for e in reversed(events)]
        tree: dict[str, list[dict[str, Any]]] = {}
        for c in view.get("components", []):
            tree.setdefault(c["type"], []).append(c)
        health = telemetry_service.health(db, unit.code)
        now = utcnow()
        series = telemetry_service.series(db, code=unit.code, start=now - timedelta(days=30),
                                          end=now)
        alerts = telemetry_service.open_alerts(db, unit.code)
        recalls = [dict(r._mapping) for r in db.execute(
            select(Recall.id, Recall.reason, Recall.opened_at, RecallUnit.remedied_at)
            .join(RecallUnit, RecallUnit.recall_id == Recall.id)
            .where(RecallUnit.code == unit.code).order_by(Recall.opened_at.desc()))]
        incidents = incident_service.list_for_unit(db, actor=ws.actor, code=unit.code)
        actions = unit_actions(db, ws.actor, unit)
        regulation = _regulation(db, ws.actor, unit, loc)
    pts = series.get("points") or []

    def metric(p: dict[str, Any], key: str) -> float | None:
        v = p.get(key)
        return v.get("avg") if isinstance(v, dict) else v

    tele = {
        "soh": charts.line([((p["at"] or "")[5:10], metric(p, "battery_soh")) for p in pts],
                           title=_("Battery state of health, in percent"), color="#116329"),
        "wear": charts.line([((p["at"] or "")[5:10], metric(p, "joint_wear")) for p in pts],
                            title=_("Most worn joint, in percent of rated life"),
                            color="#7d4e00"),
        "accuracy": charts.line([((p["at"] or "")[5:10], metric(p, "accuracy")) for p in pts],
                                title=_("Operational accuracy, in percent")),
    }
    return common.render(request, "app/unit.html", {
        "unit": view, "display_code": idcode.format(unit.code), "timeline": timeline,
        "tree": tree, "health": health, "tele": tele, "points": len(pts), "alerts": alerts,
        "recalls": recalls, "incidents": incidents, "tier_label": _(TIER_LABELS[tier]),
        "ledger_size": size, "names": names,
        "status_text": _(public.STATUS_LABELS.get(view["status"], view["status"])),
        "province_name": regions.name(view.get("province"), loc) if view.get("province")
        else None,
        "city_name": regions.name(view.get("city"), loc) if view.get("city") else None,
        "severity_labels": SEVERITY_LABELS, "alert_labels": ALERT_LABELS,
        "actions": actions, **regulation}, ws)


def _regulation(db: Any, actor: Any, unit: Unit, locale: str) -> dict[str, Any]:
    """What the unit page shows of differentiated regulation (SPEC §14): the scenario it is
    deployed for, the pilot it runs under and its compliance findings."""
    from robopass.pilots.models import Pilot
    from robopass.web.app import choices, compliance_pages

    pilot = db.get(Pilot, unit.pilot_id) if unit.pilot_id else None
    return {"scenario_label": choices.SCENARIOS.get(unit.scenario or "", unit.scenario)
            if unit.scenario else None,
            "pilot": {"id": pilot.id, "name": pilot.name} if pilot is not None else None,
            "findings": compliance_pages.unit_findings(db, actor, unit.code, locale)}
