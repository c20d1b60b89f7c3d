"""Forms and pages for differentiated regulation (SPEC §14, branch regulation): a scenario's
policy, pilots. Same pattern and service functions as the API routes; rules are entered as
JSON (the rule names and their meaning are listed beside the form, docs/regulation.md)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from robopass.auth.service import Actor
from robopass.db import read_session
from robopass.pilots import service as pilot_service
from robopass.pilots.schemas import PilotCreate, PilotEnd
from robopass.policies import service as policy_service
from robopass.policies.schemas import PolicySet
from robopass.web.app import choices, common, forms
from robopass.web.app.forms import Field, FieldError, Values, WebForm, register
from robopass.web.i18n import N_

router = APIRouter(include_in_schema=False)


def may_regulate(actor: Actor) -> bool:
    return actor.is_regulator


def _rules(v: Values) -> Any:
    try:
        return json.loads(v.text("rules") or "{}")
    except ValueError:
        raise FieldError("rules", N_("Enter the rules as a JSON object.")) from None


def _set_policy(db: Session, actor: Actor, v: Values) -> Any:
    body = PolicySet.model_validate({"rules": _rules(v), "reason": v.text("reason") or "",
                                     "province": v.text("province")})
    return policy_service.set_policy(db, actor=actor, scenario=v.need("scenario"),
                                     rules=body.rules, reason=body.reason,
                                     province=body.province)


RULES_HINT = N_('A JSON object, e.g. {"min_level": 3, "min_grades": {"perception": 3}, '
                '"allowed_hardware_classes": ["B", "W"], "required_certifications": '
                '["ISO 13482"], "requires_evaluation_within_days": 365, '
                '"max_telemetry_interval_s": 60}')

register(WebForm(
    name="policy-set", title=N_("Set a scenario's policy"),
    intro=RULES_HINT,
    fields=(Field("scenario", N_("Scenario"), kind="select", required=True,
                  options=choices.labelled(choices.SCENARIOS)),
            Field("province", N_("Province (empty: national)"), kind="select",
                  options=choices.provinces),
            Field("rules", N_("Rules (JSON)"), kind="textarea", required=True, maxlength=5000),
            Field("reason", N_("Reason"), kind="textarea", required=True, maxlength=2000)),
    allowed=may_regulate, submit=_set_policy, button=N_("Save"),
    done=lambda v, p: f"/app/policies?done=policy-set&ref={p.scenario}"))


def _open_pilot(db: Session, actor: Actor, v: Values) -> Any:
    body = PilotCreate.model_validate({
        "name": v.text("name") or "", "scenario": v.text("scenario") or "",
        "provinces": v.many("provinces"), "starts": v.text("starts"), "ends": v.text("ends"),
        "participants": v.many("participants"), "rules": _rules(v),
        "reason": v.text("reason") or ""})
    return pilot_service.open_pilot(db, actor=actor, name=body.name, scenario=body.scenario,
                                    provinces=body.provinces, starts=body.starts,
                                    ends=body.ends, participants=body.participants,
                                    rules=body.rules, reason=body.reason)


def _participants(db: Session, actor: Actor, locale: str) -> list[tuple[str, str]]:
    return list(choices.organisations("operator", "manufacturer")(db, actor, locale))


register(WebForm(
    name="pilot-open", title=N_("Open a pilot"),
    intro=RULES_HINT,
    fields=(Field("name", N_("Name"), required=True),
            Field("scenario", N_("Scenario"), kind="select", required=True,
                  options=choices.labelled(choices.SCENARIOS)),
            Field("provinces", N_("Provinces"), kind="checkboxes", required=True,
                  options=choices.provinces),
            Field("starts", N_("Starts (UTC)"), kind="datetime", required=True),
            Field("ends", N_("Ends (UTC)"), kind="datetime", required=True),
            Field("participants", N_("Participants"), kind="checkboxes", required=True,
                  options=_participants),
            Field("rules", N_("Rules (JSON)"), kind="textarea", required=True, maxlength=5000),
            Field("reason", N_("Reason"), kind="textarea", required=True, maxlength=2000)),
    allowed=may_regulate, submit=_open_pilot, button=N_("Open the pilot"),
    done=lambda v, p: f"/app/pilots?done=pilot-open&ref={p.id}"))


def _end_pilot(db: Session, actor: Actor, v: Values) -> Any:
    body = PilotEnd.model_validate({"reason": v.text("reason") or ""})
    return pilot_service.end_pilot(db, actor=actor, pilot_id=v.need("pilot_id"),
                                   reason=body.reason)


register(WebForm(
    name="pilot-end", title=N_("End the pilot"),
    fields=(Field("pilot_id", N_("Pilot"), kind="hidden", required=True, maxlength=40),
            Field("reason", N_("Reason"), kind="textarea", required=True, maxlength=2000)),
    allowed=may_regulate, submit=_end_pilot, button=N_("End the pilot"),
    done=lambda v, p: f"/app/pilots?done=pilot-end&ref={p.id}"))


@router.get("/app/policies")
def policy_list(request: Request) -> Response:
    """Policies are public (``GET /api/v1/policies``); the page is for signed-in users."""
    ws = common.require(request)
    with read_session(request.app.state.settings.database_url) as db:
        rows = [policy_service.view(p) for p in policy_service.current_versions(db)]
    return common.render(request, "app/policies.html", {
        "policies": rows, "scenario_labels": choices.SCENARIOS,
        "rules_json": lambda r: json.dumps(r, ensure_ascii=False, sort_keys=True),
        "actions": forms.available(ws.actor, "policy-set")}, ws)


@router.get("/app/pilots")
def pilot_list(request: Request) -> Response:
    """Pilots are public (``GET /api/v1/pilots``)."""
    ws = common.require(request)
    with read_session(request.app.state.settings.database_url) as db:
        counts = pilot_service.unit_counts(db)
        rows = [pilot_service.view(p, counts.get(p.id, 0))
                for p in pilot_service.list_pilots(db)]
    return common.render(request, "app/pilots.html", {
        "pilots": rows, "scenario_labels": choices.SCENARIOS,
        "may_end": forms.FORMS["pilot-end"].allowed(ws.actor),
        "actions": forms.available(ws.actor, "pilot-open")}, ws)
