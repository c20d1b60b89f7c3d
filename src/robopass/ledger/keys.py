"""Ed25519 signing keys for tree heads and passports (SPEC §5, §8).

One key is active; rotation retires it (it stays in the JWKS so old heads and passports still
verify) and creates a new one.
"""

from __future__ import annotations

import base64
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from robopass.ledger import heads
from robopass.ledger.models import SigningKey
from robopass.timeutil import utcnow

_private_cache: dict[str, Ed25519PrivateKey] = {}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def create_key(session: Session) -> SigningKey:
    private = Ed25519PrivateKey.generate()
    public = private.public_key()
    kid = heads.key_id_for(public)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key = SigningKey(kid=kid, private_pem=pem, public_x=_b64url(raw), created_at=utcnow())
    session.add(key)
    session.flush()
    _private_cache[kid] = private
    return key


def active(session: Session) -> tuple[str, Ed25519PrivateKey]:
    """The active key (created on first use)."""
    row = session.scalar(select(SigningKey).where(SigningKey.retired_at.is_(None))
                         .order_by(SigningKey.created_at.desc()).limit(1))
    if row is None:
        row = create_key(session)
    private = _private_cache.get(row.kid)
    if private is None:
        loaded = serialization.load_pem_private_key(row.private_pem.encode(), password=None)
        assert isinstance(loaded, Ed25519PrivateKey)
        private = _private_cache[row.kid] = loaded
    return row.kid, private


def rotate(session: Session) -> SigningKey:
    """Retire every active key and create a new one; returns the new key."""
    now = utcnow()
    for row in session.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None))):
        row.retired_at = now
    session.flush()
    return create_key(session)


def jwks(session: Session) -> dict[str, Any]:
    """All keys, current and retired, as a JWK Set."""
    keys = []
    for row in session.scalars(select(SigningKey).order_by(SigningKey.created_at)):
        keys.append({"kty": "OKP", "crv": "Ed25519", "x": row.public_x, "kid": row.kid,
                     "alg": "EdDSA", "use": "sig",
                     **({"retired_at": row.retired_at.isoformat()} if row.retired_at else {})})
    return {"keys": keys}
