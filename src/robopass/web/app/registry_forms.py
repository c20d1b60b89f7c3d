"""Registry forms: file a model, decide on it, issue codes, manage organisations, authorise a
service provider. Each parses into the API's own Pydantic schema where one exists and calls the
same service function as the API route."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from robopass.auth.service import Actor
from robopass.organizations import service as org_service
from robopass.organizations.schemas import OrganizationCreate
from robopass.product_models import service as model_service
from robopass.product_models.models import ProductModel
from robopass.product_models.schemas import ModelCreate
from robopass.robots import service as robot_service
from robopass.web.app import choices
from robopass.web.app.common import ROLE_LABELS
from robopass.web.app.forms import Field, Rendered, Values, WebForm, register
from robopass.web.i18n import N_

#: Largest batch the browser form issues at once (the API allows more).
FORM_MAX_CODES = 10_000
HARDWARE_CLASSES = {"B": N_("B: full-size biped"), "W": N_("W: wheeled humanoid"),
                    "U": N_("U: upper body on a base"), "S": N_("S: small (under 1 m)"),
                    "X": N_("X: other")}
LEVELS = [(str(n), f"L{n}") for n in range(6)]


def may_file_models(actor: Actor) -> bool:
    return actor.has("manufacturer")


def may_decide_models(actor: Actor) -> bool:
    return actor.is_regulator


def may_manage_organisations(actor: Actor) -> bool:
    return actor.is_regulator


def may_authorise_providers(actor: Actor) -> bool:
    return actor.has("manufacturer", "seller", "operator", "regulator")


# -- file a model ----------------------------------------------------------------------------

COMPONENT_LABELS = {1: N_("Key component 1: type"), 2: N_("Key component 2: type"),
                    3: N_("Key component 3: type")}


def _component_fields(i: int) -> tuple[Field, ...]:
    return (Field(f"comp{i}_type", COMPONENT_LABELS[i], kind="select",
                  options=choices.labelled(choices.COMPONENT_TYPES), required=i == 1),
            Field(f"comp{i}_name", N_("Name"), required=i == 1),
            Field(f"comp{i}_supplier", N_("Supplier"), kind="select",
                  options=choices.organisations("component_supplier", "manufacturer")),
            Field(f"comp{i}_part", N_("Part number"), maxlength=64))


def _model_data(v: Values) -> dict[str, Any]:
    comps = [{"type": v.text(f"comp{i}_type"), "name": v.text(f"comp{i}_name"),
              "supplier_id": v.text(f"comp{i}_supplier"),
              "part_number": v.text(f"comp{i}_part")}
             for i in (1, 2, 3) if i == 1 or v.text(f"comp{i}_name")]
    params = {k: v.text(k) for k in ("height_cm", "mass_kg", "degrees_of_freedom",
                                     "payload_kg", "max_speed_mps", "battery_chemistry",
                                     "battery_capacity_wh")}
    return {
        "name": v.text("name"), "hardware_class": v.text("hardware_class"),
        "intelligence_level": v.text("intelligence_level"),
        "parameters": {k: val for k, val in params.items() if val is not None},
        "components": [{k: val for k, val in c.items() if val is not None} for c in comps],
        "software": {k: val for k, val in {
            "name": v.text("sw_name"), "version": v.text("sw_version"),
            "provider_id": v.text("sw_provider"), "ai_stack": v.text("sw_ai_stack")}.items()
            if val is not None},
        "testing_lab_id": v.text("testing_lab"),
        "certifications": [line.strip() for line in v.get("certifications").splitlines()
                           if line.strip()],
    }


def _file_model(db: Session, actor: Actor, v: Values) -> ProductModel:
    data = ModelCreate.model_validate(_model_data(v))
    return model_service.file(db, actor=actor, data=data)


_COMPONENT_MAP = {f"components{sep}{i}{close}.{api}": f"comp{i + 1}_{web}"
                  for i in range(3) for sep, close in ((".", ""), ("[", "]"))
                  for api, web in (("type", "type"), ("name", "name"),
                                   ("supplier_id", "supplier"), ("part_number", "part"))}

register(WebForm(
    name="model-file", title=N_("File a product model"),
    intro=N_("The model starts as submitted; the regulator approves it before codes are "
             "issued."),
    fields=(Field("name", N_("Model name"), required=True),
            Field("hardware_class", N_("Hardware class"), kind="select", required=True,
                  options=choices.labelled(HARDWARE_CLASSES)),
            Field("intelligence_level", N_("Intelligence level"), kind="select", required=True,
                  options=LEVELS),
            Field("height_cm", N_("Height (cm)"), kind="number", required=True),
            Field("mass_kg", N_("Mass (kg)"), kind="number", required=True),
            Field("degrees_of_freedom", N_("Degrees of freedom"), kind="number",
                  required=True),
            Field("payload_kg", N_("Payload (kg)"), kind="number"),
            Field("max_speed_mps", N_("Top speed (m/s)"), kind="number"),
            Field("battery_chemistry", N_("Battery chemistry"), maxlength=40),
            Field("battery_capacity_wh", N_("Battery capacity (Wh)"), kind="number"),
            *_component_fields(1), *_component_fields(2), *_component_fields(3),
            Field("sw_name", N_("Software / AI stack name"), required=True),
            Field("sw_version", N_("Software version"), required=True, maxlength=64),
            Field("sw_provider", N_("Software provider"), kind="select",
                  options=choices.organisations("software_provider")),
            Field("sw_ai_stack", N_("AI stack")),
            Field("testing_lab", N_("Testing lab"), kind="select",
                  options=choices.organisations("testing_lab")),
            Field("certifications", N_("Safety certifications (one a line)"),
                  kind="textarea", maxlength=2000)),
    allowed=may_file_models, submit=_file_model, button=N_("File the model"),
    done=lambda v, m: f"/app/models/{m.id}?done=model-file",
    field_map={**_COMPONENT_MAP, "software.name": "sw_name", "software.version": "sw_version",
               "software.provider_id": "sw_provider", "software.ai_stack": "sw_ai_stack",
               "testing_lab_id": "testing_lab"}))


# -- decisions on a model -------------------------------------------------------------------

def _decision_form(decision: str, title: str) -> None:
    def submit(db: Session, actor: Actor, v: Values) -> ProductModel:
        return model_service.decide(db, actor=actor, model_id=v.need("model_id"),
                                    decision=decision,  # type: ignore[arg-type]
                                    reason=v.text("reason"))

    register(WebForm(
        name=f"model-{decision}", title=title,
        fields=(Field("model_id", N_("Model"), kind="hidden", required=True, maxlength=40),
                Field("reason", N_("Reason"), kind="textarea", maxlength=1000)),
        allowed=may_decide_models, submit=submit, button=title,
        done=lambda v, m: f"/app/models/{m.id}?done=model-{decision}"))


_decision_form("approve", N_("Approve"))
_decision_form("reject", N_("Reject"))
_decision_form("suspend", N_("Suspend the model"))
_decision_form("revoke", N_("Revoke the model"))


# -- issue codes ------------------------------------------------------------------------------

def _approved_models(db: Session, actor: Actor, locale: str) -> list[tuple[str, str]]:
    return [(m.id, f"{m.name} ({m.model_code})") for m in db.scalars(
        select(ProductModel).where(ProductModel.manufacturer_id == actor.id,
                                   ProductModel.status == "approved")
        .order_by(ProductModel.name))]


def _issue(db: Session, actor: Actor, v: Values) -> dict[str, Any]:
    count = int(v.number("count", required=True, integer=True) or 0)
    if not 1 <= count <= FORM_MAX_CODES:
        from robopass.web.app.forms import FieldError

        raise FieldError("count", N_("The number of codes must be between 1 and %(max)s."),
                         max=FORM_MAX_CODES)
    codes = robot_service.issue_codes(db, actor=actor, model_id=v.need("model_id"),
                                      count=count, plant=v.need("plant"),
                                      production_month=v.need("production_month"))
    return {"codes": codes, "model": v.need("model_id"), "plant": v.need("plant").upper(),
            "month": v.need("production_month")}


register(WebForm(
    name="codes-issue", title=N_("Issue codes"),
    fields=(Field("model_id", N_("Approved model"), kind="select", required=True,
                  options=_approved_models),
            Field("count", N_("Number of codes"), kind="number", required=True),
            Field("plant", N_("Plant"), required=True, maxlength=2),
            Field("production_month", N_("Production month"), kind="month", required=True)),
    allowed=may_file_models, submit=_issue, button=N_("Issue"),
    done=lambda v, r: "/app/portal?" + urlencode({
        "issued": len(r["codes"]), "model": r["model"], "production_month": r["month"],
        "plant": r["plant"], "first": r["codes"][0], "last": r["codes"][-1]}) + "#issue"))


# -- organisations ---------------------------------------------------------------------------

def _create_org(db: Session, actor: Actor, v: Values) -> dict[str, Any]:
    body = OrganizationCreate.model_validate({
        "name": v.text("name") or "", "roles": v.many("roles"),
        "country": (v.text("country") or "").upper(), "uscc": v.text("uscc"),
        "registration_number": v.text("registration_number"),
        "province": v.text("province"), "city": v.text("city"),
        "scope_province": v.text("scope_province")})
    org, key = org_service.create(db, actor=actor, **body.model_dump())
    return {"id": org.id, "name": org.name, "company_code": org.company_code, "api_key": key}


register(WebForm(
    name="organization-create", title=N_("Register an organisation"),
    intro=N_("The organisation is approved at once; its API key is shown once."),
    fields=(Field("name", N_("Name"), required=True),
            Field("roles", N_("Roles"), kind="checkboxes", required=True,
                  options=list(ROLE_LABELS.items())),
            Field("country", N_("Country (ISO 3166-1, e.g. CN)"), required=True, maxlength=2),
            Field("uscc", N_("Unified Social Credit Code (China)"), maxlength=40),
            Field("registration_number", N_("Registration number (outside China)"),
                  maxlength=64),
            Field("province", N_("Province"), kind="select", options=choices.provinces),
            Field("city", N_("City"), kind="select", options=choices.cities),
            Field("scope_province", N_("Provincial regulator of"), kind="select",
                  options=choices.provinces)),
    allowed=may_manage_organisations, submit=_create_org, button=N_("Register"),
    done=lambda v, r: Rendered("app/org_created.html", {"created": r})))


def _authorise(db: Session, actor: Actor, v: Values) -> Any:
    return org_service.authorize_service(db, actor=actor, provider_id=v.need("provider"),
                                         code=v.text("code"))


register(WebForm(
    name="service-authorize", title=N_("Authorise a service provider"),
    intro=N_("The provider may then record maintenance, firmware updates and component "
             "replacements on one of your robots, or on all of them when no code is given."),
    fields=(Field("provider", N_("Service provider"), kind="select", required=True,
                  options=choices.organisations("service_provider")),
            Field("code", N_("Robot code (empty: all your robots)"), maxlength=64)),
    allowed=may_authorise_providers, submit=_authorise, button=N_("Authorise"),
    field_map={"provider_id": "provider"},
    done=lambda v, a: "/app/portal?" + urlencode({"done": "service-authorize",
                                                  "ref": a.code or ""})))
