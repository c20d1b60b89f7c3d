"""The regulator's changes to organisations (SPEC §13): update, suspend, reinstate,
deregister, accredit testing labs. Each writes a decision record in the same transaction.

Status: ``approved`` (active) → ``suspended`` (authenticates and reads; every write is refused,
see ``auth.service.check_may_write``; its models receive no codes) → back with ``reinstate``;
``deregister`` (from approved or suspended) is final.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from robopass import regions
from robopass.auth.service import Actor
from robopass.decisions import service as decision_service
from robopass.errors import Conflict, Forbidden, InvalidInput
from robopass.organizations import service as org_service
from robopass.organizations.models import ACCREDITATION_SCOPES, Organization
from robopass.timeutil import utcnow

StatusAction = Literal["suspend", "reinstate", "deregister"]

#: action → (statuses it may be taken from, resulting status)
STATUS_TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "suspend": (frozenset({"approved"}), "suspended"),
    "reinstate": (frozenset({"suspended"}), "approved"),
    "deregister": (frozenset({"approved", "suspended"}), "deregistered"),
}
UPDATABLE = ("name", "name_zh", "province", "city")


def snapshot(org: Organization) -> dict[str, Any]:
    """What a decision about an organisation freezes before and after."""
    return {"name": org.name, "name_zh": org.name_zh, "province": org.province,
            "city": org.city, "status": org.status,
            "accreditation_scopes": org.accreditation_scopes,
            "accredited_until": org.accredited_until}


def _check_scope(actor: Actor, org: Organization, province: str | None = None) -> None:
    """Only a regulator; a provincial one acts on its province's organisations only."""
    if not actor.is_regulator:
        raise Forbidden("only the regulator changes organisations", code="regulator_only")
    if actor.scope_province is None:
        return
    inside = regions.province_of(org.province) == actor.scope_province
    if not inside or (province is not None
                      and regions.province_of(province) != actor.scope_province):
        raise Forbidden(f"{org.name} is outside your province ({actor.scope_province})",
                        code="outside_province", field="province")


def _clean_reason(reason: str | None, *, required: bool) -> str | None:
    text = (reason or "").strip()
    if required and not text:
        raise InvalidInput("a reason is required", field="reason", code="reason_required")
    if len(text) > 1000 or "\x00" in text:
        raise InvalidInput("reason must be at most 1000 characters", field="reason")
    return text or None


def _record(session: Session, actor: Actor, org: Organization, action: str,
            before: dict[str, Any], reason: str | None) -> None:
    decision_service.record_decision(
        session, actor=actor, action=f"organization.{action}", object_type="organization",
        object_id=org.id, before=before, after=snapshot(org), reason=reason,
        organization_id=org.id, province=org.province)


def _check_location(province: str | None, city: str | None) -> None:
    for field, value in (("province", province), ("city", city)):
        if value is not None and not regions.is_valid_division(value):
            raise InvalidInput(f"{value!r} is not a known administrative division code",
                               field=field, code="invalid_division")
    if province and city and regions.province_of(city) != regions.province_of(province):
        raise InvalidInput(f"city {city} does not lie in province {province}", field="city",
                           code="city_outside_province")


