"""Compliance findings in the browser (SPEC §14): the findings list, and the pieces the
dashboard, the operator's portal and the unit page show of differentiated regulation.

Every list comes from the compliance service (``compliance.service.visible_findings``, which
filters by the same rule as ``GET /api/v1/compliance/findings``: a regulator sees its scope, any
other organisation the findings of the units it owns, operates or made) and the regulation
dashboard (``compliance.dashboard``); the pages add no permission logic of their own."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from robopass import regions
from robopass.auth.service import Actor
from robopass.compliance import dashboard as compliance_dashboard
from robopass.compliance import service as compliance_service
from robopass.compliance.models import KINDS, Finding
from robopass.db import read_session
from robopass.timeutil import rfc3339
from robopass.web.app import charts, choices, common
from robopass.web.i18n import N_

router = APIRouter(include_in_schema=False)

FINDING_LABELS: dict[str, str] = {
    "telemetry_gap": N_("Telemetry gap"),
    "certification_expired": N_("Certification expired"),
    "evaluation_expired": N_("Evaluation expired"),
    "unapproved_software": N_("Unapproved software"),
    "policy_changed": N_("Policy changed"),
    "pilot_ended": N_("Pilot ended"),
}
assert set(FINDING_LABELS) == set(KINDS), "a finding kind without a label"
STATUS_FILTERS: dict[str, str] = {"open": N_("Open"), "resolved": N_("Resolved"),
                                  "all": N_("All")}
PAGE_SIZE = 100


def findings_href(**params: Any) -> str:
    return "/app/findings?" + urlencode({k: v for k, v in params.items() if v})


def rows_of(findings: list[Finding], locale: str) -> list[dict[str, Any]]:
    """Findings as the templates show them (labels are message ids, translated there)."""
    return [{"id": f.id, "code": f.code, "kind": f.kind,
             "kind_label": FINDING_LABELS.get(f.kind, f.kind), "detail": f.detail,
             "since": (rfc3339(f.since) or "")[:16].replace("T", " "),
             "resolved_at": (rfc3339(f.resolved_at) or "")[:16].replace("T", " ") or None,
             "scenario": f.scenario,
             "scenario_label": choices.SCENARIOS.get(f.scenario or "", f.scenario),
             "province": regions.name(f.province, locale) if f.province else "—",
             "policy_version": f.policy_version} for f in findings]


def unit_findings(db: Session, actor: Actor, code: str, locale: str) -> list[dict[str, Any]]:
    """A unit's findings, open and resolved (the unit page; the gate already admitted it)."""
    return rows_of(compliance_service.visible_findings(db, actor=actor, code=code, limit=50),
                   locale)


def open_findings(db: Session, actor: Actor, locale: str, limit: int = 50
                  ) -> list[dict[str, Any]]:
    """The open findings of an organisation's units (the portal)."""
    return rows_of(compliance_service.visible_findings(db, actor=actor, open_only=True,
                                                       limit=limit), locale)


def _filters(request: Request, actor: Actor) -> dict[str, str | None]:
    q = request.query_params
    kind = q.get("kind") if q.get("kind") in KINDS else None
    status = q.get("status") if q.get("status") in STATUS_FILTERS else "open"
    province = q.get("province") or None
    if province and not (len(province) == 6 and province.isdigit()
                         and province in regions.PROVINCES):
        province = None
    if actor.scope_province and province and province[:2] != actor.scope_province[:2]:
        province = None  # outside a provincial regulator's scope: the whole scope instead
    scenario = q.get("scenario") if q.get("scenario") in choices.SCENARIOS else None
    return {"kind": kind, "status": status, "province": province, "scenario": scenario}


