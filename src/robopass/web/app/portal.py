"""The organisation portal: what a manufacturer, operator, service provider or recycler sees
and does in the browser. Every query is limited to the signed-in organisation."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, or_, select

from robopass.components.models import Component
from robopass.db import read_session, transaction, write_session
from robopass.errors import RobopassError
from robopass.labels import render as label_render
from robopass.labels import service as label_service
from robopass.lifecycle import service as lifecycle_service
from robopass.lifecycle.models import Event
from robopass.maintenance import service as maintenance_service
from robopass.organizations.models import ServiceAuthorization
from robopass.product_models import service as model_service
from robopass.product_models.models import ProductModel
from robopass.recalls import service as recall_service
from robopass.recalls.models import Recall, RecallUnit
from robopass.robots import service as robot_service
from robopass.robots.models import Unit
from robopass.telemetry import service as telemetry_service
from robopass.telemetry.models import TelemetryAlert
from robopass.timeutil import utcnow
from robopass.web import public
from robopass.web.app import charts, common, forms
from robopass.web.app.dashboard import ALERT_LABELS

router = APIRouter(include_in_schema=False)
#: Largest batch the browser form issues at once (the API allows more).
FORM_MAX_CODES = 10_000


def _manufacturer(db: Any, actor: Any, request: Request) -> dict[str, Any]:
    models = model_service.list_models(db, actor=actor, manufacturer_id=actor.id, limit=500)
    counts = dict(db.execute(select(Unit.model_id, func.count()).where(
        Unit.manufacturer_id == actor.id).group_by(Unit.model_id)).all())
    batches = [dict(r._mapping) for r in db.execute(
        select(Unit.model_id, Unit.production_month, Unit.plant, func.count().label("n"),
               func.min(Unit.code).label("first"), func.max(Unit.code).label("last"),
               func.max(Unit.issued_at).label("issued"))
        .where(Unit.manufacturer_id == actor.id)
        .group_by(Unit.model_id, Unit.production_month, Unit.plant)
        .order_by(func.max(Unit.issued_at).desc()).limit(30))]
    names = {m.id: m for m in models}
    for b in batches:
        m = names.get(b["model_id"])
        b["model"] = f"{m.name} ({m.model_code})" if m else b["model_id"]
        b["sheet"] = "/app/labels/sheet.svg?" + urlencode(
            {"model": b["model_id"], "production_month": b["production_month"],
             "plant": b["plant"]})
    units = list(db.scalars(select(Unit).where(Unit.manufacturer_id == actor.id)
                            .order_by(Unit.issued_at.desc(), Unit.code).limit(25)))
    total_units = int(db.scalar(select(func.count()).select_from(Unit).where(
        Unit.manufacturer_id == actor.id)) or 0)
    return {"models": models, "unit_counts": counts, "batches": batches, "units": units,
            "total_units": total_units,
            "approved": [m for m in models if m.status == "approved"],
            "recalls": recall_service.list_recalls(db, actor=actor, limit=30)}


def _fleet_query(actor: Any) -> Any:
    return select(Unit.code).where(or_(Unit.owner_id == actor.id, Unit.operator_id == actor.id))


def _operator(db: Any, actor: Any, request: Request) -> dict[str, Any]:
    _ = common.gettext(request)
    fleet = _fleet_query(actor)
    by_status = dict(db.execute(select(Unit.status, func.count()).where(
        or_(Unit.owner_id == actor.id, Unit.operator_id == actor.id)).group_by(Unit.status)).all())
    health = telemetry_service.fleet_health_distribution(db, unit_codes_query=fleet)
    alerts = list(db.scalars(select(TelemetryAlert).where(
        TelemetryAlert.closed_at.is_(None), TelemetryAlert.code.in_(fleet))
        .order_by(TelemetryAlert.since.desc()).limit(50)))
    recalls = [dict(r._mapping) for r in db.execute(
        select(RecallUnit.code, Recall.id, Recall.reason, Recall.opened_at)
        .join(Recall, Recall.id == RecallUnit.recall_id)
        .where(RecallUnit.remedied_at.is_(None),
               or_(RecallUnit.owner_id == actor.id, RecallUnit.operator_id == actor.id))
        .order_by(Recall.opened_at.desc()).limit(50))]
    return {"fleet_total": sum(by_status.values()), "fleet_by_status": by_status,
            "health": health, "alerts": alerts, "open_recalls": recalls,
            "soh_chart": charts.columns(
                [{"label": b["from"], "value": b["count"],
                  "color": "#a40e26" if b["to"] <= 70 else charts.PALETTE[1]}
                 for b in health["battery_soh"]["buckets"]],
                title=_("Battery state of health, in percent")),
            "wear_chart": charts.columns(
                [{"label": b["from"], "value": b["count"],
                  "color": "#a40e26" if b["from"] >= 80 else charts.PALETTE[2]}
                 for b in health["max_joint_wear"]["buckets"]],
                title=_("Most worn joint, in percent of rated life"))}


def _recycler(db: Any, actor: Any, request: Request) -> dict[str, Any]:
    waiting = list(db.scalars(select(Unit).where(Unit.status == "decommissioned",
                                                 Unit.recycler_id == actor.id)
                              .order_by(Unit.last_event_at.desc()).limit(100)))
    done = list(db.scalars(select(Event).where(Event.organization_id == actor.id,
                                               Event.type.in_(("recycled", "scrapped")))
                           .order_by(Event.recorded_at.desc()).limit(20)))
    return {"waiting": waiting, "done": done}


#: The forms each role's portal offers (each still passes its own ``allowed``).
ROLE_ACTIONS: dict[str, tuple[str, ...]] = {
    "manufacturer": ("model-file", "codes-issue", "event-manufactured", "event-shipped",
                     "event-sold", "event-firmware_updated", "event-recall_remedied",
                     "recall-open"),
    "seller": ("event-sold", "event-shipped", "event-transferred", "event-deployed",
               "event-decommissioned", "service-authorize", "incident-report"),
    "operator": ("event-deployed", "event-maintenance_started", "event-maintenance_completed",
                 "event-firmware_updated", "event-component_replaced", "event-transferred",
                 "event-suspended", "event-reinstated", "event-decommissioned",
                 "service-authorize", "incident-report"),
    "service_provider": ("event-maintenance_started", "event-maintenance_completed",
                         "event-firmware_updated", "event-component_replaced",
                         "event-recall_remedied"),
    "recycler": ("event-recycled", "event-scrapped"),
}


def _owned(db: Any, actor: Any, *statuses: str, limit: int = 50) -> list[Unit]:
    query = select(Unit).where(or_(Unit.owner_id == actor.id, Unit.operator_id == actor.id))
    if statuses:
        query = query.where(Unit.status.in_(statuses))
    return list(db.scalars(query.order_by(Unit.last_event_at.desc(), Unit.code).limit(limit)))


def _seller(db: Any, actor: Any, request: Request) -> dict[str, Any]:
    stock = list(db.scalars(select(Unit).where(Unit.owner_id == actor.id)
                            .order_by(Unit.last_event_at.desc(), Unit.code).limit(100)))
    sold = list(db.scalars(select(Event).where(Event.organization_id == actor.id,
                                               Event.type.in_(("sold", "transferred")))
                           .order_by(Event.at.desc()).limit(20)))
    return {"stock": stock, "sold": sold}


def _provider_units(db: Any, actor: Any) -> list[Unit]:
    """Units the provider is authorised for: named ones, and all of each granting owner's or
    operator's units (the grant ``code`` None)."""
    grants = list(db.execute(select(ServiceAuthorization.code, ServiceAuthorization.granted_by_id)
                             .where(ServiceAuthorization.provider_id == actor.id,
                                    ServiceAuthorization.revoked_at.is_(None))))
    codes = [c for c, _g in grants if c]
    owners = [g for c, g in grants if not c]
    if not codes and not owners:
        return []
    cond = [Unit.code.in_(codes)] if codes else []
    if owners:
        cond += [Unit.owner_id.in_(owners), Unit.operator_id.in_(owners)]
    return list(db.scalars(select(Unit).where(or_(*cond), Unit.status.in_(
        ("in_service", "under_maintenance", "suspended", "sold")))
        .order_by(Unit.status.desc(), Unit.code).limit(100)))


