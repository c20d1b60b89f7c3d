"""Reporting incidents (SPEC §6). The trace report is in :mod:`robopass.incidents.trace`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from robopass import gate
from robopass.auth.service import Actor
from robopass.errors import Forbidden, InvalidInput, NotFound
from robopass.ids import new_id
from robopass.incidents.models import INCIDENT_TYPES, SEVERITIES, Incident
from robopass.lifecycle import service as lifecycle_service
from robopass.notifications import service as notification_service
from robopass.robots import service as robot_service
from robopass.timeutil import CLOCK_SKEW, as_utc, rfc3339, utcnow


def report(session: Session, *, actor: Actor, code: str, at: datetime, type: str,
           severity: str, description: str, place: str | None = None,
           now: datetime | None = None) -> Incident:
    """Record an incident reported by the unit's owner or operator (now or at ``at``) or the
    regulator. Raises NotFound (unknown unit), InvalidInput (type, severity, time, text),
    Forbidden."""
    if type not in INCIDENT_TYPES:
        raise InvalidInput(f"type must be one of {', '.join(INCIDENT_TYPES)}", field="type")
    if severity not in SEVERITIES:
        raise InvalidInput(f"severity must be one of {', '.join(SEVERITIES)}", field="severity")
    if not isinstance(description, str) or not description.strip() or len(description) > 5000 \
            or "\x00" in description:
        raise InvalidInput("description must be a non-empty text of at most 5000 characters",
                           field="description")
    if place is not None and (not isinstance(place, str) or len(place) > 500
                              or "\x00" in place):
        raise InvalidInput("place must be a text of at most 500 characters", field="place")
    unit = robot_service.get_unit_or_raise(session, code)
    now = now or utcnow()
    at = as_utc(at)
    if at > now + CLOCK_SKEW:
        raise InvalidInput(f"at {rfc3339(at)} is in the future", field="at",
                           code="time_in_future")
    year, month = (int(p) for p in unit.production_month.split("-"))
    if at < datetime(year, month, 1, tzinfo=UTC):
        raise InvalidInput(f"at {rfc3339(at)} is before the unit was produced "
                           f"({unit.production_month})", field="at",
                           code="time_before_production")
    state = lifecycle_service.replay_state(session, unit.code, at)
    if actor.is_regulator:
        gate.act(session, actor, unit, need="authority")
    elif actor.id not in {state.owner_id, state.operator_id, unit.owner_id, unit.operator_id}:
        raise Forbidden("incidents are reported by the unit's owner or operator or the "
                        "regulator", code="not_entitled")
    incident = Incident(id=new_id("inc"), code=unit.code, at=at, type=type, severity=severity,
                        description=description.strip(), place=place, reporter_id=actor.id,
                        reported_at=now, owner_id=state.owner_id,
                        operator_id=state.operator_id, manufacturer_id=unit.manufacturer_id,
                        model_id=unit.model_id)
    session.add(incident)
    session.flush()
    payload = {"incident_id": incident.id, "code": unit.code, "at": rfc3339(at), "type": type,
               "severity": severity, "trace_url": f"/api/v1/incidents/{incident.id}/trace"}
    notification_service.notify(session, organization_ids={unit.manufacturer_id} | set(
        notification_service.regulator_ids(session, province=unit.province)) - {actor.id},
        topic="incident", payload=payload)
    from robopass.signals import service as signal_service

    signal_service.check_after_incident(session, incident=incident, now=now)
    return incident


def get_or_raise(session: Session, incident_id: str) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"no incident {incident_id!r}", code="incident_not_found")
    return incident


def read_or_raise(session: Session, *, actor: Actor, incident_id: str,
                  audit: str | None = None, path: str = "") -> Incident:
    """The incident, for the regulator in scope, its reporter, the unit's owner and operator
    at ``at`` and its manufacturer (the gate decides; ``audit`` names the read to log)."""
    incident = get_or_raise(session, incident_id)
    gate.see(session, actor, incident, need="legitimate", audit=audit, path=path,
             message="an incident is readable by the regulator, its reporter, the unit's "
                     "owner and operator at the time and its manufacturer")
    return incident


def incident_view(incident: Incident) -> dict[str, Any]:
    return {"id": incident.id, "code": incident.code, "at": rfc3339(incident.at),
            "type": incident.type, "severity": incident.severity,
            "description": incident.description, "place": incident.place,
            "reporter": incident.reporter_id, "reported_at": rfc3339(incident.reported_at)}


def list_for_unit(session: Session, *, actor: Actor, code: str) -> list[dict[str, Any]]:
    unit = robot_service.get_unit_or_raise(session, code)
    rows = session.scalars(select(Incident).where(Incident.code == unit.code)
                           .order_by(Incident.at))
    return [incident_view(i) for i in gate.visible(session, actor, rows)]
