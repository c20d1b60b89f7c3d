"""Regulator pages: dashboard, supply-chain view, unit drill-down list, model decisions."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from robopass import regions
from robopass.db import read_session, transaction, write_session
from robopass.errors import RobopassError
from robopass.organizations.models import Organization
from robopass.product_models import service as model_service
from robopass.robots.models import UNIT_STATUSES
from robopass.stats import service as stats
from robopass.web import public
from robopass.web.app import charts, common
from robopass.web.i18n import N_

router = APIRouter(include_in_schema=False)

SEVERITY_LABELS = {"minor": N_("Minor"), "major": N_("Major"), "critical": N_("Critical")}
PARTY_LABELS = {"manufacturer": N_("Hardware maker"),
                "component_supplier": N_("Component supplier"),
                "software_provider": N_("Software provider"), "operator": N_("Operator"),
                "owner": N_("Owner"), "service_provider": N_("Service provider"),
                "undetermined": N_("Undetermined")}
FRAUD_LABELS = {"resale_of_scrapped": N_("Resale or reuse of scrapped units"),
                "duplicate_component": N_("Duplicate component bindings"),
                "invalid_code": N_("Invalid codes used"), "other": N_("Other")}
ALERT_LABELS = {"battery_soh_low": N_("Battery health low"),
                "joint_wear_high": N_("Joint wear high"),
                "accuracy_low": N_("Accuracy low"), "new_fault_code": N_("New fault code")}
SEVERITY_COLORS = {"minor": "#1b7c83", "major": "#7d4e00", "critical": "#a40e26"}


def _regulator(request: Request) -> tuple[Any, Response | None]:
    ws = common.require(request)
    if not ws.actor.is_regulator:
        return ws, common.forbidden(request, ws)
    return ws, None


def _province_name(code: str | None, locale: str) -> str:
    return regions.name(code, locale) if code else "—"


def _filters(request: Request) -> tuple[str | None, str | None]:
    province = request.query_params.get("province") or None
    if province and not (len(province) == 6 and province.isdigit()):
        province = None
    maker = request.query_params.get("manufacturer") or None
    if maker and len(maker) > 40:
        maker = None
    return province, maker


def units_href(**params: Any) -> str:
    return "/app/units?" + urlencode({k: v for k, v in params.items() if v})


@router.get("/app/dashboard")
def dashboard(request: Request) -> Response:
    ws, refused = _regulator(request)
    if refused:
        return refused
    province, maker = _filters(request)
    loc = common.locale(request)
    _ = common.gettext(request)
    with read_session(request.app.state.settings.database_url) as db:
        if maker and not stats.org_in_scope(db, ws.actor, maker):
            return common.not_found(request, ws)
        data = stats.overview(db, actor=ws.actor, province=province, manufacturer_id=maker)
        fleet = stats.fleet_health(db, actor=ws.actor, province=province,
                                   manufacturer_id=maker)
        resp = stats.responsibility(db, actor=ws.actor, province=province,
                                    manufacturer_id=maker)
        makers = [(o.id, o.name) for o in db.query(Organization).order_by(Organization.name)
                  if "manufacturer" in (o.roles or [])
                  and stats.org_in_scope(db, ws.actor, o.id)]
        from robopass.web.app import compliance_pages

        regulation = compliance_pages.regulation_overview(db, ws.actor, province, loc, _)
    prov = data["scope"]["province"]
    u = data["units"]
    charts_ = {
        "status": charts.hbar([{"label": _(public.STATUS_LABELS.get(s, s)), "value": n,
                                "href": units_href(status=s, province=prov, manufacturer=maker)}
                               for s, n in u["by_status"].items()],
                              title=_("Units by status")),
        "models": charts.hbar([{"label": _(public.MODEL_STATUS_LABELS.get(s, s)), "value": n}
                               for s, n in data["models"]["by_status"].items()],
                              title=_("Models by filing status"), color=charts.PALETTE[5]),
        "makers": charts.hbar([{"label": m["name"], "value": m["units"],
                                "href": units_href(manufacturer=m["id"], province=prov)}
                               for m in u["by_manufacturer"][:15]],
                              title=_("Units by manufacturer (top 15)"), label_width=260),
        "provinces": charts.hbar([{"label": _province_name(p["code"], loc) if p["code"]
                                   else _("Not located"), "value": p["units"],
                                   "href": units_href(province=p["code"], manufacturer=maker)}
                                  for p in u["by_province"]],
                                 title=_("Units by province"), color=charts.PALETTE[1]),
        "months": charts.columns([{"label": m["month"][2:], "value": m["count"]}
                                  for m in data["codes_per_month"][-24:]],
                                 title=_("Codes issued per month"),
                                 every=max(1, len(data["codes_per_month"][-24:]) // 8)),
        "production": charts.columns([{"label": m["month"][2:], "value": m["count"]}
                                      for m in data["units_by_production_month"][-24:]],
                                     title=_("Units by production month"),
                                     color=charts.PALETTE[5], every=max(
                                         1, len(data["units_by_production_month"][-24:]) // 8)),
        "severity": charts.hbar([{"label": _(SEVERITY_LABELS[s]), "value": n,
                                  "color": SEVERITY_COLORS[s]}
                                 for s, n in data["incidents"]["by_severity"].items()],
                                title=_("Incidents by severity")),
        "responsibility": charts.hbar([{"label": _(PARTY_LABELS.get(p, p)), "value": n}
                                       for p, n in resp["by_party"].items()],
                                      title=_("Incidents by likely responsibility"),
                                      color=charts.PALETTE[4]),
        "soh": charts.columns([{"label": b["from"], "value": b["count"],
                                "color": "#a40e26" if b["to"] <= 70 else charts.PALETTE[1]}
                               for b in fleet["battery_soh"]["buckets"]],
                              title=_("Battery state of health, in percent")),
        "wear": charts.columns([{"label": b["from"], "value": b["count"],
                                 "color": "#a40e26" if b["from"] >= 80 else charts.PALETTE[2]}
                                for b in fleet["max_joint_wear"]["buckets"]],
                               title=_("Most worn joint, in percent of rated life")),
        "fraud": charts.hbar([{"label": _(FRAUD_LABELS[g]), "value": n}
                              for g, n in data["fraud_alerts"]["by_group"].items()],
                             title=_("Fraud alerts"), color=charts.PALETTE[3], label_width=260),
    }
    provinces = [(code, _province_name(code, loc)) for code in regions.PROVINCES
                 if not ws.actor.scope_province or code[:2] == ws.actor.scope_province[:2]]
    return common.render(request, "app/dashboard.html", {
        "data": data, "fleet": fleet, "resp": resp, "charts": charts_, "reg": regulation,
        "provinces": provinces, "makers": makers, "province": province, "maker": maker,
        "scope_name": _province_name(ws.actor.scope_province, loc)
        if ws.actor.scope_province else None,
        "alert_labels": ALERT_LABELS, "fraud_labels": FRAUD_LABELS,
        "status_labels": public.STATUS_LABELS, "units_href": units_href,
        "province_name": lambda c: _province_name(c, loc),
    }, ws)


@router.get("/app/supply-chain")
def supply_chain(request: Request) -> Response:
    ws, refused = _regulator(request)
    if refused:
        return refused
    province, _maker = _filters(request)
    _ = common.gettext(request)
    with read_session(request.app.state.settings.database_url) as db:
        data = stats.supply_chain(db, actor=ws.actor, province=province)
    crit = charts.hbar([{"label": f"{s['name']} ({s['country']})", "value": s["robots"]}
                        for s in data["critical_suppliers"][:12]],
                       title=_("Suppliers whose failure would touch the most robots"),
                       label_width=300, color=charts.PALETTE[3])
    hhi = charts.hbar([{"label": t["component_type"], "value": t["hhi"],
                        "color": "#a40e26" if t["hhi"] > 2500 else
                        ("#7d4e00" if t["hhi"] > 1500 else charts.PALETTE[1])}
                       for t in data["component_types"]],
                      title=_("Concentration per component type (HHI)"))
    countries = charts.hbar([{"label": c["country"], "value": c["components"]}
                             for c in data["by_country"]],
                            title=_("Key components by supplier country"),
                            color=charts.PALETTE[5])
    loc = common.locale(request)
    provinces = [(code, _province_name(code, loc)) for code in regions.PROVINCES
                 if not ws.actor.scope_province or code[:2] == ws.actor.scope_province[:2]]
    return common.render(request, "app/supply_chain.html", {
        "data": data, "crit": crit, "hhi": hhi, "countries": countries,
        "provinces": provinces, "province": province}, ws)


@router.get("/app/units")
def unit_list(request: Request) -> Response:
    ws, refused = _regulator(request)
    if refused:
        return refused
    province, maker = _filters(request)
    status = request.query_params.get("status") or None
    if status not in UNIT_STATUSES:
        status = None
    alert = request.query_params.get("alert") or None
    if alert not in ALERT_LABELS:
        alert = None
    try:
        page = max(1, min(10_000, int(request.query_params.get("page") or 1)))
    except ValueError:
        page = 1
    with read_session(request.app.state.settings.database_url) as db:
        if maker and not stats.org_in_scope(db, ws.actor, maker):
            return common.not_found(request, ws)
        total, units = stats.unit_list(db, actor=ws.actor, status=status, province=province,
                                       manufacturer_id=maker, alert=alert, limit=50,
                                       offset=(page - 1) * 50)
        names = {o.id: o.name for o in db.query(Organization).filter(
            Organization.id.in_({u.manufacturer_id for u in units}))}
    loc = common.locale(request)
    rows = [{"code": u.code, "status": u.status, "maker": names.get(u.manufacturer_id),
             "province": _province_name(u.province, loc),
             "city": _province_name(u.city, loc) if u.city and regions.name(u.city, loc)
             != regions.name(u.province, loc) else "",
             "open_recalls": u.open_recalls} for u in units]
    base = {"status": status, "province": province, "manufacturer": maker, "alert": alert}
    return common.render(request, "app/units.html", {
        "rows": rows, "total": total, "page": page, "status": status, "alert": alert,
        "status_labels": public.STATUS_LABELS, "alert_labels": ALERT_LABELS,
        "prev": units_href(**base, page=page - 1) if page > 1 else None,
        "next": units_href(**base, page=page + 1) if page * 50 < total else None}, ws)


@router.post("/app/models/{model_id}/decide")
async def decide(model_id: str, request: Request) -> Response:
    ws, refused = _regulator(request)
    if refused:
        return refused
    form = await request.form()
    if not common.csrf_ok(ws, form):
        return common.bad_csrf(request, ws)
    action = form.get("action")
    if action not in ("approve", "reject"):
        _ = common.gettext(request)
        return common.error_page(request, ws, 422, _("Choose approve or reject."))
    reason = str(form.get("reason") or "")[:1000] or None
    try:
        with write_session(request.app.state.settings.database_url) as db, transaction(db):
            model_service.decide(db, actor=ws.actor, model_id=model_id[:40],
                                 decision=action, reason=reason)  # type: ignore[arg-type]
    except RobopassError as exc:
        if exc.status == 404:
            return common.not_found(request, ws)
        if exc.status == 403:
            return common.forbidden(request, ws)
        return common.error_page(request, ws, exc.status, exc.message)
    return RedirectResponse(f"/app/dashboard?decided={action}#queue", status_code=303)
