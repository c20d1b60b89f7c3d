"""The registry's own identity (country, ledger origin)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from robopass.errors import RobopassError
from robopass.registry.models import Registry

_cache: dict[str, tuple[str, str]] = {}


def get(session: Session) -> Registry:
    reg = session.get(Registry, 1)
    if reg is None:
        raise RobopassError("the database is not initialised; run `robopass init`",
                            code="not_initialised")
    return reg


def _facts(session: Session) -> tuple[str, str]:
    key = str(session.get_bind().engine.url)
    if key not in _cache:
        reg = get(session)
        _cache[key] = (reg.country, reg.origin)
    return _cache[key]


def country(session: Session) -> str:
    return _facts(session)[0]


def origin(session: Session) -> str:
    return _facts(session)[1]


def initialise(url: str, *, country: str = "CN", origin: str | None = None) -> str | None:
    """Create or migrate the schema; on a new database create the registry and a regulator.

    Returns the regulator's API key (shown once) for a new database, else None.
    """
    from robopass import idcode, schema
    from robopass.auth import service as auth_service
    from robopass.db import writing
    from robopass.ids import new_id
    from robopass.ledger import keys
    from robopass.ledger.models import LedgerState
    from robopass.organizations.models import Organization
    from robopass.timeutil import utcnow

    country = country.upper()
    if country not in idcode.COUNTRIES:
        raise ValueError(f"{country!r} is not an ISO 3166-1 alpha-2 country code")
    schema.upgrade(url)
    with writing(url) as session:
        if session.get(Registry, 1) is not None:
            # A registry migrated from before scenario policies gets the defaults now.
            from robopass.policies.defaults import install_missing

            install_missing(session)
            return None
        now = utcnow()
        session.add(Registry(id=1, country=country, origin=origin or f"robopass.{country.lower()}"
                             "/ledger", created_at=now, next_company_number=1))
        session.add(LedgerState(id=1, size=0))
        keys.create_key(session)
        regulator = Organization(
            id=new_id("org"), name=f"National Robot Registry Authority ({country})",
            roles=["regulator"], country=country, registration_number="REGISTRY",
            status="approved", created_at=now)
        session.add(regulator)
        session.flush()
        from robopass.policies.defaults import install_defaults

        install_defaults(session, actor=auth_service.Actor.of(regulator))
        return auth_service.create_key(session, organization_id=regulator.id)
