"""Hand-over messages between registries (SPEC §16) — pure: no database, no web.

A message is a compact JWS (EdDSA / Ed25519, ``typ: robopass-handover+jwt``, ``kid`` of a key
in the sending registry's JWKS) whose payload is::

    {"iss": <sender's country>, "aud": <receiver's country>, "kind": "exported" | "scrapped"
     | "recycled", "code": <29-character code>, "to_country": <where the robot lives now>,
     "at": <RFC 3339 UTC, when it happened at the sender>, "jti": <message id>, "iat": <s>}

``exported``: the sender imported the robot (the receiver is its origin). ``scrapped`` /
``recycled``: the sender, where the robot lives, recorded its end. The receiver checks the
signature against the JWKS it pinned for the sender's country (``robopass peer add``) —
never against keys that come with the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from robopass import idcode
from robopass.canonical import canonical_json
from robopass.ledger.heads import InvalidJWK, public_key_from_jwk
from robopass.passports.verify import (
    PassportError,
    _b64decode,
    _b64encode,
    _find_key,
    _json,
    _split,
)

TYP = "robopass-handover+jwt"
KINDS = ("exported", "scrapped", "recycled")


class MessageError(PassportError):
    """A hand-over message is malformed or its signature fails (``reason`` as for passports)."""


def sign_message(private_key: Ed25519PrivateKey, kid: str, payload: Mapping[str, Any]) -> str:
    header = _b64encode(canonical_json({"alg": "EdDSA", "kid": kid, "typ": TYP}))
    body = _b64encode(canonical_json(dict(payload)))
    return f"{header}.{body}.{_b64encode(private_key.sign(f'{header}.{body}'.encode()))}"


def peek(token: str) -> dict[str, Any]:
    """The payload without checking the signature (to find the sender's pinned keys)."""
    try:
        return _json(_b64decode(_split(token)[1], "payload"), "payload")
    except PassportError as exc:
        raise MessageError(str(exc), reason=exc.reason) from None


def verify_message(token: str, jwks: Mapping[str, Any]) -> dict[str, Any]:
    """Check the signature against ``jwks`` and the payload's shape; return the payload.
    Raises :class:`MessageError`."""
    try:
        parts = _split(token)
        header = _json(_b64decode(parts[0], "header"), "header")
        if header.get("alg") != "EdDSA" or header.get("typ") != TYP \
                or not isinstance(header.get("kid"), str):
            raise MessageError(f"a hand-over message has alg EdDSA, typ {TYP} and a kid",
                               reason="malformed")
        public = public_key_from_jwk(_find_key(jwks, header["kid"]))
        public.verify(_b64decode(parts[2], "signature"), f"{parts[0]}.{parts[1]}".encode())
        payload = _json(_b64decode(parts[1], "payload"), "payload")
    except MessageError:
        raise
    except PassportError as exc:
        raise MessageError(str(exc), reason=exc.reason) from None
    except InvalidJWK as exc:
        raise MessageError(f"the pinned key is unusable: {exc}", reason="bad_jwks") from None
    except InvalidSignature:
        raise MessageError("the message's signature does not verify under the sender's pinned "
                           "keys", reason="bad_signature") from None
    if payload.get("kind") not in KINDS:
        raise MessageError(f"kind must be one of {', '.join(KINDS)}", reason="invalid_claim")
    for name in ("iss", "aud", "to_country"):
        if not isinstance(payload.get(name), str) or len(payload[name]) != 2:
            raise MessageError(f"{name} must be a country code", reason="invalid_claim")
    if not isinstance(payload.get("code"), str) or not idcode.is_valid(payload["code"]):
        raise MessageError("code must be a valid identity code", reason="invalid_claim")
    if not isinstance(payload.get("jti"), str) or not isinstance(payload.get("at"), str):
        raise MessageError("jti and at must be strings", reason="invalid_claim")
    return payload