def _supplier(db: Any, actor: Any, request: Request) -> dict[str, Any]:
    batches = [dict(r._mapping) for r in db.execute(
        select(Component.component_type, Component.batch, func.count().label("n"),
               func.count(Component.unit_code).label("fitted"))
        .where(Component.supplier_id == actor.id)
        .group_by(Component.component_type, Component.batch)
        .order_by(func.count().desc()).limit(50))]
    touching = list(db.scalars(select(Recall).order_by(Recall.opened_at.desc()).limit(500)))
    mine = [r for r in touching if (r.scope or {}).get("component_supplier") == actor.id]
    return {"batches": batches, "touching": mine,
            "total": int(db.scalar(select(func.count()).select_from(Component).where(
                Component.supplier_id == actor.id)) or 0)}


def _software(db: Any, actor: Any, request: Request) -> dict[str, Any]:
    models = list(db.scalars(select(ProductModel).where(
        ProductModel.software_provider_id == actor.id).order_by(ProductModel.name)))
    counts = dict(db.execute(select(Unit.model_id, func.count()).where(
        Unit.model_id.in_([m.id for m in models])).group_by(Unit.model_id)).all()) \
        if models else {}
    return {"models": models, "counts": counts}


def _lab(db: Any, actor: Any, request: Request) -> dict[str, Any]:
    models = list(db.scalars(select(ProductModel).where(
        ProductModel.testing_lab_id == actor.id).order_by(ProductModel.filed_at.desc())))
    return {"models": models,
            "may_evaluate": "model-evaluate" in forms.FORMS
            and forms.FORMS["model-evaluate"].allowed(actor)}


