"""Safety pages: recall campaigns, defect signals and the incident trace report (SPEC §6)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select

from robopass import regions
from robopass.auth.service import Actor
from robopass.db import read_session
from robopass.errors import RobopassError
from robopass.incidents import trace
from robopass.ledger import service as ledger_service
from robopass.organizations.models import Organization
from robopass.recalls import service as recall_service
from robopass.signals import service as signal_service
from robopass.web import public
from robopass.web.app import charts, choices, common, forms, history, trace_text
from robopass.web.app.dashboard import ALERT_LABELS, PARTY_LABELS, SEVERITY_LABELS
from robopass.web.app.safety_forms import INCIDENT_TYPES

router = APIRouter(include_in_schema=False)


def may_list_recalls(actor: Actor) -> bool:
    """Campaign lists are for overseers (``recalls.service.list_recalls`` filters them)."""
    return actor.has("regulator", "manufacturer")


def may_list_signals(actor: Actor) -> bool:
    return actor.has("regulator", "manufacturer")


@router.get("/app/recalls")
def recall_list(request: Request) -> Response:
    ws = common.require(request)
    if not may_list_recalls(ws.actor):
        return common.forbidden(request, ws)
    with read_session(request.app.state.settings.database_url) as db:
        recalls = recall_service.list_recalls(db, actor=ws.actor, limit=200)
    return common.render(request, "app/recalls.html", {
        "recalls": recalls, "actions": forms.available(ws.actor, "recall-open")}, ws)


@router.get("/app/recalls/{recall_id}")
def recall_page(recall_id: str, request: Request) -> Response:
    ws = common.require(request)
    with read_session(request.app.state.settings.database_url) as db:
        try:
            progress = recall_service.read_recall(db, actor=ws.actor, recall_id=recall_id[:40])
            units = recall_service.list_units(db, actor=ws.actor, recall_id=recall_id[:40],
                                              limit=500)["units"]
        except RobopassError:
            return common.not_found(request, ws)
        scope_text = recall_service.scope_summary(progress["scope"])
        decided = history.rows(db, ws.actor, progress["id"]) if ws.actor.is_regulator or \
            ws.actor.id in (progress.get("manufacturers") or []) else None
    remedy = forms.FORMS["event-recall_remedied"].allowed(ws.actor)
    close = "recall-close" in forms.FORMS and forms.FORMS["recall-close"].allowed(ws.actor)
    return common.render(request, "app/recall.html", {
        "r": progress, "units": units, "scope_text": scope_text, "remedy": remedy,
        "close": close and progress.get("status") != "closed", "history": decided}, ws)


@router.get("/app/signals")
def signal_list(request: Request) -> Response:
    ws = common.require(request)
    if not may_list_signals(ws.actor):
        return common.forbidden(request, ws)
    with read_session(request.app.state.settings.database_url) as db:
        signals = signal_service.list_signals(db, actor=ws.actor, limit=200)
        ids = {s["group"]["supplier_id"] for s in signals} | {s["group"]["model_id"]
                                                             for s in signals}
        names = dict(db.execute(select(Organization.id, Organization.name).where(
            Organization.id.in_([i for i in ids if i]))).all())
    return common.render(request, "app/signals.html", {
        "signals": signals, "names": names,
        "may_dismiss": forms.FORMS["signal-dismiss"].allowed(ws.actor),
        "may_recall": forms.FORMS["signal-recall"].allowed(ws.actor)}, ws)


def _telemetry_chart(report: dict[str, Any], title: str) -> tuple[Any, list[dict[str, Any]]]:
    readings = report["telemetry"].get("readings") or []
    rows = [{"at": (r.get("at") or "")[:19].replace("T", " "),
             "battery_soh": r.get("metrics", {}).get("battery_soh"),
             "accuracy": r.get("metrics", {}).get("accuracy"),
             "faults": ", ".join(r.get("metrics", {}).get("fault_codes") or [])}
            for r in readings]
    chart = charts.line([(row["at"][11:16], row["battery_soh"]) for row in rows], title=title,
                        color="#116329")
    return chart, rows


@router.get("/app/incidents/{incident_id}/trace")
def incident_trace(incident_id: str, request: Request) -> Response:
    """The trace report as a page; the same report as ``GET /api/v1/incidents/{id}/trace``
    (readable by the same parties, the read audit-logged the same way)."""
    ws = common.require(request)
    _ = common.gettext(request)
    loc = common.locale(request)
    with read_session(request.app.state.settings.database_url) as db:
        try:
            report = trace.trace_incident(db, actor=ws.actor, incident_id=incident_id[:40],
                                          path=request.url.path)
        except RobopassError:
            return common.not_found(request, ws)
        size = ledger_service.size(db)
    chart, rows = _telemetry_chart(report, _("Battery state of health around the incident, "
                                             "in percent"))
    unit = report["unit"]
    return common.render(request, "app/trace.html", {
        "t": report, "chart": chart, "readings": rows, "ledger_size": size,
        "party_labels": PARTY_LABELS, "severity_labels": SEVERITY_LABELS,
        "type_labels": INCIDENT_TYPES, "alert_labels": ALERT_LABELS,
        "status_labels": public.STATUS_LABELS,
        "place": " ".join(x for x in (regions.name(unit.get("province"), loc),
                                      regions.name(unit.get("city"), loc)) if x) or "—",
        "proof": lambda i: f"/api/v1/ledger/proof/inclusion?index={i}&size={size}",
        "evidence": lambda e: trace_text.render(e, _, loc),
        "component_labels": choices.COMPONENT_TYPES}, ws)
