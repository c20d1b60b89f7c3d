"""Safety forms: open a recall, report an incident, act on a defect signal (SPEC §6)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from robopass.auth.service import Actor
from robopass.incidents import service as incident_service
from robopass.product_models.models import ProductModel
from robopass.recalls import service as recall_service
from robopass.signals import service as signal_service
from robopass.web.app import choices
from robopass.web.app.forms import Field, Values, WebForm, register
from robopass.web.i18n import N_

INCIDENT_TYPES = {"safety_accident": N_("Safety accident"), "malfunction": N_("Malfunction"),
                  "data_breach": N_("Data breach"), "near_miss": N_("Near miss"),
                  "other": N_("Other")}
SEVERITIES = {"minor": N_("Minor"), "major": N_("Major"), "critical": N_("Critical")}
SCOPE_FIELDS = ("model_id", "production_from", "production_to", "serial_from", "serial_to",
                "component_supplier", "component_batch")


def may_open_recalls(actor: Actor) -> bool:
    return actor.has("manufacturer", "regulator")


def may_report_incidents(actor: Actor) -> bool:
    return actor.has("operator", "seller", "manufacturer", "regulator")


def may_dismiss_signals(actor: Actor) -> bool:
    return actor.is_regulator


def _recallable_models(db: Session, actor: Actor, locale: str) -> list[tuple[str, str]]:
    query = select(ProductModel).order_by(ProductModel.name)
    if not actor.is_regulator:
        query = query.where(ProductModel.manufacturer_id == actor.id)
    return [(m.id, f"{m.name} ({m.company_code}-{m.model_code})") for m in db.scalars(query)]


def _open_recall(db: Session, actor: Actor, v: Values) -> Any:
    scope = {k: v.text(k) for k in SCOPE_FIELDS if v.text(k)}
    return recall_service.open_recall(db, actor=actor, reason=v.text("reason") or "",
                                      scope=scope)


register(WebForm(
    name="recall-open", title=N_("Open a recall"),
    intro=N_("Every robot in the scope that is not recycled or scrapped is affected; owners "
             "and operators are notified. Give at least one scope field."),
    fields=(Field("reason", N_("Reason"), kind="textarea", required=True, maxlength=2000),
            Field("model_id", N_("Model"), kind="select", options=_recallable_models),
            Field("production_from", N_("Produced from (YYYY-MM)"), kind="month"),
            Field("production_to", N_("Produced until (YYYY-MM)"), kind="month"),
            Field("serial_from", N_("First code"), maxlength=64),
            Field("serial_to", N_("Last code"), maxlength=64),
            Field("component_supplier", N_("Component supplier"), kind="select",
                  options=choices.organisations("component_supplier", "manufacturer")),
            Field("component_batch", N_("Component batch"), maxlength=64)),
    allowed=may_open_recalls, submit=_open_recall, button=N_("Open the recall"),
    done=lambda v, r: f"/app/recalls/{r.id}?done=recall-open"))


def _report(db: Session, actor: Actor, v: Values) -> Any:
    at = v.when("at", required=True)
    assert at is not None
    return incident_service.report(db, actor=actor, code=v.need("code"), at=at,
                                   type=v.need("type"), severity=v.need("severity"),
                                   description=v.need("description"), place=v.text("place"))


register(WebForm(
    name="incident-report", title=N_("Report an incident"),
    fields=(Field("code", N_("Robot code"), required=True, maxlength=64),
            Field("at", N_("When (UTC)"), kind="datetime", required=True),
            Field("type", N_("Type"), kind="select", required=True,
                  options=choices.labelled(INCIDENT_TYPES)),
            Field("severity", N_("Severity"), kind="select", required=True,
                  options=choices.labelled(SEVERITIES)),
            Field("description", N_("What happened"), kind="textarea", required=True,
                  maxlength=5000),
            Field("place", N_("Place"), maxlength=500)),
    allowed=may_report_incidents, submit=_report, button=N_("Report"),
    done=lambda v, i: f"/app/incidents/{i.id}/trace?done=incident-report"))


def _dismiss(db: Session, actor: Actor, v: Values) -> Any:
    return signal_service.dismiss(db, actor=actor, signal_id=v.need("signal_id"),
                                  reason=v.need("reason"))


register(WebForm(
    name="signal-dismiss", title=N_("Dismiss a defect signal"),
    intro=N_("Say why this is not a common defect; the reason stays on record."),
    fields=(Field("signal_id", N_("Signal"), kind="hidden", required=True, maxlength=40),
            Field("reason", N_("Reason"), kind="textarea", required=True, maxlength=2000)),
    allowed=may_dismiss_signals, submit=_dismiss, button=N_("Dismiss"),
    done=lambda v, s: "/app/signals?done=signal-dismiss"))


def _recall_from_signal(db: Session, actor: Actor, v: Values) -> Any:
    return signal_service.open_recall_from_signal(db, actor=actor,
                                                  signal_id=v.need("signal_id"),
                                                  reason=v.text("reason"))


register(WebForm(
    name="signal-recall", title=N_("Open a recall from this signal"),
    fields=(Field("signal_id", N_("Signal"), kind="hidden", required=True, maxlength=40),
            Field("reason", N_("Reason (empty: the signal's summary)"), kind="textarea",
                  maxlength=2000)),
    allowed=may_open_recalls, submit=_recall_from_signal, button=N_("Open the recall"),
    done=lambda v, r: f"/app/recalls/{r.id}?done=signal-recall"))
