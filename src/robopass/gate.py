"""The one gate (SPEC §1, §8, §12): who may see or do what, on every interface.

Every API route, web page and CLI command that shows or changes protected data asks this
module, and nothing else, what the acting organisation may do:

* :func:`decide` (pure) — the tier an actor holds on a :class:`Subject`: ``authority`` (a
  regulator whose scope covers the subject: national, or provincial and the subject lies in its
  province), ``legitimate`` (a party with legitimate interest: the unit's owner, operator,
  manufacturer, authorised service provider; an incident's reporter; a recall's or signal's
  manufacturer; an organisation itself) or ``public``.
* :func:`see` — load the subject, decide, refuse below the tier needed, and write the audit
  entry for a sensitive read (anything above ``public``), so an interface cannot forget it.
* :func:`act` — the same for writes on an object: a regulator acts only inside its scope.
* :func:`units_in_scope`, :func:`orgs_in_scope` and the ``*_filter`` helpers — SQL conditions,
  so lists are filtered by the same rule rather than merely single objects refused.

Where a subject lies: a unit lies in its location's province; a unit without a location yet
lies in its manufacturer's province (so a provincial regulator neither reads nor suspends
another province's fresh units). Incidents lie where their unit lies; recalls and signals
where any affected unit or manufacturer lies; an organisation in its own province.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, false, or_, select, true
from sqlalchemy.orm import Session

from robopass.auth.service import Actor
from robopass.errors import Forbidden

Tier = Literal["public", "legitimate", "authority"]
ORDER: dict[str, int] = {"public": 0, "legitimate": 1, "authority": 2}


@dataclass(frozen=True)
class Subject:
    """What the gate needs to know of an object: its kind and id (for the audit log), the
    provinces (two-digit GB/T 2260 prefixes) it lies in and the organisations with legitimate
    interest in it."""

    kind: str
    id: str
    provinces: frozenset[str] = field(default_factory=frozenset)
    parties: frozenset[str] = field(default_factory=frozenset)


def provinces(values: Iterable[str | None]) -> frozenset[str]:
    """The two-digit province prefixes of some GB/T 2260 codes (``None`` ignored)."""
    return frozenset(v[:2] for v in values if v)


def in_scope(actor: Actor, where: Iterable[str | None]) -> bool:
    """A national regulator's scope is everything; a provincial one's is its province."""
    if not actor.is_regulator:
        return False
    if actor.scope_province is None:
        return True
    mine = actor.scope_province[:2]
    return any(p is not None and p[:2] == mine for p in where)


def decide(actor: Actor | None, subject: Subject) -> Tier:
    """The tier ``actor`` holds on ``subject`` (pure)."""
    if actor is None:
        return "public"
    if in_scope(actor, subject.provinces):
        return "authority"
    if actor.id in subject.parties:
        return "legitimate"
    return "public"


def at_least(tier: str, needed: str) -> bool:
    return ORDER[tier] >= ORDER[needed]


# --- subjects --------------------------------------------------------------------------------

def org_province(session: Session, org_id: str | None) -> str | None:
    from robopass.organizations.models import Organization

    if not org_id:
        return None
    return session.scalar(select(Organization.province).where(Organization.id == org_id))


def unit_subject(session: Session, unit: Any, actor: Actor | None = None) -> Subject:
    """A unit: its province (or its manufacturer's while it has no location); parties its
    owner, operator and manufacturer, and ``actor`` if it is an authorised service provider of
    the unit."""
    from robopass.organizations import service as org_service

    province = unit.province or org_province(session, unit.manufacturer_id)
    parties = {p for p in (unit.owner_id, unit.operator_id, unit.manufacturer_id) if p}
    if actor is not None and actor.id not in parties and "service_provider" in actor.roles \
            and org_service.is_authorised_provider(session, provider_id=actor.id, code=unit.code,
                                                   owner_id=unit.owner_id,
                                                   operator_id=unit.operator_id):
        parties.add(actor.id)
    return Subject("unit", unit.code, provinces([province]), frozenset(parties))


def incident_subject(session: Session, incident: Any) -> Subject:
    from robopass.robots.models import Unit

    unit = session.get(Unit, incident.code)
    where = unit_subject(session, unit).provinces if unit is not None else frozenset()
    parties = {p for p in (incident.reporter_id, incident.owner_id, incident.operator_id,
                           incident.manufacturer_id) if p}
    return Subject("incident", incident.id, where, frozenset(parties))


def recall_subject(session: Session, recall: Any) -> Subject:
    from robopass.organizations.models import Organization
    from robopass.recalls.models import RecallUnit
    from robopass.robots.models import Unit

    orgs = set(recall.manufacturer_ids or []) | {recall.opened_by_id}
    where = provinces(session.scalars(
        select(Organization.province).where(Organization.id.in_(orgs))))
    where |= provinces(session.scalars(
        select(Unit.province).join(RecallUnit, RecallUnit.code == Unit.code)
        .where(RecallUnit.recall_id == recall.id, Unit.province.is_not(None)).distinct()))
    return Subject("recall", recall.id, where, frozenset(orgs))


def signal_subject(session: Session, signal: Any) -> Subject:
    from robopass.organizations.models import Organization
    from robopass.robots.models import Unit

    where = provinces(session.scalars(
        select(Organization.province).where(Organization.id.in_(signal.manufacturer_ids or []))))
    where |= provinces(session.scalars(
        select(Unit.province).where(Unit.code.in_(signal.units or []),
                                    Unit.province.is_not(None)).distinct()))
    return Subject("signal", signal.id, where, frozenset(signal.manufacturer_ids or []))


def model_subject(session: Session, model: Any) -> Subject:
    """A product model (its filing): its manufacturer's province and the manufacturer."""
    return Subject("model", model.id,
                   provinces([org_province(session, model.manufacturer_id)]),
                   frozenset({model.manufacturer_id}))


def organization_subject(org: Any) -> Subject:
    return Subject("organization", org.id, provinces([org.province]), frozenset({org.id}))


def subject_of(session: Session, obj: Any, actor: Actor | None = None) -> Subject:
    """The :class:`Subject` of a stored object (unit, incident, recall, signal, organisation),
    or ``obj`` itself when it already is one."""
    if isinstance(obj, Subject):
        return obj
    name = type(obj).__name__
    if name == "Unit":
        return unit_subject(session, obj, actor)
    if name == "Incident":
        return incident_subject(session, obj)
    if name == "Recall":
        return recall_subject(session, obj)
    if name == "DefectSignal":
        return signal_subject(session, obj)
    if name == "Organization":
        return organization_subject(obj)
    if name == "ProductModel":
        return model_subject(session, obj)
    raise TypeError(f"the gate knows no subject of type {name}")


# --- the decisions every interface calls ------------------------------------------------------

def _refuse(actor: Actor | None, subject: Subject, needed: str, message: str | None) -> None:
    if actor is not None and actor.is_regulator and not in_scope(actor, subject.provinces):
        raise Forbidden(message or f"this {subject.kind} is outside your province "
                        f"({actor.scope_province})", code="outside_province")
    raise Forbidden(message or f"this {subject.kind} is not yours to see or change "
                    f"(needs {needed} tier)", code="tier_required", needed=needed)


def see(session: Session, actor: Actor | None, obj: Any, *, need: str = "public",
        audit: str | None = None, path: str = "", message: str | None = None) -> Tier:
    """The tier ``actor`` holds on ``obj``; raises Unauthorized / Forbidden below ``need``.

    With ``audit`` (an action name such as ``read_robot``), a read above the public tier is
    written to the audit log (in ``session`` when it is a write session, else in its own short
    transaction) — the one place every interface records sensitive reads."""
    subject = subject_of(session, obj, actor)
    tier = decide(actor, subject)
    if not at_least(tier, need):
        _refuse(actor, subject, need, message)
    if audit and actor is not None and tier != "public":
        record_read(session, actor=actor, action=audit, subject=subject.id, tier=tier,
                    path=path)
    return tier


def act(session: Session, actor: Actor, obj: Any, *, need: str = "legitimate",
        message: str | None = None) -> Tier:
    """May ``actor`` change ``obj``? A regulator only inside its scope (``authority``); others
    as parties (``legitimate``) when ``need`` allows it. Raises Forbidden."""
    subject = subject_of(session, obj, actor)
    tier = decide(actor, subject)
    if actor.is_regulator and tier != "authority" and actor.id not in subject.parties:
        _refuse(actor, subject, "authority", message)
    if not at_least(tier, need):
        _refuse(actor, subject, need, message)
    return tier


def require_regulator(actor: Actor, *, national: bool = False) -> None:
    """Regulatory actions: a regulator (a national one when ``national``)."""
    if not actor.is_regulator:
        raise Forbidden("this needs the regulator role", code="role_required",
                        roles=["regulator"])
    if national and actor.scope_province is not None:
        raise Forbidden("this needs the national regulator (yours is scoped to "
                        f"{actor.scope_province})", code="national_regulator_required")


def console_actor(session: Session, key: str | None = None) -> Actor:
    """Who a CLI command acts as: the organisation of ``key`` when given, else the registry's
    own regulator (the one ``robopass init`` created; whoever holds the database URL runs the
    registry). Either way the command's reads go through this gate and its audit log."""
    from robopass.auth import service as auth_service
    from robopass.organizations.models import Organization

    if key:
        return auth_service.authenticate(session, key)
    org = session.scalars(select(Organization).where(
        Organization.registration_number == "REGISTRY", Organization.scope_province.is_(None))
        .order_by(Organization.created_at).limit(1)).first()
    if org is None:
        raise Forbidden("this database has no registry regulator; pass --key",
                        code="no_console_actor")
    return Actor.of(org)


def record_read(session: Session, *, actor: Actor, action: str, subject: str, tier: str,
                path: str = "") -> None:
    """Write the audit entry of a sensitive read. In a write session it joins the caller's
    transaction; in a read session it commits in its own short write transaction (a failure to
    log fails the read rather than leaving it unlogged)."""
    from robopass.audit import service as audit_service
    from robopass.db import transaction, write_session

    bind = session.get_bind()
    if bind.get_execution_options().get("robopass_write") and session.in_transaction():
        audit_service.record(session, actor=actor, action=action, subject=subject, tier=tier,
                             path=path)
        return
    url = bind.engine.url.render_as_string(hide_password=False)
    with write_session(url) as writer, transaction(writer, ledger=False):
        audit_service.record(writer, actor=actor, action=action, subject=subject, tier=tier,
                             path=path)


# --- list filters (SQL) -----------------------------------------------------------------------

def orgs_in_scope(actor: Actor) -> Any:
    """A subquery of the ids of organisations in a provincial regulator's province."""
    from robopass.organizations.models import Organization

    assert actor.scope_province is not None
    return select(Organization.id).where(
        Organization.province.like(f"{actor.scope_province[:2]}%"))


def unit_filter(actor: Actor, unit: Any = None) -> ColumnElement[bool]:
    """Units a regulator may see: all (national), those in its province or, without a
    location, made by a manufacturer of its province (provincial); none for others."""
    from robopass.robots.models import Unit

    unit = unit if unit is not None else Unit
    if not actor.is_regulator:
        return false()
    if actor.scope_province is None:
        return true()
    return or_(unit.province.like(f"{actor.scope_province[:2]}%"),
               and_(unit.province.is_(None), unit.manufacturer_id.in_(orgs_in_scope(actor))))


def units_in_scope(actor: Actor) -> Any:
    """A subquery of the codes of the units a regulator may see."""
    from robopass.robots.models import Unit

    return select(Unit.code).where(unit_filter(actor))


def code_filter(actor: Actor, column: Any, org_column: Any = None) -> ColumnElement[bool]:
    """Rows about a unit code (fraud alerts, refused attempts, audit entries) a regulator may
    list: the unit is in scope, or (``org_column``) the acting organisation is."""
    if not actor.is_regulator:
        return false()
    if actor.scope_province is None:
        return true()
    conds = [column.in_(units_in_scope(actor))]
    if org_column is not None:
        conds.append(org_column.in_(orgs_in_scope(actor)))
    return or_(*conds)


def model_filter(actor: Actor) -> ColumnElement[bool]:
    """Filings a regulator may list (approved models are public to everyone)."""
    from robopass.product_models.models import ProductModel

    if not actor.is_regulator:
        return false()
    if actor.scope_province is None:
        return true()
    return ProductModel.manufacturer_id.in_(orgs_in_scope(actor))


def recall_filter(actor: Actor) -> ColumnElement[bool]:
    """Recalls a regulator may list: any affected unit or manufacturer, or its opener, in
    scope."""
    from robopass.recalls.models import Recall, RecallUnit

    if not actor.is_regulator:
        return false()
    if actor.scope_province is None:
        return true()
    touching = select(RecallUnit.recall_id).where(or_(
        RecallUnit.code.in_(units_in_scope(actor)),
        RecallUnit.manufacturer_id.in_(orgs_in_scope(actor))))
    return or_(Recall.id.in_(touching), Recall.opened_by_id.in_(orgs_in_scope(actor)))


def visible(session: Session, actor: Actor, objects: Iterable[Any], *,
            need: str = "legitimate") -> list[Any]:
    """The objects of a small list ``actor`` may see (signals, a unit's incidents)."""
    return [o for o in objects if at_least(decide(actor, subject_of(session, o, actor)), need)]
