"""Organisations: creation by the regulator, company codes, service authorisations."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from stdnum.cn import uscc as stdnum_uscc
from stdnum.exceptions import ValidationError as StdnumError

from robopass import gate, idcode, regions
from robopass.auth import service as auth_service
from robopass.auth.service import Actor
from robopass.errors import Conflict, Forbidden, InvalidInput, NotFound
from robopass.ids import new_id
from robopass.organizations.models import ROLES, Counter, Organization, ServiceAuthorization
from robopass.timeutil import utcnow

#: Company, model and plant codes use 0-9A-Z without I, O and Q (SPEC §2).
CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"


def encode_number(number: int, width: int) -> str:
    """Encode ``number`` in base 33 over CODE_ALPHABET, left-padded with ``0``."""
    base = len(CODE_ALPHABET)
    if number < 0 or number >= base**width:
        raise ValueError(f"{number} does not fit in {width} characters")
    out = []
    for _ in range(width):
        number, rem = divmod(number, base)
        out.append(CODE_ALPHABET[rem])
    return "".join(reversed(out))


def next_counter(session: Session, name: str) -> int:
    """Advance a named counter inside the (serialised) write transaction."""
    counter = session.get(Counter, name)
    if counter is None:
        counter = Counter(name=name, value=0)
        session.add(counter)
    counter.value += 1
    session.flush()
    return counter.value


def validate_identity(*, country: str, uscc: str | None,
                      registration_number: str | None) -> str | None:
    """Check the legal identifier for the country; return the compact USCC or None."""
    if country not in idcode.COUNTRIES:
        raise InvalidInput(f"{country!r} is not an ISO 3166-1 alpha-2 country code",
                           field="country", code="invalid_country")
    if country == "CN":
        if not uscc:
            raise InvalidInput("organisations in CN must give their 18-character Unified Social "
                               "Credit Code", field="uscc", code="uscc_required")
        try:
            return str(stdnum_uscc.validate(uscc))
        except StdnumError as exc:
            raise InvalidInput(f"invalid Unified Social Credit Code {uscc!r}: {exc}",
                               field="uscc", code="invalid_uscc") from exc
    if uscc:
        raise InvalidInput("a USCC is only for organisations in CN; give registration_number",
                           field="uscc", code="uscc_not_applicable")
    if not registration_number or not registration_number.strip():
        raise InvalidInput("organisations outside CN must give registration_number",
                           field="registration_number", code="registration_number_required")
    return None


def create(session: Session, *, actor: Actor, name: str, roles: Sequence[str], country: str,
           uscc: str | None = None, registration_number: str | None = None,
           province: str | None = None, city: str | None = None,
           scope_province: str | None = None) -> tuple[Organization, str]:
    """Create an approved organisation and its first API key (returned once)."""
    if not actor.is_regulator:
        raise Forbidden("only the regulator creates organisations", code="regulator_only")
    name = name.strip()
    if not name:
        raise InvalidInput("name must not be empty", field="name")
    if not roles:
        raise InvalidInput("at least one role is required", field="roles")
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise InvalidInput(f"unknown role(s) {', '.join(unknown)}; known: {', '.join(ROLES)}",
                           field="roles", code="unknown_role")
    for fname, where in (("", regions.location_problem(province, city)),
                         ("scope_province", regions.location_problem(scope_province, None))):
        if where is not None:
            raise InvalidInput(where[1], field=fname or where[0], code="invalid_division")
    if scope_province is not None and "regulator" not in roles:
        raise InvalidInput("scope_province is only for regulators", field="scope_province")
    if actor.scope_province is not None:
        if "regulator" in roles:
            raise Forbidden("a provincial regulator cannot create regulators")
        if regions.province_of(province) != actor.scope_province:
            raise Forbidden("a provincial regulator creates organisations of its own province "
                            f"only ({actor.scope_province})", code="outside_province")
    compact_uscc = validate_identity(country=country, uscc=uscc,
                                     registration_number=registration_number)
    same = [Organization.name == name]
    if compact_uscc:
        same.append(Organization.uscc == compact_uscc)
    clash = session.scalars(select(Organization).where(or_(*same))).first()
    if clash is not None:
        what = "name" if clash.name == name else "uscc"
        raise Conflict(f"an organisation with this {what} already exists ({clash.id})",
                       code="duplicate_organization", field=what)
    company_code = None
    if "manufacturer" in roles:
        company_code = encode_number(next_counter(session, "company_code") + 33**3 - 1, 4)
    org = Organization(
        id=new_id("org"), name=name, roles=sorted(set(roles)), country=country,
        uscc=compact_uscc, registration_number=registration_number, company_code=company_code,
        province=province, city=city, scope_province=scope_province, status="approved",
        created_at=utcnow())
    session.add(org)
    session.flush()
    key = auth_service.create_key(session, organization_id=org.id)
    return org, key


def get(session: Session, org_id: str) -> Organization | None:
    return session.get(Organization, org_id)


def get_or_raise(session: Session, org_id: str, *, field: str = "organization") -> Organization:
    org = session.get(Organization, org_id) if isinstance(org_id, str) else None
    if org is None:
        raise NotFound(f"no organisation {org_id!r}", code="organization_not_found", field=field)
    return org


def read(session: Session, *, actor: Actor, org_id: str) -> Organization:
    """An organisation, for itself and the regulator in scope (the gate decides)."""
    org = get_or_raise(session, org_id)
    gate.see(session, actor, org, need="legitimate",
             message="you can read your own organisation only")
    return org


def check_manages_keys(actor: Actor, org_id: str) -> None:
    """Keys are managed by the organisation itself or the national regulator."""
    if actor.id != org_id and not actor.is_national_regulator:
        raise Forbidden("only the organisation itself or the regulator manages its keys",
                        code="not_your_organization")


def list_all(session: Session, *, actor: Actor, role: str | None = None, limit: int = 500,
             offset: int = 0) -> list[Organization]:
    """Organisations a regulator may list (a provincial one: its province's)."""
    gate.require_regulator(actor)
    query = select(Organization).order_by(Organization.name)
    if actor.scope_province is not None:
        query = query.where(Organization.id.in_(gate.orgs_in_scope(actor)))
    orgs = list(session.scalars(query))
    if role:
        orgs = [o for o in orgs if role in o.roles]
    return orgs[offset:offset + limit]


def authorize_service(session: Session, *, actor: Actor, provider_id: str,
                      code: str | None = None) -> ServiceAuthorization:
    """An owner or operator authorises a service provider (for one unit or all of its units)."""
    provider = get_or_raise(session, provider_id, field="provider_id")
    if "service_provider" not in provider.roles:
        raise InvalidInput(f"{provider.name} is not a service provider", field="provider_id",
                           code="not_a_service_provider")
    if code is not None:
        from robopass.robots import service as robot_service

        unit = robot_service.get_unit_or_raise(session, code)
        if actor.is_regulator:
            gate.act(session, actor, unit, need="authority")
        elif actor.id not in (unit.owner_id, unit.operator_id):
            raise Forbidden("only the unit's owner or operator authorises its service providers",
                            code="not_owner_or_operator")
        code = unit.code
    auth = ServiceAuthorization(id=new_id("sauth"), provider_id=provider.id,
                                granted_by_id=actor.id, code=code, created_at=utcnow())
    session.add(auth)
    session.flush()
    return auth


def is_authorised_provider(session: Session, *, provider_id: str, code: str,
                           owner_id: str | None, operator_id: str | None) -> bool:
    grantors = [g for g in (owner_id, operator_id) if g]
    if not grantors:
        return False
    row = session.scalar(
        select(ServiceAuthorization.id).where(
            ServiceAuthorization.provider_id == provider_id,
            ServiceAuthorization.granted_by_id.in_(grantors),
            ServiceAuthorization.revoked_at.is_(None),
            or_(ServiceAuthorization.code.is_(None), ServiceAuthorization.code == code),
        ).limit(1))
    return row is not None
