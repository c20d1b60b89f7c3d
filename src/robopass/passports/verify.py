"""Offline passport verification (SPEC §8): a compact JWS (EdDSA / Ed25519) against a JWK Set.

Pure: imports no database or web code, so a buyer, an inspector or a foreign registry can run it
alone (``robopass passport verify FILE --jwks FILE``). Signing lives here too, so both sides
share one definition of the bytes.

A passport is ``BASE64URL(header) "." BASE64URL(payload) "." BASE64URL(signature)`` (RFC 7515
compact serialisation) where

* the header is ``{"alg": "EdDSA", "kid": <kid of a key in the JWKS>, "typ": "JWT"}``;
* the payload is the RFC 8785 (JCS) serialisation of the claims;
* the signature is Ed25519 over the ASCII bytes ``BASE64URL(header) "." BASE64URL(payload)``
  (RFC 8037).

Since SPEC §16 a passport also carries ``exp`` (``iat`` + one day: after it the passport no
longer passes as current) and ``status_list`` ``{idx, uri}`` (the robot's entry in the
registry's status list, see :mod:`robopass.statuslist.token`).

Required claims: ``iss`` (ledger origin), ``sub`` (the 29-character code), ``iat`` (seconds since
the epoch), ``model``, ``manufacturer``, ``status``, ``open_recalls``, ``ledger`` ``{size,
root_hash}``, ``history_digest``. Retired keys stay in the JWKS, so a passport signed before a
rotation still verifies.

``history_digest`` is the lowercase hex SHA-256 of the JCS serialisation of the unit's public
event summaries: a JSON array, in recording order (per-unit sequence), with one object
``{"at": <RFC 3339 UTC>, "corrected": <bool>, "ledger_index": <int>, "type": <event type>}`` per
recorded event (corrections and corrected events included). :func:`history_digest` computes it;
every field in it is already public in the ledger's leaves.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from robopass.canonical import canonical_json
from robopass.ledger.heads import InvalidJWK, public_key_from_jwk

__all__ = ["REQUIRED_CLAIMS", "PassportError", "decode_unverified", "history_digest",
           "sign_passport", "verify_history", "verify_passport"]

REQUIRED_CLAIMS = ("iss", "sub", "iat", "model", "manufacturer", "status", "open_recalls",
                   "ledger", "history_digest")
_B64 = re.compile(r"[A-Za-z0-9_-]+")
_HEX64 = re.compile(r"[0-9a-f]{64}")


class PassportError(ValueError):
    """The passport is malformed, signed by an unknown key, tampered with or incomplete.
    ``reason`` is a stable machine-readable word; the message is for people."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(part: str, what: str) -> bytes:
    if not _B64.fullmatch(part):
        raise PassportError(f"the {what} is not base64url", reason="malformed")
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise PassportError(f"the {what} is not base64url", reason="malformed") from None