@router.get("/app/findings")
def finding_list(request: Request) -> Response:
    """Findings with filters by kind, status, province and scenario; every row links to its
    unit. Any signed-in organisation may open it; the list holds what it may read."""
    ws = common.require(request)
    loc = common.locale(request)
    chosen = _filters(request, ws.actor)
    try:
        page = max(1, min(10_000, int(request.query_params.get("page") or 1)))
    except ValueError:
        page = 1
    open_only = {"open": True, "resolved": False}.get(chosen["status"] or "")
    with read_session(request.app.state.settings.database_url) as db:
        found = compliance_service.visible_findings(
            db, actor=ws.actor, kind=chosen["kind"], province=chosen["province"],
            scenario=chosen["scenario"], open_only=open_only, limit=PAGE_SIZE + 1,
            offset=(page - 1) * PAGE_SIZE)
    more = len(found) > PAGE_SIZE
    provinces = [(code, regions.name(code, loc)) for code in regions.PROVINCES
                 if not ws.actor.scope_province or code[:2] == ws.actor.scope_province[:2]]
    return common.render(request, "app/findings.html", {
        "rows": rows_of(found[:PAGE_SIZE], loc), "chosen": chosen, "page": page,
        "kinds": FINDING_LABELS, "statuses": STATUS_FILTERS, "provinces": provinces,
        "scenarios": choices.SCENARIOS,
        "prev": findings_href(**chosen, page=page - 1) if page > 1 else None,
        "next": findings_href(**chosen, page=page + 1) if more else None}, ws)


#: The dashboard's regulation figures are recomputed after this many seconds (findings change
#: with the compliance scan, which writes no ledger entry; units with each lifecycle event).
REGULATION_TTL = 60.0


def _regulation_data(db: Session, actor: Actor, province: str | None) -> dict[str, Any]:
    """The figures of the dashboard's regulation section, cached per scope and filter like
    the rest of the dashboard (``stats.service.cached``; at most :data:`REGULATION_TTL` old)."""
    from robopass.stats import service as stats

    def compute(session: Session) -> dict[str, Any]:
        data = compliance_dashboard.overview(session, actor=actor)
        by_kind = compliance_service.open_by_kind(session, province_prefix=province[:2]) \
            if province else data["open_findings_by_kind"]
        return {
            "by_place": [r for r in data["units_by_scenario"]
                         if not province or (r["province"] or "")[:2] == province[:2]],
            "by_kind": by_kind,
            "pilots": [{**p, "units": compliance_dashboard.pilot_units(
                session, actor=actor, pilot_id=p["id"], limit=20)} for p in data["pilots"]
                if not province or any(pr[:2] == province[:2] for pr in p["provinces"])]}

    scope = actor.scope_province[:2] if actor.scope_province else None
    return stats.cached(db, ("regulation", scope, province), compute,  # type: ignore[no-any-return]
                        ttl=REGULATION_TTL)


def regulation_overview(db: Session, actor: Actor, province: str | None, locale: str,
                        gettext: Any) -> dict[str, Any]:
    """The dashboard's section on differentiated regulation: units in service by scenario and
    province, open findings by kind (each linked to the findings list), pilots with their
    units. ``province`` (the dashboard's filter) narrows a national regulator's view."""
    _ = gettext
    data = _regulation_data(db, actor, province)
    by_kind = data["by_kind"]
    totals: dict[str, int] = {}
    for r in data["by_place"]:
        totals[r["scenario"]] = totals.get(r["scenario"], 0) + r["units"]
    pilots = [{**p, "place": ", ".join(regions.name(pr, locale) for pr in p["provinces"])}
              for p in data["pilots"]]
    rows = [{**r, "scenario_label": choices.SCENARIOS.get(r["scenario"], r["scenario"]),
             "province_name": regions.name(r["province"], locale) if r["province"] else "—"}
            for r in data["by_place"]]
    return {
        "by_place": rows, "by_kind": by_kind, "pilots": pilots,
        "scenario_chart": charts.hbar(
            [{"label": _(choices.SCENARIOS.get(s, s)), "value": n}
             for s, n in sorted(totals.items(), key=lambda kv: -kv[1])],
            title=_("Units in service by scenario"), color=charts.PALETTE[2]),
        "kind_chart": charts.hbar(
            [{"label": _(FINDING_LABELS[k]), "value": n,
              "href": findings_href(kind=k, province=province)} for k, n in by_kind.items()],
            title=_("Open findings by kind"), color=charts.PALETTE[3], label_width=220),
        "kind_href": lambda k: findings_href(kind=k, province=province),
        "finding_labels": FINDING_LABELS, "scenario_labels": choices.SCENARIOS,
    }
