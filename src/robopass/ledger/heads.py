"""Signed tree heads (SPEC §5) and the Ed25519 JWKs that verify them.

A tree head is ``{origin, size, root_hash, timestamp, key_id, signature}``. The Ed25519 signature
(hex) covers the UTF-8 bytes of ``"{origin}\\n{size}\\n{root_hash}\\n{timestamp}\\n"``; ``key_id``
is not signed — it only says which key of ``/.well-known/jwks.json`` to try. Pure: no database,
no web; ``cryptography`` does the signing.

Field rules (checked by :func:`head_message`, so by signing and verifying alike): ``origin`` is a
non-empty string without a newline; ``size`` a non-negative int; ``root_hash`` 64 lowercase hex
digits; ``timestamp`` RFC 3339 in UTC with a ``Z`` suffix (:func:`format_timestamp`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from robopass.canonical import canonical_json

__all__ = [
    "HEAD_FIELDS",
    "HeadSignatureError",
    "InvalidJWK",
    "format_timestamp",
    "head_message",
    "key_id_for",
    "parse_timestamp",
    "public_jwk",
    "public_key_from_jwk",
    "sign_head",
    "verify_head",
]

HEAD_FIELDS = ("origin", "size", "root_hash", "timestamp", "key_id", "signature")

_ROOT_HASH = re.compile(r"[0-9a-f]{64}")
_SIGNATURE = re.compile(r"[0-9a-f]{128}")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z")
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


class HeadSignatureError(ValueError):
    """A tree head is malformed or its signature does not verify."""


class InvalidJWK(ValueError):
    """A JWK is not a public Ed25519 (OKP) signing key."""


# --- timestamps ----------------------------------------------------------------------------------


def format_timestamp(moment: datetime, *, timespec: str = "seconds") -> str:
    """RFC 3339 UTC with a ``Z`` suffix, e.g. ``2025-03-01T08:00:00Z``.

    ``moment`` must be timezone-aware (it is converted to UTC); ``timespec`` is passed to
    :meth:`datetime.isoformat` (``"seconds"``, ``"milliseconds"``, ``"microseconds"``)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("timestamp must be timezone-aware")
    text = moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec=timespec)
    return text + "Z"


def parse_timestamp(text: str) -> datetime:
    """Parse a timestamp of the form :func:`format_timestamp` writes into an aware datetime."""
    if not isinstance(text, str) or not _TIMESTAMP.fullmatch(text):
        raise ValueError(f"timestamp {text!r} is not RFC 3339 UTC ending in 'Z'")
    head, _, fraction = text[:-1].partition(".")
    moment = datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    if fraction:
        moment = moment.replace(microsecond=int(fraction[:6].ljust(6, "0")))
    return moment


# --- heads ---------------------------------------------------------------------------------------


def head_message(origin: str, size: int, root_hash_hex: str, timestamp: str | datetime) -> bytes:
    """The bytes a tree head's signature covers: ``"{origin}\\n{size}\\n{root_hash}\\n
    {timestamp}\\n"`` in UTF-8. Raises ``ValueError`` for a field that breaks the rules above."""
    if not isinstance(origin, str) or not origin or "\n" in origin:
        raise ValueError("origin must be a non-empty string without a newline")
    if type(size) is not int or size < 0:
        raise ValueError(f"size must be a non-negative integer, not {size!r}")
    if not isinstance(root_hash_hex, str) or not _ROOT_HASH.fullmatch(root_hash_hex):
        raise ValueError(f"root hash {root_hash_hex!r} is not 64 lowercase hex digits")
    if isinstance(timestamp, datetime):
        timestamp = format_timestamp(timestamp)
    else:
        parse_timestamp(timestamp)
    return f"{origin}\n{size}\n{root_hash_hex}\n{timestamp}\n".encode()