@router.get("/app/portal")
def portal(request: Request) -> Response:
    ws = common.require(request)
    actor = ws.actor
    if not actor.has(*common.PORTAL_ROLES):
        if actor.is_regulator:
            return RedirectResponse("/app/dashboard", status_code=303)
        return common.forbidden(request, ws)
    ctx: dict[str, Any] = {"status_labels": public.STATUS_LABELS,
                           "model_status_labels": public.MODEL_STATUS_LABELS,
                           "alert_labels": ALERT_LABELS, "query": request.query_params,
                           "form_max": FORM_MAX_CODES,
                           "default_month": utcnow().strftime("%Y-%m")}
    with read_session(request.app.state.settings.database_url) as db:
        if actor.has("manufacturer"):
            ctx["maker"] = _manufacturer(db, actor, request)
        if actor.has("component_supplier"):
            ctx["supplier"] = _supplier(db, actor, request)
        if actor.has("software_provider"):
            ctx["software"] = _software(db, actor, request)
        if actor.has("seller"):
            ctx["seller"] = _seller(db, actor, request)
        if actor.has("operator"):
            ctx["operator"] = _operator(db, actor, request)
            ctx["operator"]["units"] = _owned(db, actor)
        if actor.has("operator", "manufacturer", "seller"):
            from robopass.web.app import compliance_pages

            ctx["findings"] = compliance_pages.open_findings(db, actor, common.locale(request))
        if actor.has("service_provider"):
            ctx["work"] = maintenance_service.provider_work(db, actor=actor, limit=100)
            ctx["work"]["units"] = _provider_units(db, actor)
        if actor.has("recycler"):
            ctx["recycler"] = _recycler(db, actor, request)
        if actor.has("testing_lab"):
            ctx["lab"] = _lab(db, actor, request)
    ctx["role_actions_map"] = {role: forms.available(actor, *names)
                           for role, names in ROLE_ACTIONS.items() if actor.has(role)}
    return common.render(request, "app/portal.html", ctx, ws)