def update(session: Session, *, actor: Actor, org_id: str, changes: dict[str, Any],
           reason: str | None = None) -> Organization:
    """Change name, name_zh, province or city (only the keys given). Raises InvalidInput,
    Forbidden, Conflict (duplicate name)."""
    org = org_service.get_or_raise(session, org_id)
    unknown = sorted(set(changes) - set(UPDATABLE))
    if unknown:
        raise InvalidInput(f"cannot change {', '.join(unknown)}", field=unknown[0])
    if not changes:
        raise InvalidInput("give at least one of name, name_zh, province, city",
                           field="body", code="nothing_to_change")
    _check_scope(actor, org, changes.get("province"))
    for field in ("name", "name_zh"):
        if field in changes and changes[field] is not None:
            changes[field] = str(changes[field]).strip()
            if not changes[field]:
                raise InvalidInput(f"{field} must not be empty", field=field)
    if "name" in changes and changes["name"] is None:
        raise InvalidInput("name cannot be removed", field="name")
    province = changes.get("province", org.province)
    city = changes.get("city", org.city)
    _check_location(province, city)
    if "name" in changes and changes["name"] != org.name:
        clash = session.scalar(select(Organization.id).where(
            Organization.name == changes["name"], Organization.id != org.id))
        if clash is not None:
            raise Conflict(f"an organisation named {changes['name']!r} exists ({clash})",
                           code="duplicate_organization", field="name")
    before = snapshot(org)
    for field, value in changes.items():
        setattr(org, field, value)
    session.flush()
    _record(session, actor, org, "update", before, _clean_reason(reason, required=False))
    return org


def change_status(session: Session, *, actor: Actor, org_id: str, action: StatusAction,
                  reason: str | None) -> Organization:
    """Suspend, reinstate or deregister, with a reason. Raises Forbidden (not the regulator,
    outside its province, itself), Conflict (wrong status), InvalidInput (no reason)."""
    org = org_service.get_or_raise(session, org_id)
    _check_scope(actor, org)
    text = _clean_reason(reason, required=True)
    if org.id == actor.id:
        raise Forbidden("a regulator cannot change its own status", code="own_organization",
                        field="org_id")
    allowed, target = STATUS_TRANSITIONS[action]
    if org.status not in allowed:
        raise Conflict(f"cannot {action} an organisation that is {org.status}",
                       code="invalid_organization_transition", field="status",
                       status_now=org.status)
    before = snapshot(org)
    org.status = target
    org.status_reason = text
    session.flush()
    _record(session, actor, org, action, before, text)
    return org


def accredit(session: Session, *, actor: Actor, org_id: str, scopes: list[str],
             valid_until: date, reason: str | None = None) -> Organization:
    """Accredit a testing lab for ``scopes`` until ``valid_until`` (inclusive); replaces any
    earlier accreditation. Raises InvalidInput (scopes, date, not a lab), Forbidden."""
    org = org_service.get_or_raise(session, org_id)
    _check_scope(actor, org)
    if "testing_lab" not in org.roles:
        raise InvalidInput(f"{org.name} is not a testing lab", field="org_id",
                           code="not_a_testing_lab")
    if org.status != "approved":
        raise Conflict(f"{org.name} is {org.status}", code=f"organization_{org.status}",
                       field="org_id")
    clean = sorted(set(scopes))
    bad = [s for s in clean if s not in ACCREDITATION_SCOPES]
    if not clean or bad:
        raise InvalidInput(f"scopes must be a non-empty subset of "
                           f"{', '.join(ACCREDITATION_SCOPES)}", field="scopes",
                           code="invalid_scopes")
    if valid_until < utcnow().date():
        raise InvalidInput(f"valid_until {valid_until} is in the past", field="valid_until",
                           code="date_in_past")
    before = snapshot(org)
    org.accreditation_scopes = clean
    org.accredited_until = valid_until
    session.flush()
    _record(session, actor, org, "accredit", before, _clean_reason(reason, required=False))
    return org


def accreditation_problem(org: Organization, scope: str, *,
                          today: date | None = None) -> str | None:
    """Why ``org`` may not act as a lab for ``scope`` today (None when it may)."""
    today = today or utcnow().date()
    if org.status != "approved":
        return f"{org.name} is {org.status}"
    if not org.accreditation_scopes or org.accredited_until is None:
        return f"{org.name} is not accredited"
    if org.accredited_until < today:
        return f"{org.name}'s accreditation lapsed on {org.accredited_until.isoformat()}"
    if scope not in org.accreditation_scopes:
        return f"{org.name} is not accredited for {scope}"
    return None