def sign_head(
    private_key: Ed25519PrivateKey,
    *,
    origin: str,
    size: int,
    root_hash_hex: str,
    timestamp: str | datetime,
    key_id: str,
) -> dict[str, Any]:
    """Sign a tree head; return ``{origin, size, root_hash, timestamp, key_id, signature}``
    with the signature in lowercase hex. A datetime ``timestamp`` is formatted with
    :func:`format_timestamp`."""
    if isinstance(timestamp, datetime):
        timestamp = format_timestamp(timestamp)
    message = head_message(origin, size, root_hash_hex, timestamp)
    return {
        "origin": origin,
        "size": size,
        "root_hash": root_hash_hex,
        "timestamp": timestamp,
        "key_id": key_id,
        "signature": private_key.sign(message).hex(),
    }


def verify_head(head: Mapping[str, Any], public_key: Ed25519PublicKey) -> None:
    """Check a tree head's shape and its signature under ``public_key``.

    Raises :class:`HeadSignatureError` naming the problem: a missing field, a field that breaks
    the rules, a signature that is not 128 hex digits, or a signature that does not verify."""
    missing = [name for name in HEAD_FIELDS if name not in head]
    if missing:
        raise HeadSignatureError(f"tree head lacks {', '.join(missing)}")
    if not isinstance(head["key_id"], str):
        raise HeadSignatureError("key_id must be a string")
    signature = head["signature"]
    if not isinstance(signature, str) or not _SIGNATURE.fullmatch(signature):
        raise HeadSignatureError("signature is not 128 lowercase hex digits")
    try:
        message = head_message(head["origin"], head["size"], head["root_hash"], head["timestamp"])
    except ValueError as exc:
        raise HeadSignatureError(str(exc)) from None
    try:
        public_key.verify(bytes.fromhex(signature), message)
    except InvalidSignature:
        raise HeadSignatureError(
            f"signature does not verify under key {key_id_for(public_key)}"
        ) from None


# --- JWK -----------------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    if not _B64URL.fullmatch(text):
        raise InvalidJWK("x is not base64url without padding")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error:
        raise InvalidJWK("x is not base64url without padding") from None
    if _b64url(data) != text:  # reject non-canonical trailing bits
        raise InvalidJWK("x is not canonical base64url")
    return data


def _raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id_for(public_key: Ed25519PublicKey) -> str:
    """RFC 7638 JWK thumbprint: base64url SHA-256 of ``{"crv":"Ed25519","kty":"OKP","x":...}``
    (RFC 8037 §2 names the required members)."""
    members = {"crv": "Ed25519", "kty": "OKP", "x": _b64url(_raw_public(public_key))}
    return _b64url(hashlib.sha256(canonical_json(members)).digest())


def public_jwk(public_key: Ed25519PublicKey, kid: str | None = None) -> dict[str, str]:
    """The public JWK of an Ed25519 key for a JWKS: ``kty: OKP``, ``crv: Ed25519``, ``x``,
    ``kid`` (the thumbprint by default), ``alg: EdDSA``, ``use: sig``."""
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": _b64url(_raw_public(public_key)),
        "kid": key_id_for(public_key) if kid is None else kid,
        "alg": "EdDSA",
        "use": "sig",
    }


def public_key_from_jwk(jwk: Mapping[str, Any]) -> Ed25519PublicKey:
    """Load the public key of an OKP / Ed25519 JWK. Raises :class:`InvalidJWK` for another key
    type, an ``alg`` other than EdDSA, a ``use`` other than sig, a private member ``d``, or an
    ``x`` that is not 32 bytes of canonical base64url."""
    if not isinstance(jwk, Mapping):
        raise InvalidJWK("JWK must be a JSON object")
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise InvalidJWK(f"not an Ed25519 key: kty={jwk.get('kty')!r} crv={jwk.get('crv')!r}")
    if "alg" in jwk and jwk["alg"] != "EdDSA":
        raise InvalidJWK(f"alg {jwk['alg']!r} is not EdDSA")
    if "use" in jwk and jwk["use"] != "sig":
        raise InvalidJWK(f"use {jwk['use']!r} is not sig")
    if "d" in jwk:
        raise InvalidJWK("JWK holds a private key (member d); publish only the public part")
    x = jwk.get("x")
    if not isinstance(x, str):
        raise InvalidJWK("x is missing")
    raw = _b64url_decode(x)
    if len(raw) != 32:
        raise InvalidJWK(f"x decodes to {len(raw)} bytes, want 32")
    return Ed25519PublicKey.from_public_bytes(raw)
