"""A form for every lifecycle event (SPEC §4), each calling ``lifecycle.service.record_events``
exactly as ``POST /api/v1/robots/{code}/events`` does. Who may record what on which unit is the
state machine's decision (``lifecycle.rules``); the forms' ``allowed`` only hides forms from
roles that can never use them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from robopass.auth.service import Actor
from robopass.lifecycle import service as lifecycle_service
from robopass.web.app import choices
from robopass.web.app.forms import Field, Values, WebForm, register
from robopass.web.i18n import N_

CODE = Field("code", N_("Robot code"), required=True, maxlength=64,
             placeholder="CN-XXXX-XXXXXX-XXXXXXXXXXXXXXXXX")
AT = Field("at", N_("When (UTC; empty for now)"), kind="datetime")
OWNERS = ("manufacturer", "seller", "operator", "regulator")
WORKERS = ("manufacturer", "seller", "operator", "service_provider", "regulator")

Details = Callable[[Values], dict[str, Any]]


def _roles(*roles: str) -> Callable[[Actor], bool]:
    def allowed(actor: Actor) -> bool:
        return actor.has(*roles)

    return allowed


def _done(values: Values, result: Any) -> str:
    return "/app/portal?" + urlencode({"done": f"event-{result['type']}",
                                       "ref": result["code"]})


def event_form(event_type: str, title: str, *, roles: tuple[str, ...], fields: tuple[Field, ...]
               = (), details: Details | None = None, to_field: str | None = None,
               intro: str | None = None) -> WebForm:
    """Register the form recording ``event_type``; ``details`` builds ``details`` from the
    posted values and ``to_field`` names the field holding ``to_organization``."""

    def submit(db: Session, actor: Actor, v: Values) -> dict[str, Any]:
        req = lifecycle_service.EventRequest(
            code=v.need("code"), type=event_type, at=v.when("at"),
            to_organization=v.text(to_field) if to_field else None,
            details={k: val for k, val in (details(v) if details else {}).items()
                     if val not in (None, "", [], {})})
        return lifecycle_service.record_events(db, actor=actor, requests=[req])[0]

    field_map = {"to_organization": to_field} if to_field else {}
    return register(WebForm(
        name=f"event-{event_type}", title=title, fields=(CODE, *fields, AT),
        allowed=_roles(*roles), submit=submit, done=_done, intro=intro,
        button=N_("Record"), field_map=field_map))


def _component(v: Values, prefix: str) -> dict[str, Any] | None:
    serial = v.text(f"{prefix}serial")
    if serial is None:
        return None
    return {"serial": serial, "type": v.text(f"{prefix}type") or "other",
            "supplier_id": v.text(f"{prefix}supplier"), "batch": v.text(f"{prefix}batch")}


def _component_fields(prefix: str, n: str, label: str) -> tuple[Field, ...]:
    return (Field(f"{prefix}type", label, kind="select",
                  options=choices.labelled(choices.COMPONENT_TYPES)),
            Field(f"{prefix}serial", N_("Serial"), maxlength=64),
            Field(f"{prefix}supplier", N_("Supplier"), kind="select",
                  options=choices.organisations("component_supplier", "manufacturer")),
            Field(f"{prefix}batch", N_("Batch"), maxlength=64))


def _manufactured(v: Values) -> dict[str, Any]:
    comps = [c for c in (_component(v, f"c{i}_") for i in (1, 2, 3)) if c]
    return {"components": comps}


event_form("manufactured", N_("Record manufacture"), roles=("manufacturer", "regulator"),
           fields=(*_component_fields("c1_", "1", N_("Key component 1: type")),
                   *_component_fields("c2_", "2", N_("Key component 2: type")),
                   *_component_fields("c3_", "3", N_("Key component 3: type"))),
           details=_manufactured,
           intro=N_("The robot leaves the line: list its key components with their serials."))
event_form("shipped", N_("Ship to a seller"), roles=OWNERS,
           fields=(Field("to", N_("Seller"), kind="select", required=True,
                         options=choices.organisations("seller")),),
           to_field="to")
event_form("sold", N_("Sell"), roles=OWNERS,
           fields=(Field("to", N_("Buyer"), kind="select", required=True,
                         options=choices.organisations("operator", "seller", "service_provider",
                                                       exclude_self=True)),),
           to_field="to")
event_form("deployed", N_("Deploy"), roles=OWNERS,
           fields=(Field("operator", N_("Operator (empty: you operate it)"), kind="select",
                         options=choices.organisations("operator")),
                   Field("scenario", N_("Scenario"), kind="select", required=True,
                         options=choices.labelled(choices.SCENARIOS)),
                   Field("province", N_("Province"), kind="select", required=True,
                         options=choices.provinces),
                   Field("city", N_("City"), kind="select", options=choices.cities)),
           details=lambda v: {"scenario": v.need("scenario"), "province": v.need("province"),
                              "city": v.text("city")},
           to_field="operator")
event_form("transferred", N_("Transfer (resale)"), roles=OWNERS,
           fields=(Field("to", N_("New owner"), kind="select", required=True,
                         options=choices.organisations("operator", "seller", exclude_self=True)),),
           to_field="to")
_WORK = (Field("work_order", N_("Work order"), maxlength=64),
         Field("description", N_("Description"), kind="textarea", maxlength=2000))
event_form("maintenance_started", N_("Start maintenance"), roles=WORKERS, fields=_WORK,
           details=lambda v: {"work_order": v.text("work_order"),
                              "description": v.text("description")})
event_form("maintenance_completed", N_("Complete maintenance"), roles=WORKERS, fields=_WORK,
           details=lambda v: {"work_order": v.text("work_order"),
                              "description": v.text("description")})
event_form("firmware_updated", N_("Update firmware"), roles=WORKERS,
           fields=(Field("firmware", N_("New firmware version"), required=True, maxlength=64),),
           details=lambda v: {"firmware": v.need("firmware")})
event_form("component_replaced", N_("Replace a component"), roles=WORKERS,
           fields=(Field("removed", N_("Serial of the removed component"), maxlength=64),
                   *_component_fields("new_", "", N_("New component: type"))),
           details=lambda v: {"removed": v.text("removed"), "installed": _component(v, "new_")})
event_form("suspended", N_("Suspend"), roles=OWNERS,
           fields=(Field("reason", N_("Reason"), kind="textarea", maxlength=1000),),
           details=lambda v: {"reason": v.text("reason")})
event_form("reinstated", N_("Reinstate"), roles=OWNERS,
           fields=(Field("reason", N_("Reason"), kind="textarea", maxlength=1000),),
           details=lambda v: {"reason": v.text("reason")})
event_form("recall_remedied", N_("Record a recall remedy"),
           roles=("manufacturer", "service_provider", "regulator"),
           fields=(Field("recall_id", N_("Recall"), required=True, maxlength=40),
                   Field("action", N_("What was done"), kind="textarea", maxlength=2000)),
           details=lambda v: {"recall_id": v.need("recall_id"), "action": v.text("action")})
event_form("decommissioned", N_("Decommission"), roles=OWNERS,
           fields=(Field("recycler", N_("Recycler (optional)"), kind="select",
                         options=choices.organisations("recycler")),
                   Field("reason", N_("Reason"), kind="textarea", maxlength=1000)),
           details=lambda v: {"reason": v.text("reason")}, to_field="recycler")
event_form("refurbished", N_("Refurbish"), roles=OWNERS)
event_form("recycled", N_("Record as recycled"), roles=("recycler", "regulator"),
           intro=N_("The robot is taken apart for recycling; it can never be sold again."))
event_form("scrapped", N_("Record as scrapped"), roles=("recycler", "regulator"),
           intro=N_("The robot is destroyed; it can never be sold again."))
event_form("correction", N_("Correct an event"), roles=(*WORKERS, "recycler"),
           fields=(Field("corrects", N_("Id of the event to correct"), required=True,
                         maxlength=40),
                   Field("reason", N_("Reason"), kind="textarea", required=True,
                         maxlength=1000)),
           details=lambda v: {"corrects": v.need("corrects"), "reason": v.need("reason")})
