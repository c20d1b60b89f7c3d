"""The registry's own identity (country, ledger origin)."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from robopass.errors import RobopassError
from robopass.registry import origin as origin_rules
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


def reserve_status_indexes(session: Session, count: int) -> int:
    """Reserve ``count`` consecutive status-list indexes (SPEC §16); returns the first.

    One ``UPDATE … RETURNING`` of the registry row: it holds that row's lock until the
    caller's transaction ends (PostgreSQL), and SQLite serialises writers anyway, so two
    issuances never share an index (the unique constraint on ``units.status_index`` is the
    last line of defence)."""
    end = session.execute(update(Registry).where(Registry.id == 1)
                          .values(next_status_index=Registry.next_status_index + count)
                          .returning(Registry.next_status_index)).scalar_one()
    return int(end) - count


def initialise(url: str, *, country: str = "CN", origin: str | None = None,
               public_url: str | None = None) -> str | None:
    """Create or migrate the schema; on a new database create the registry and a regulator.

    The ledger origin is ``origin`` or derived from ``public_url`` (see
    :mod:`robopass.registry.origin`). On an existing database the latest tree head is re-signed
    if a migration gave the registry a new origin. Returns the regulator's API key (shown
    once) for a new database, else None.
    """
    from robopass import idcode, schema
    from robopass.auth import service as auth_service
    from robopass.db import writing
    from robopass.ids import new_id
    from robopass.ledger import keys
    from robopass.ledger import service as ledger_service
    from robopass.ledger.models import LedgerState
    from robopass.organizations.models import Organization
    from robopass.timeutil import utcnow

    country = country.upper()
    if country not in idcode.COUNTRIES:
        raise ValueError(f"{country!r} is not an ISO 3166-1 alpha-2 country code")
    origin = origin_rules.check(origin) if origin else origin_rules.default(country, public_url)
    schema.upgrade(url)
    _cache.clear()
    with writing(url) as session:
        if session.get(Registry, 1) is not None:
            ledger_service.resign_latest_head(session)
            # A registry migrated from before scenario policies gets the defaults now.
            from robopass.policies.defaults import install_missing

            install_missing(session)
            return None
        now = utcnow()
        session.add(Registry(id=1, country=country, origin=origin, created_at=now,
                             next_company_number=1))
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
