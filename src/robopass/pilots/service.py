"""Pilot programmes (SPEC §14): opened by the national regulator or, inside its province, a
provincial one; a participant's deployment in the pilot's provinces and scenario while it runs
is judged by the pilot's rules (:func:`robopass.lifecycle.plan.applicable_rules`). Opening and
ending are decisions, ledgered in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from robopass import regions
from robopass.auth.service import Actor
from robopass.decisions import service as decision_service
from robopass.errors import Conflict, Forbidden, InvalidInput, NotFound
from robopass.ids import new_id
from robopass.organizations.models import Organization
from robopass.pilots.models import Pilot
from robopass.policies import service as policy_service
from robopass.robots.models import Unit
from robopass.timeutil import as_utc, rfc3339, utcnow


def _provinces(actor: Actor, provinces: list[str]) -> list[str]:
    if not provinces:
        raise InvalidInput("a pilot names at least one province", field="provinces")
    out: list[str] = []
    for i, p in enumerate(provinces):
        if not isinstance(p, str) or regions.province_of(p) != p \
                or not regions.is_valid_division(p):
            raise InvalidInput(f"{p!r} is not a GB/T 2260 province code",
                               field=f"provinces[{i}]", code="invalid_location")
        if actor.scope_province is not None and p[:2] != actor.scope_province[:2]:
            raise Forbidden("a provincial regulator opens pilots inside its province only",
                            code="outside_province", field=f"provinces[{i}]")
        out.append(p)
    return sorted(set(out))


def open_pilot(session: Session, *, actor: Actor, name: str, scenario: str,
               provinces: list[str], starts: datetime, ends: datetime,
               participants: list[str], rules: Any, reason: str) -> Pilot:
    """Raises Forbidden (not a regulator, outside its province), NotFound (scenario),
    InvalidInput (window, participants, rules, reason)."""
    if not actor.is_regulator:
        raise Forbidden("only a regulator opens pilots", code="role_required",
                        roles=["regulator"])
    policy_service.check_scenario(scenario)
    chosen = _provinces(actor, provinces)
    starts, ends = as_utc(starts), as_utc(ends)
    if ends <= starts:
        raise InvalidInput("ends must be after starts", field="ends", code="invalid_range")
    if not participants:
        raise InvalidInput("a pilot names at least one participant", field="participants")
    known = set(session.scalars(select(Organization.id).where(
        Organization.id.in_(participants))))
    for i, org_id in enumerate(participants):
        if org_id not in known:
            raise InvalidInput(f"no organisation {org_id!r}", field=f"participants[{i}]",
                               code="organization_not_found")
    if not reason.strip():
        raise InvalidInput("opening a pilot needs a reason", field="reason")
    pilot = Pilot(id=new_id("pilot"), name=name.strip()[:200], scenario=scenario,
                  provinces=chosen, starts=starts, ends=ends,
                  participants=sorted(set(participants)),
                  rules=policy_service.checked_rules(rules), reason=reason.strip()[:2000],
                  created_by_id=actor.id, created_at=utcnow())
    decision = decision_service.record_decision(
        session, actor=actor, action="pilot_open", object_type="pilot", object_id=pilot.id,
        after=view(pilot), reason=pilot.reason,
        province=chosen[0] if len(chosen) == 1 else None)
    pilot.ledger_index = decision.ledger_index
    session.add(pilot)
    session.flush()
    return pilot


def get_or_raise(session: Session, pilot_id: str) -> Pilot:
    pilot = session.get(Pilot, pilot_id)
    if pilot is None:
        raise NotFound(f"no pilot {pilot_id!r}", code="pilot_not_found")
    return pilot


def end_pilot(session: Session, *, actor: Actor, pilot_id: str, reason: str) -> Pilot:
    """End a pilot early; its units get ``pilot_ended`` findings at the next scan."""
    pilot = get_or_raise(session, pilot_id)
    if not actor.is_regulator:
        raise Forbidden("only a regulator ends pilots", code="role_required")
    if actor.scope_province is not None and any(
            p[:2] != actor.scope_province[:2] for p in pilot.provinces):
        raise Forbidden("this pilot reaches outside your province", code="outside_province")
    now = utcnow()
    if pilot.ended_at is not None or pilot.ends <= now:
        raise Conflict("the pilot has already ended", code="pilot_ended")
    if not reason.strip():
        raise InvalidInput("ending a pilot needs a reason", field="reason")
    before = view(pilot)
    pilot.ended_at, pilot.end_reason = now, reason.strip()[:2000]
    decision_service.record_decision(
        session, actor=actor, action="pilot_end", object_type="pilot", object_id=pilot.id,
        before=before, after=view(pilot), reason=pilot.end_reason,
        province=pilot.provinces[0] if len(pilot.provinces) == 1 else None)
    session.flush()
    return pilot


def list_pilots(session: Session) -> list[Pilot]:
    return list(session.scalars(select(Pilot).order_by(Pilot.created_at.desc())))


def unit_counts(session: Session) -> dict[str, int]:
    """pilot id → units in service deployed under it."""
    return dict(session.execute(  # type: ignore[arg-type]
        select(Unit.pilot_id, func.count()).where(Unit.pilot_id.is_not(None),
                                                  Unit.status.in_(("in_service",
                                                                   "under_maintenance")))
        .group_by(Unit.pilot_id)).all())


def is_running(pilot: Pilot, at: datetime | None = None) -> bool:
    at = at or utcnow()
    end = pilot.ends if pilot.ended_at is None else min(pilot.ends, pilot.ended_at)
    return pilot.starts <= at < end


def view(pilot: Pilot, units: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": pilot.id, "name": pilot.name, "scenario": pilot.scenario,
        "provinces": list(pilot.provinces), "starts": rfc3339(pilot.starts),
        "ends": rfc3339(pilot.ends), "participants": list(pilot.participants),
        "rules": dict(pilot.rules), "reason": pilot.reason,
        "ledger_index": pilot.ledger_index, "ended_at": rfc3339(pilot.ended_at),
        "end_reason": pilot.end_reason,
        "running": bool(pilot.starts and pilot.ends and is_running(pilot))}
    if units is not None:
        out["units_in_service"] = units
    return out
