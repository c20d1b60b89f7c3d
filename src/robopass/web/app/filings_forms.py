"""Forms for the filing capabilities (SPEC §13, branch filings): a lab's evaluation, the
regulator's accreditation of a lab, organisation suspension / reinstatement / deregistration and
renaming, closing a recall. Same pattern and the same service functions as the API routes."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from robopass.auth.service import Actor
from robopass.organizations import governance
from robopass.organizations.schemas import (
    AccreditationRequest,
    OrganizationStatusChange,
    OrganizationUpdate,
)
from robopass.product_models import amendments, evaluations
from robopass.product_models.schemas import AmendmentCreate, EvaluationCreate
from robopass.recalls import closing
from robopass.recalls.schemas import RecallClose
from robopass.web.app import choices
from robopass.web.app.forms import Field, Values, WebForm, register
from robopass.web.i18n import N_

GRADES = [(str(n), str(n)) for n in range(1, 6)]
SAFETY_RESULTS = {"pass": N_("Pass"), "fail": N_("Fail")}


def may_evaluate(actor: Actor) -> bool:
    return actor.has("testing_lab")


def may_govern_organisations(actor: Actor) -> bool:
    return actor.is_regulator


def may_close_recalls(actor: Actor) -> bool:
    return actor.has("manufacturer", "regulator")


def _evaluate(db: Session, actor: Actor, v: Values) -> Any:
    tests = [{"standard": v.text(f"test{i}_standard"), "result": v.text(f"test{i}_result")}
             for i in (1, 2) if v.text(f"test{i}_standard")]
    data = EvaluationCreate.model_validate({
        "grades": {k: v.text(k) for k in ("perception", "decision", "execution",
                                          "collaboration")},
        "overall": v.text("overall"), "safety_tests": tests,
        "report_sha256": v.text("report_sha256"), "valid_until": v.text("valid_until")})
    return evaluations.file_evaluation(db, actor=actor, model_id=v.need("model_id"), data=data)


register(WebForm(
    name="model-evaluate", title=N_("File an evaluation"),
    intro=N_("An accredited lab grades the model's version under evaluation; the regulator "
             "approves only on a passing evaluation, and its overall level goes into the code."),
    fields=(Field("model_id", N_("Model"), kind="hidden", required=True, maxlength=40),
            Field("perception", N_("Perception and cognition"), kind="select", required=True,
                  options=GRADES),
            Field("decision", N_("Decision and learning"), kind="select", required=True,
                  options=GRADES),
            Field("execution", N_("Execution"), kind="select", required=True, options=GRADES),
            Field("collaboration", N_("Collaboration and interaction"), kind="select",
                  required=True, options=GRADES),
            Field("overall", N_("Overall level"), kind="select", required=True, options=GRADES),
            Field("test1_standard", N_("Safety test 1: standard"), maxlength=100),
            Field("test1_result", N_("Result"), kind="select",
                  options=choices.labelled(SAFETY_RESULTS)),
            Field("test2_standard", N_("Safety test 2: standard"), maxlength=100),
            Field("test2_result", N_("Result"), kind="select",
                  options=choices.labelled(SAFETY_RESULTS)),
            Field("report_sha256", N_("SHA-256 of the test report"), required=True,
                  maxlength=64),
            Field("valid_until", N_("Valid until (YYYY-MM-DD)"), required=True, maxlength=10)),
    allowed=may_evaluate, submit=_evaluate, button=N_("File the evaluation"),
    field_map={"grades.perception": "perception", "grades.decision": "decision",
               "grades.execution": "execution", "grades.collaboration": "collaboration",
               "safety_tests.0.standard": "test1_standard",
               "safety_tests.1.standard": "test2_standard"},
    done=lambda v, e: f"/app/portal?done=model-evaluate&ref={e.model_id}"))


def _accredit(db: Session, actor: Actor, v: Values) -> Any:
    body = AccreditationRequest.model_validate({
        "scopes": v.many("scopes"), "valid_until": v.text("valid_until"),
        "reason": v.text("reason")})
    return governance.accredit(db, actor=actor, org_id=v.need("org_id"),
                               scopes=list(body.scopes), valid_until=body.valid_until,
                               reason=body.reason)


register(WebForm(
    name="organization-accredit", title=N_("Accredit a testing lab"),
    fields=(Field("org_id", N_("Testing lab"), kind="select", required=True,
                  options=choices.organisations("testing_lab")),
            Field("scopes", N_("Scopes"), kind="checkboxes", required=True,
                  options=[("intelligence", N_("Intelligence grading")),
                           ("safety", N_("Safety testing"))]),
            Field("valid_until", N_("Valid until (YYYY-MM-DD)"), required=True, maxlength=10),
            Field("reason", N_("Reason"), kind="textarea", maxlength=1000)),
    allowed=may_govern_organisations, submit=_accredit, button=N_("Accredit"),
    done=lambda v, o: f"/app/organizations?done=organization-accredit&ref={o.id}"))


def _status_form(action: str, title: str) -> None:
    def submit(db: Session, actor: Actor, v: Values) -> Any:
        body = OrganizationStatusChange.model_validate({"reason": v.text("reason") or ""})
        return governance.change_status(db, actor=actor, org_id=v.need("org_id"),
                                        action=action,  # type: ignore[arg-type]
                                        reason=body.reason)

    register(WebForm(
        name=f"organization-{action}", title=title,
        fields=(Field("org_id", N_("Organisation"), kind="select", required=True,
                      options=choices.organisations()),
                Field("reason", N_("Reason"), kind="textarea", required=True,
                      maxlength=1000)),
        allowed=may_govern_organisations, submit=submit, button=title,
        done=lambda v, o: f"/app/organizations?done=organization-{action}&ref={o.id}"))


_status_form("suspend", N_("Suspend an organisation"))
_status_form("reinstate", N_("Reinstate an organisation"))
_status_form("deregister", N_("Deregister an organisation"))


def _update(db: Session, actor: Actor, v: Values) -> Any:
    changes = {k: v.text(k) for k in ("name", "name_zh", "province", "city") if v.text(k)}
    body = OrganizationUpdate.model_validate({**changes, "reason": v.text("reason")})
    data = body.model_dump(exclude_unset=True)
    reason = data.pop("reason", None)
    return governance.update(db, actor=actor, org_id=v.need("org_id"), changes=data,
                             reason=reason)


register(WebForm(
    name="organization-update", title=N_("Change an organisation's name or place"),
    fields=(Field("org_id", N_("Organisation"), kind="select", required=True,
                  options=choices.organisations()),
            Field("name", N_("Name")),
            Field("name_zh", N_("Chinese name")),
            Field("province", N_("Province"), kind="select", options=choices.provinces),
            Field("city", N_("City"), kind="select", options=choices.cities),
            Field("reason", N_("Reason"), kind="textarea", maxlength=1000)),
    allowed=may_govern_organisations, submit=_update, button=N_("Save"),
    done=lambda v, o: f"/app/organizations?done=organization-update&ref={o.id}"))


def _close(db: Session, actor: Actor, v: Values) -> Any:
    body = RecallClose.model_validate({"reason": v.text("reason") or ""})
    return closing.close_recall(db, actor=actor, recall_id=v.need("recall_id"),
                                reason=body.reason)


register(WebForm(
    name="recall-close", title=N_("Close the recall"),
    intro=N_("Its manufacturer closes a campaign once every affected robot is remedied or "
             "terminal; the regulator at any time."),
    fields=(Field("recall_id", N_("Recall"), kind="hidden", required=True, maxlength=40),
            Field("reason", N_("Reason"), kind="textarea", required=True, maxlength=2000)),
    allowed=may_close_recalls, submit=_close, button=N_("Close the recall"),
    done=lambda v, r: f"/app/recalls/{r.id}?done=recall-close"))


def may_amend(actor: Actor) -> bool:
    return actor.has("manufacturer")


_PARAMS = ("height_cm", "mass_kg", "degrees_of_freedom", "payload_kg", "max_speed_mps",
           "battery_chemistry", "battery_capacity_wh")


def _amend(db: Session, actor: Actor, v: Values) -> Any:
    params = {k: v.text(k) for k in _PARAMS if v.text(k)}
    software = {k: v.text(f"sw_{k}") for k in ("name", "version", "ai_stack") if v.text(f"sw_{k}")}
    body = AmendmentCreate.model_validate({
        "changes": {**({"parameters": params} if params else {}),
                    **({"software": software} if software else {})},
        "reason": v.text("reason") or ""})
    return amendments.file_amendment(db, actor=actor, model_id=v.need("model_id"),
                                     changes=body.changes, reason=body.reason)


register(WebForm(
    name="model-amend", title=N_("File an amendment"),
    intro=N_("A new version of an approved model: give only what changes. A change that needs "
             "a new evaluation waits for it before the regulator decides."),
    fields=(Field("model_id", N_("Model"), kind="hidden", required=True, maxlength=40),
            Field("height_cm", N_("Height (cm)"), kind="number"),
            Field("mass_kg", N_("Mass (kg)"), kind="number"),
            Field("degrees_of_freedom", N_("Degrees of freedom"), kind="number"),
            Field("payload_kg", N_("Payload (kg)"), kind="number"),
            Field("max_speed_mps", N_("Top speed (m/s)"), kind="number"),
            Field("battery_chemistry", N_("Battery chemistry"), maxlength=40),
            Field("battery_capacity_wh", N_("Battery capacity (Wh)"), kind="number"),
            Field("sw_name", N_("Software / AI stack name")),
            Field("sw_version", N_("Software version"), maxlength=64),
            Field("sw_ai_stack", N_("AI stack")),
            Field("reason", N_("Reason"), kind="textarea", required=True, maxlength=2000)),
    allowed=may_amend, submit=_amend, button=N_("File the amendment"),
    field_map={**{f"changes.parameters.{k}": k for k in _PARAMS},
               "changes.software.name": "sw_name", "changes.software.version": "sw_version",
               "changes.software.ai_stack": "sw_ai_stack", "changes": "__all__"},
    done=lambda v, row: f"/app/models/{row.model_id}?done=model-amend"))