def _json(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        raise PassportError(f"the {what} is not JSON", reason="malformed") from None
    if not isinstance(value, dict):
        raise PassportError(f"the {what} is not a JSON object", reason="malformed")
    return value


def sign_passport(private_key: Ed25519PrivateKey, kid: str, claims: Mapping[str, Any]) -> str:
    """Sign ``claims`` as a compact JWS with header ``{alg: EdDSA, kid, typ: JWT}``."""
    header = _b64encode(canonical_json({"alg": "EdDSA", "kid": kid, "typ": "JWT"}))
    payload = _b64encode(canonical_json(dict(claims)))
    signing_input = f"{header}.{payload}".encode("ascii")
    return f"{header}.{payload}.{_b64encode(private_key.sign(signing_input))}"


def decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a compact JWS, without checking the signature (for display)."""
    parts = _split(token)
    return _json(_b64decode(parts[0], "header"), "header"), \
        _json(_b64decode(parts[1], "payload"), "payload")


def _split(token: object) -> list[str]:
    if not isinstance(token, str):
        raise PassportError("a passport is a compact JWS string", reason="malformed")
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise PassportError(f"a compact JWS has 3 dot-separated parts, this has {len(parts)}",
                            reason="malformed")
    return parts


def _find_key(jwks: Mapping[str, Any], kid: str) -> Mapping[str, Any]:
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(keys, list):
        raise PassportError("the JWKS has no 'keys' list", reason="bad_jwks")
    for jwk in keys:
        if isinstance(jwk, Mapping) and jwk.get("kid") == kid:
            return jwk
    raise PassportError(f"no key with kid {kid!r} in the JWKS: signed by an unknown key",
                        reason="unknown_key")


def verify_passport(token: str, jwks: Mapping[str, Any], *,
                    expected_sub: str | None = None,
                    expected_iss: str | None = None,
                    now: float | None = None, allow_expired: bool = False) -> dict[str, Any]:
    """Check the passport's shape and signature against ``jwks``; return its claims.

    A passport with an ``exp`` claim (every one issued since SPEC §16) is refused after it,
    unless ``allow_expired`` (reading an old passport as a historical record); ``now`` is
    seconds since the epoch (default: the clock).

    Raises :class:`PassportError` with ``reason`` one of ``malformed``, ``unsupported_alg``,
    ``bad_jwks``, ``unknown_key``, ``bad_signature``, ``missing_claim``, ``invalid_claim``,
    ``wrong_subject``, ``wrong_issuer``, ``expired``."""
    parts = _split(token)
    header = _json(_b64decode(parts[0], "header"), "header")
    if header.get("alg") != "EdDSA":
        raise PassportError(f"unsupported alg {header.get('alg')!r}; passports use EdDSA",
                            reason="unsupported_alg")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise PassportError("the header has no kid", reason="malformed")
    try:
        public = public_key_from_jwk(_find_key(jwks, kid))
    except InvalidJWK as exc:
        raise PassportError(f"key {kid} in the JWKS is unusable: {exc}", reason="bad_jwks") \
            from None
    signature = _b64decode(parts[2], "signature")
    try:
        public.verify(signature, f"{parts[0]}.{parts[1]}".encode("ascii"))
    except InvalidSignature:
        raise PassportError(f"the signature does not verify under key {kid}: the passport was "
                            "altered or forged", reason="bad_signature") from None
    claims = _json(_b64decode(parts[1], "payload"), "payload")
    missing = [name for name in REQUIRED_CLAIMS if name not in claims]
    if missing:
        raise PassportError(f"the passport lacks the claim(s) {', '.join(missing)}",
                            reason="missing_claim")
    ledger = claims["ledger"]
    if (not isinstance(ledger, Mapping) or type(ledger.get("size")) is not int
            or not _HEX64.fullmatch(str(ledger.get("root_hash")))):
        raise PassportError("claim ledger must be {size: int, root_hash: 64 hex}",
                            reason="invalid_claim")
    if not _HEX64.fullmatch(str(claims["history_digest"])):
        raise PassportError("claim history_digest must be 64 lowercase hex digits",
                            reason="invalid_claim")
    if type(claims["iat"]) is not int:
        raise PassportError("claim iat must be an integer", reason="invalid_claim")
    exp = claims.get("exp")
    if exp is not None:
        if type(exp) is not int:
            raise PassportError("claim exp must be an integer", reason="invalid_claim")
        current = time.time() if now is None else now
        if not allow_expired and current > exp:
            raise PassportError(f"the passport expired {int(current - exp)} s ago (issued "
                                f"{int(current - claims['iat'])} s ago): it shows the robot "
                                "as it was, not as it is; fetch a new one", reason="expired")
    if expected_sub is not None and claims["sub"] != expected_sub:
        raise PassportError(f"the passport is for {claims['sub']}, not {expected_sub}",
                            reason="wrong_subject")
    if expected_iss is not None and claims["iss"] != expected_iss:
        raise PassportError(f"the passport was issued by {claims['iss']}, not {expected_iss}",
                            reason="wrong_issuer")
    return claims


def history_digest(summaries: Sequence[Mapping[str, Any]]) -> str:
    """SHA-256 (hex) of the JCS array of public event summaries ``{at, corrected,
    ledger_index, type}`` in recording order (see the module docstring)."""
    items = [{"at": s["at"], "corrected": bool(s["corrected"]),
              "ledger_index": int(s["ledger_index"]), "type": s["type"]} for s in summaries]
    return hashlib.sha256(canonical_json(items)).hexdigest()


def verify_history(claims: Mapping[str, Any], summaries: Sequence[Mapping[str, Any]]) -> None:
    """Raise :class:`PassportError` (``history_mismatch``) unless ``summaries`` hash to the
    passport's ``history_digest``."""
    if history_digest(summaries) != claims.get("history_digest"):
        raise PassportError("the event summaries do not match the passport's history_digest",
                            reason="history_mismatch")
