"""The trace report's evidence in the page's language (SPEC §9, §6).

The trace service gives each piece of evidence as a message id and parameters
(``incidents.trace.EVIDENCE_MESSAGES``, beside the English ``text`` the API has always had).
This module holds the same English templates as catalogue messages, so Babel extracts them
into ``app.po`` and the page renders each sentence through gettext; parameters that name a
vocabulary (a unit status, a component type, a health alert rule) are translated too. A test
keeps these templates equal to the service's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from robopass.incidents.trace import JOINERS
from robopass.web import public
from robopass.web.i18n import N_

EVIDENCE_TEMPLATES: dict[str, str] = {
    "open_component_recall_batch": N_(
        "recall %(recall_id)s on %(supplier)s %(component_type)s batch %(batch)s (serial "
        "%(serial)s, fitted to this unit) open and unremedied since %(since)s"),
    "open_component_recall_components": N_(
        "recall %(recall_id)s on %(supplier)s %(component_type)s components (serial "
        "%(serial)s, fitted to this unit) open and unremedied since %(since)s"),
    "open_model_recall": N_(
        "recall %(recall_id)s on this model (%(reason)s) open and unremedied since "
        "%(since)s"),
    "operated_under_open_recall": N_(
        "the unit was in use with recall %(recall_id)s open and unremedied; %(notified)s"),
    "notified": N_(
        "%(organization)s notified %(since)s"),
    "defect_signal": N_(
        "defect signal %(signal_id)s (%(trigger_kind)s %(trigger_value)s on %(units)s "
        "units, rate %(rate)s) raised %(raised)s"),
    "recent_firmware_update": N_(
        "firmware %(firmware)s installed %(day)s by %(organization)s, %(days)s days "
        "before the incident"),
    "recent_firmware_updates": N_(
        "firmware %(firmware)s installed %(day)s by %(organization)s, %(days)s days "
        "before the incident; %(count)s firmware updates in the %(window)s days before"),
    "data_breach": N_(
        "a data breach implicates the software/AI stack (%(software)s)"),
    "recent_service_work": N_(
        "%(organization)s worked on the unit %(days)s days before the incident (%(work)s)"),
    "recent_service_work_many": N_(
        "%(organization)s worked on the unit %(days)s days before the incident (%(count)s"
        " work events, latest: %(work)s)"),
    "work_component_replaced": N_(
        "replaced component %(removed)s with %(installed)s on %(day)s"),
    "work_firmware_updated": N_(
        "installed firmware %(firmware)s on %(day)s"),
    "work_order_started": N_(
        "work order %(work_order)s started %(day)s"),
    "work_order_completed": N_(
        "work order %(work_order)s completed %(day)s"),
    "work_maintenance_started": N_(
        "maintenance started %(day)s"),
    "work_maintenance_completed": N_(
        "maintenance completed %(day)s"),
    "maintenance_in_progress": N_(
        "maintenance started %(day)s by %(organization)s was not completed at the time"),
    "recently_installed_component": N_(
        "component %(serial)s installed %(day)s"),
    "used_while_not_in_service": N_(
        "the unit was %(status)s at the time of the incident"),
    "ignored_health_alert": N_(
        "health alert %(rule)s (%(alert)s) open since %(since)s"),
    "fault_codes_at_incident": N_(
        "fault codes reported around the incident: %(codes)s"),
    "no_other_lead": N_(
        "no recall, signal, recent work or operator lapse found; the manufacturer answers"
        " for the design and production of the unit"),
    "component_selection": N_(
        "the manufacturer chose and fitted the suspect component"),
}


def _vocabularies() -> dict[str, dict[str, str]]:
    from robopass.web.app.choices import COMPONENT_TYPES
    from robopass.web.app.dashboard import ALERT_LABELS

    return {"status": public.STATUS_LABELS, "component_type": COMPONENT_TYPES,
            "rule": ALERT_LABELS}


#: How a list parameter's phrases are joined, per page language (English: the service's).
LOCALE_JOINERS: dict[str, dict[str, str]] = {"zh_CN": {"notified": "；", "work": "；"}}


def render(item: dict[str, Any], gettext: Callable[[str], str], locale: str = "en"
           ) -> str | None:
    """One evidence item (or a phrase inside one) in the language of ``gettext``; None when
    the item carries no known message (the page then shows the English ``text``)."""
    template = EVIDENCE_TEMPLATES.get(str(item.get("message")))
    params = item.get("params")
    if template is None or not isinstance(params, dict):
        return None
    labels = _vocabularies()
    values: dict[str, Any] = {}
    for name, value in params.items():
        if isinstance(value, list):
            parts = [render(v, gettext, locale) if isinstance(v, dict) else str(v)
                     for v in value]
            joiner = LOCALE_JOINERS.get(locale, JOINERS).get(name, JOINERS.get(name, ", "))
            values[name] = joiner.join(p or "" for p in parts)
        elif name in labels and isinstance(value, str) and value in labels[name]:
            values[name] = gettext(labels[name][value])
        else:
            values[name] = value
    try:
        return gettext(template) % values
    except (KeyError, TypeError, ValueError):
        return None
