"""API keys and the acting organisation.

Keys look like ``rp_<prefix>_<secret>``: the prefix (public, indexed) finds the row, the whole
key's SHA-256 is compared in constant time. Keys carry 256 bits of randomness, so a fast hash is
safe (DESIGN-NOTES: a password hash would cost milliseconds per request for nothing).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from robopass.auth.models import ApiKey
from robopass.errors import Forbidden, NotFound, Unauthorized
from robopass.ids import new_id
from robopass.organizations.models import Organization
from robopass.timeutil import utcnow


@dataclass(frozen=True)
class Actor:
    """The organisation a request acts for."""

    id: str
    name: str
    roles: frozenset[str]
    country: str
    scope_province: str | None = None
    key_id: str | None = None
    #: The organisation's status: only an ``approved`` one may write (SPEC §13).
    status: str = "approved"

    def has(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)

    @property
    def is_regulator(self) -> bool:
        return "regulator" in self.roles

    @property
    def is_national_regulator(self) -> bool:
        return self.is_regulator and self.scope_province is None

    @classmethod
    def of(cls, org: Organization, key_id: str | None = None) -> Actor:
        return cls(id=org.id, name=org.name, roles=frozenset(org.roles), country=org.country,
                   scope_province=org.scope_province, key_id=key_id, status=org.status)

    @property
    def may_write(self) -> bool:
        return self.status == "approved"


def check_may_write(actor: Actor) -> None:
    """The one check that a suspended or deregistered organisation writes nothing (SPEC §13).

    Called for every unsafe API request (``deps.get_actor``), every web form post
    (``web.app.common.require``) and every CLI command that acts for an organisation.
    Raises Forbidden ``organization_suspended``.
    """
    if not actor.may_write:
        raise Forbidden(f"{actor.name} is {actor.status}: it may sign in and read, but not "
                        "write", code="organization_suspended", field="authorization",
                        organization_status=actor.status)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(session: Session, *, organization_id: str, name: str = "default") -> str:
    """Create a key for the organisation and return it; it is never shown again."""
    prefix = secrets.token_hex(6)
    key = f"rp_{prefix}_{secrets.token_urlsafe(32)}"
    session.add(ApiKey(id=new_id("key"), organization_id=organization_id, prefix=prefix,
                       key_hash=_hash(key), name=name, created_at=utcnow()))
    return key


def authenticate(session: Session, key: str) -> Actor:
    """Resolve a bearer key to its organisation; raises Unauthorized."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "rp":
        raise Unauthorized("malformed API key", code="bad_api_key")
    row = session.execute(
        select(ApiKey, Organization)
        .join(Organization, Organization.id == ApiKey.organization_id)
        .where(ApiKey.prefix == parts[1])
    ).first()
    if row is None or not hmac.compare_digest(row[0].key_hash, _hash(key)):
        raise Unauthorized("unknown API key", code="bad_api_key")
    api_key, org = row
    if api_key.revoked_at is not None:
        raise Unauthorized("this API key was revoked", code="revoked_api_key")
    return Actor.of(org, key_id=api_key.id)


def list_keys(session: Session, *, organization_id: str) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).where(ApiKey.organization_id == organization_id)
                                .order_by(ApiKey.created_at)))


def revoke_key(session: Session, *, organization_id: str, key_id: str) -> None:
    result = session.execute(
        update(ApiKey).where(ApiKey.id == key_id, ApiKey.organization_id == organization_id,
                             ApiKey.revoked_at.is_(None)).values(revoked_at=utcnow()))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound(f"no active key {key_id} for this organisation", code="key_not_found")
