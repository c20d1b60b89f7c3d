"""Field-level error messages in the page's language.

Input errors come from Pydantic (by error type) or from a service's :class:`RobopassError`
(by its stable ``code``). A code without a catalogue message shows a translated lead-in and the
service's own (English) sentence, so nothing is ever hidden.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from robopass.errors import RobopassError
from robopass.web.app import common
from robopass.web.i18n import N_

PYDANTIC = {
    "missing": N_("This field is required."),
    "string_too_short": N_("This field is required."),
    "string_too_long": N_("Enter at most %(max_length)s characters."),
    "greater_than": N_("Enter a number greater than %(gt)s."),
    "greater_than_equal": N_("Enter a number of at least %(ge)s."),
    "less_than": N_("Enter a number smaller than %(lt)s."),
    "less_than_equal": N_("Enter a number of at most %(le)s."),
    "int_parsing": N_("Enter a whole number."),
    "int_from_float": N_("Enter a whole number."),
    "float_parsing": N_("Enter a number."),
    "literal_error": N_("Choose one of the options."),
    "too_short": N_("Give at least %(min_length)s."),
    "too_long": N_("Give at most %(max_length)s."),
    "string_pattern_mismatch": N_("This value has the wrong format."),
}

REFUSALS = {
    "not_entitled": N_("Your organisation may not do this for this robot."),
    "forbidden": N_("Your organisation may not do this."),
    "regulator_only": N_("Only the regulator may do this."),
    "outside_province": N_("This is outside your province."),
    "invalid_transition": N_("This event does not fit the robot's current status."),
    "open_recall": N_("The robot has an open recall: remedy it first."),
    "terminal_unit": N_("This robot was recycled or scrapped: it takes no further events."),
    "no_market_access": N_("No code, no market access: this code is not registered or the "
                           "robot was never recorded as manufactured."),
    "unit_not_found": N_("No robot with this code is registered."),
    "not_registered": N_("No robot with this code is registered."),
    "wrong_role": N_("This organisation does not have the role this event needs."),
    "same_owner": N_("This organisation already owns the robot."),
    "missing_to_organization": N_("Choose the organisation."),
    "invalid_details": N_("Fill in this field."),
    "component_not_bound": N_("No component with this serial is fitted to this robot."),
    "component_already_bound": N_("This component is fitted to another robot."),
    "model_not_approved": N_("Codes are issued for approved models only."),
    "not_your_model": N_("This is not your model."),
    "invalid_month": N_("Enter a month as YYYY-MM."),
    "month_in_future": N_("The production month may not be in the future."),
    "invalid_plant": N_("The plant code is two characters from 0-9 and A-Z without I, O, Q."),
    "time_in_future": N_("The time may not be in the future."),
    "time_before_production": N_("The time is before the robot's previous event."),
    "invalid_division": N_("Choose a known province or city."),
    "invalid_uscc": N_("This Unified Social Credit Code is not valid."),
    "uscc_required": N_("Organisations in China give their Unified Social Credit Code."),
    "registration_number_required": N_("Give the registration number."),
    "unknown_role": N_("Choose known roles."),
    "not_a_service_provider": N_("This organisation is not a service provider."),
    "not_owner_or_operator": N_("Only the robot's owner or operator may do this."),
    "signal_not_open": N_("This signal is no longer open."),
    "already_recalled": N_("This signal already led to a recall."),
    "scope_matches_nothing": N_("No robot is in this scope."),
    "empty_scope": N_("Give at least one scope field."),
    "invalid_scope": N_("This scope field is not valid."),
    "not_in_recall": N_("This robot is not in this recall."),
    "invalid_model_transition": N_("This decision does not fit the model's current status."),
    "model_not_found": N_("No such model."),
    "organization_not_found": N_("No such organisation."),
    "recall_not_found": N_("No such recall."),
    "organization_suspended": N_("Your organisation is suspended: it may read but not write."),
    "testing_lab_only": N_("Only testing labs file evaluations."),
    "key_not_found": N_("No active key with this id belongs to this organisation."),
    "not_your_organization": N_("Only the organisation itself or the national regulator "
                                "manages its keys."),
}


def pydantic(request: Request, err: Any) -> str:
    _ = common.gettext(request)
    message = PYDANTIC.get(str(err.get("type")))
    if message is None:
        return _("This value is not valid: %(detail)s") % {"detail": err.get("msg", "")}
    ctx = {k: v for k, v in (err.get("ctx") or {}).items() if isinstance(v, int | float | str)}
    try:
        return _(message) % ctx
    except (KeyError, TypeError):
        return _(message)


def refusal(request: Request, exc: RobopassError) -> str:
    _ = common.gettext(request)
    message = REFUSALS.get(exc.code)
    if message is not None:
        return str(_(message))
    return _("Refused: %(reason)s") % {"reason": exc.message}
