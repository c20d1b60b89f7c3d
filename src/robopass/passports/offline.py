"""Offline label passports (SPEC §16) — pure: no database, no web.

As the EU digital COVID certificate does it: CWT claims (CBOR) → COSE_Sign1 (Ed25519, COSE
alg −8, ``kid`` in the protected header: the ``kid`` of a key in the registry's JWKS, as UTF-8
bytes) → zlib → base45 → the text ``RP1:<base45>``, which fits a QR code in alphanumeric mode
(base45's alphabet is exactly QR's alphanumeric set). A label may carry it as the fragment of
its page URL, ``{public_url}/r/{code}#RP1:…``: a phone opens the page (the fragment never
reaches the server), an offline verifier reads the fragment.

Claims (a CBOR map; integer keys are registered CWT claims, the short text keys are ours —
short because every byte costs QR modules on a 37 mm label, as the EU DCC's ``v``/``dn`` do;
:func:`claims_view` names them in full):

=========  =========================  =====================================================
key        named                      value
=========  =========================  =====================================================
``1``      ``iss``                    the registry's origin (e.g. ``robopass.cn/ledger``)
``2``      ``sub``                    the 29-character code
``6``      ``iat``                    seconds since the epoch when it was issued
``"mdl"``  ``model``                  ``{"c": <6-char model code>, "n": <model name>}``
``"mfr"``  ``manufacturer``           ``{"n": <name>, "cc": <country>}``
``"lvl"``  ``level``                  evaluated intelligence level (an integer)
``"pm"``   ``production_month``       ``YYYY-MM``
``65535``  ``status``                 ``{"status_list": {"idx": <int>, "uri": <list URI>}}``
                                      (the CWT ``status`` claim of the IETF Token Status
                                      List draft)
=========  =========================  =====================================================

Libraries: ``cwt`` signs and verifies the COSE_Sign1 (it uses ``cbor2`` and ``cryptography``),
``base45`` (RFC 9285) does the text form. The tests decode with ``pycose`` and a base45 decoder
of their own, so the format does not depend on one library's reading of it.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import base45
import cbor2
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from robopass.passports.verify import PassportError, _find_key

__all__ = ["PREFIX", "OfflinePassport", "claims_view", "decode_unverified", "extract",
           "sign_offline", "verify_offline", "wire_claims"]

PREFIX = "RP1:"
ISS, SUB, IAT, STATUS = 1, 2, 6, 65535
ALG_EDDSA = -8
_HDR_ALG, _HDR_KID = 1, 4
#: Longest text accepted (a QR code holds at most 4,296 alphanumeric characters).
MAX_TEXT = 4296


@dataclass(frozen=True)
class OfflinePassport:
    """A verified offline passport: its claims (named as in :func:`claims_view`) and kid."""

    kid: str
    claims: dict[str, Any]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


_keys: dict[tuple[str, bytes], Any] = {}


def _signing_key(private: Ed25519PrivateKey, kid: str) -> Any:
    from cwt import COSEKey  # imported when first used: ~3 MB no server worker needs before

    public = private.public_key().public_bytes(serialization.Encoding.Raw,
                                               serialization.PublicFormat.Raw)
    key = _keys.get((kid, public))
    if key is None:
        raw = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                    serialization.NoEncryption())
        key = _keys[(kid, public)] = COSEKey.from_jwk({"kty": "OKP", "crv": "Ed25519",
                                                       "kid": kid, "x": _b64url(public),
                                                       "d": _b64url(raw)})
    return key


def sign_offline(private_key: Ed25519PrivateKey, kid: str, claims: Mapping[Any, Any]) -> str:
    """``RP1:`` + base45(zlib(COSE_Sign1)) of the CBOR ``claims`` (keys as in the module doc)."""
    from cwt import COSE

    payload = cbor2.dumps(dict(claims))
    message = COSE.new().encode_and_sign(payload, _signing_key(private_key, kid),
                                         protected={_HDR_ALG: ALG_EDDSA,
                                                    _HDR_KID: kid.encode()},
                                         unprotected={})
    return PREFIX + base45.b45encode(zlib.compress(message, 9)).decode("ascii")


def extract(text: str) -> str:
    """The ``RP1:…`` part of a scanned text: the passport itself, or a label URL carrying it
    as the fragment (``…/r/{code}#RP1:…``)."""
    if not isinstance(text, str):
        raise PassportError("an offline passport is text", reason="malformed")
    text = text.strip()
    if "#" in text:
        text = text.split("#", 1)[1]
    if not text.startswith(PREFIX):
        raise PassportError(f"an offline passport starts with {PREFIX}", reason="malformed")
    if len(text) > MAX_TEXT:
        raise PassportError("the offline passport is too long", reason="malformed")
    return text


def _cose_bytes(text: str) -> bytes:
    body = extract(text)[len(PREFIX):]
    try:
        compressed = base45.b45decode(body)
    except (ValueError, KeyError):
        raise PassportError("the offline passport is not base45", reason="malformed") from None
    try:
        return zlib.decompressobj().decompress(compressed, 64 * 1024)
    except zlib.error:
        raise PassportError("the offline passport is not zlib data", reason="malformed") \
            from None


def _sign1_parts(message: bytes) -> tuple[dict[Any, Any], bytes]:
    try:
        item = cbor2.loads(message)
    except (cbor2.CBORDecodeError, ValueError, TypeError, EOFError):
        raise PassportError("the offline passport is not CBOR", reason="malformed") from None
    if isinstance(item, cbor2.CBORTag):
        if item.tag != 18:
            raise PassportError(f"CBOR tag {item.tag} is not COSE_Sign1 (18)", reason="malformed")
        item = item.value
    if not isinstance(item, list) or len(item) != 4 or not isinstance(item[0], bytes) \
            or not isinstance(item[2], bytes):
        raise PassportError("the offline passport is not a COSE_Sign1", reason="malformed")
    try:
        protected = cbor2.loads(item[0]) if item[0] else {}
    except (cbor2.CBORDecodeError, ValueError, EOFError):
        raise PassportError("the protected header is not CBOR", reason="malformed") from None
    if not isinstance(protected, dict):
        raise PassportError("the protected header is not a map", reason="malformed")
    return protected, item[2]


_NAMES: dict[Any, str] = {ISS: "iss", SUB: "sub", IAT: "iat", STATUS: "status",
                          "mdl": "model", "mfr": "manufacturer", "lvl": "level",
                          "pm": "production_month"}
_INNER = {"c": "code", "n": "name", "cc": "country"}


def claims_view(raw: Mapping[Any, Any]) -> dict[str, Any]:
    """The CBOR claims with every key named in full (``iss``, ``sub``, ``iat``, ``model``
    ``{code, name}``, ``manufacturer`` ``{name, country}``, ``level``, ``production_month``,
    ``status``); unknown keys are kept as text."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = _NAMES.get(key, str(key))
        if name in ("model", "manufacturer") and isinstance(value, dict):
            value = {_INNER.get(k, str(k)): v for k, v in value.items()}
        out[name] = value
    return out


def wire_claims(*, iss: str, sub: str, iat: int, model_code: str | None,
                model_name: str | None, manufacturer: str | None, country: str | None,
                level: int, production_month: str, status_idx: int, status_uri: str
                ) -> dict[Any, Any]:
    """The CBOR claim map (short keys, see the module docstring)."""
    return {ISS: iss, SUB: sub, IAT: iat, "mdl": {"c": model_code, "n": model_name},
            "mfr": {"n": manufacturer, "cc": country}, "lvl": level, "pm": production_month,
            STATUS: {"status_list": {"idx": status_idx, "uri": status_uri}}}


def decode_unverified(text: str) -> tuple[dict[Any, Any], dict[str, Any]]:
    """Protected header and claims, without checking the signature (for display)."""
    protected, payload = _sign1_parts(_cose_bytes(text))
    try:
        claims = cbor2.loads(payload)
    except (cbor2.CBORDecodeError, ValueError, EOFError):
        raise PassportError("the claims are not CBOR", reason="malformed") from None
    if not isinstance(claims, dict):
        raise PassportError("the claims are not a CBOR map", reason="malformed")
    return protected, claims_view(claims)


def verify_offline(text: str, jwks: Mapping[str, Any]) -> OfflinePassport:
    """Verify an offline passport against ``jwks`` (retired keys included).

    Raises :class:`~robopass.passports.verify.PassportError` with ``reason`` ``malformed``,
    ``unsupported_alg``, ``unknown_key``, ``bad_jwks``, ``bad_signature`` or
    ``missing_claim``."""
    message = _cose_bytes(text)
    protected, _ = _sign1_parts(message)
    if protected.get(_HDR_ALG) != ALG_EDDSA:
        raise PassportError(f"COSE alg {protected.get(_HDR_ALG)!r} is not EdDSA (-8)",
                            reason="unsupported_alg")
    kid_bytes = protected.get(_HDR_KID)
    if not isinstance(kid_bytes, bytes):
        raise PassportError("the protected header has no kid", reason="malformed")
    kid = kid_bytes.decode("utf-8", "replace")
    jwk = _find_key(jwks, kid)
    from cwt import COSE, COSEKey

    try:
        key = COSEKey.from_jwk({"kty": "OKP", "crv": "Ed25519", "kid": kid,
                                "x": str(jwk.get("x"))})
    except Exception as exc:  # noqa: BLE001 - the library raises several kinds
        raise PassportError(f"key {kid} in the JWKS is unusable: {exc}", reason="bad_jwks") \
            from None
    try:
        payload = COSE.new().decode(message, key)
    except Exception:  # noqa: BLE001 - cwt.VerifyError and decoding errors alike
        raise PassportError(f"the signature does not verify under key {kid}: the passport was "
                            "altered or forged", reason="bad_signature") from None
    claims = claims_view(cbor2.loads(payload))
    missing = [n for n in ("iss", "sub", "iat", "status") if n not in claims]
    if missing:
        raise PassportError(f"the passport lacks the claim(s) {', '.join(missing)}",
                            reason="missing_claim")
    if type(claims["iat"]) is not int:
        raise PassportError("claim iat must be an integer", reason="invalid_claim")
    return OfflinePassport(kid=kid, claims=claims)


def status_reference(claims: Mapping[str, Any]) -> tuple[int, str]:
    """``(idx, uri)`` of a verified passport's status claim; PassportError if malformed."""
    ref = claims.get("status")
    entry = ref.get("status_list") if isinstance(ref, dict) else None
    if not isinstance(entry, dict) or type(entry.get("idx")) is not int \
            or not isinstance(entry.get("uri"), str):
        raise PassportError("claim status must be {status_list: {idx: int, uri: str}}",
                            reason="invalid_claim")
    return int(entry["idx"]), str(entry["uri"])