@router.post("/app/portal/codes")
async def issue_codes(request: Request) -> Response:
    ws = common.require(request)
    form = await request.form()
    if not common.csrf_ok(ws, form):
        return common.bad_csrf(request, ws)
    if not ws.actor.has("manufacturer"):
        return common.forbidden(request, ws)
    _ = common.gettext(request)
    model_id = str(form.get("model_id") or "")[:40]
    plant = str(form.get("plant") or "")[:8]
    month = str(form.get("production_month") or "")[:10]
    try:
        count = int(str(form.get("count") or ""))
    except ValueError:
        return common.error_page(request, ws, 422, _("The number of codes must be a number."))
    if not 1 <= count <= FORM_MAX_CODES:
        return common.error_page(request, ws, 422, _(
            "The number of codes must be between 1 and %(max)s.") % {"max": FORM_MAX_CODES})
    try:
        with write_session(request.app.state.settings.database_url) as db, transaction(db):
            codes = robot_service.issue_codes(db, actor=ws.actor, model_id=model_id,
                                              count=count, plant=plant,
                                              production_month=month)
    except RobopassError as exc:
        if exc.status in (403, 404):
            return common.not_found(request, ws)
        return common.error_page(request, ws, exc.status, exc.message)
    query = urlencode({"issued": len(codes), "model": model_id, "production_month": month,
                       "plant": plant.upper(), "first": codes[0], "last": codes[-1]})
    return RedirectResponse(f"/app/portal?{query}#issue", status_code=303)


@router.get("/app/labels/sheet.{fmt}")
def label_sheet(fmt: str, request: Request, model: str, production_month: str | None = None,
                plant: str | None = None) -> Response:
    """Printable label sheet (SVG or PDF) of one production run of the manufacturer's model."""
    ws = common.require(request)
    if fmt not in ("svg", "pdf"):
        return common.not_found(request, ws)
    settings = request.app.state.settings
    with read_session(settings.database_url) as db:
        m = db.get(ProductModel, model[:40])
        if m is None or not (m.manufacturer_id == ws.actor.id or ws.actor.is_national_regulator):
            return common.not_found(request, ws)
        try:
            codes = label_service.production_run(db, model=m.id,
                                                 production_month=production_month,
                                                 plant=plant)
        except RobopassError as exc:
            return common.error_page(request, ws, exc.status, exc.message)
    if not codes:
        return common.not_found(request, ws)
    headers = dict(common.SECURITY_HEADERS)
    if fmt == "pdf":
        return Response(label_render.sheet_pdf(codes, settings.public_url),
                        media_type="application/pdf", headers=headers)
    return Response(label_render.sheet_svg(codes, settings.public_url),
                    media_type="image/svg+xml", headers=headers)


@router.post("/app/portal/intake")
async def intake(request: Request) -> Response:
    """A recycler records a decommissioned unit named to it as recycled or scrapped."""
    ws = common.require(request)
    form = await request.form()
    if not common.csrf_ok(ws, form):
        return common.bad_csrf(request, ws)
    if not ws.actor.has("recycler"):
        return common.forbidden(request, ws)
    action = form.get("action")
    code = str(form.get("code") or "")[:60]
    if action not in ("recycled", "scrapped"):
        _ = common.gettext(request)
        return common.error_page(request, ws, 422, _("Choose recycled or scrapped."))
    settings = request.app.state.settings
    req = lifecycle_service.EventRequest(code=code, type=str(action),
                                         details={"via": "web portal"})
    try:
        with write_session(settings.database_url) as db, transaction(db):
            lifecycle_service.record_events(db, actor=ws.actor, requests=[req])
    except lifecycle_service.EventRefused as refused:
        with write_session(settings.database_url) as other, transaction(other):
            lifecycle_service.record_refusals(other, actor=ws.actor, attempts=refused.attempts)
        return common.error_page(request, ws, refused.status, refused.message)
    except RobopassError as exc:
        return common.error_page(request, ws, exc.status, exc.message)
    return RedirectResponse(f"/app/portal?{urlencode({'recorded': action, 'code': code})}"
                            "#intake", status_code=303)
