"""Status List Tokens (draft-ietf-oauth-status-list, JWT form) — pure: no database, no web.

A status list is a byte array holding ``bits`` (here 2) per index; the status of index 0 is in
the least significant bits of the first byte, index 1 in the next two bits, and so on. The
token is a compact JWS (Ed25519, ``alg: EdDSA``, ``typ: statuslist+jwt``, ``kid`` of the
registry's JWKS) whose payload is::

    {"sub": <the list's URI>, "iss": <registry origin>, "iat": <seconds>, "ttl": <seconds>,
     "status_list": {"bits": 2, "lst": <base64url, no padding, of zlib(bytes)>}}

Values (SPEC §16): 0 valid, 1 invalid (scrapped, recycled, or model revoked), 2 suspended
(unit or model suspended), 3 open recall. A verifier uses this module alone
(``robopass passport verify-offline --status FILE``).
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

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

BITS = 2
VALID, INVALID, SUSPENDED, RECALL = 0, 1, 2, 3
#: What each value means, for people.
MEANING = {VALID: "valid", INVALID: "invalid (scrapped, recycled or model revoked)",
           SUSPENDED: "suspended (unit or model)", RECALL: "open recall"}
TYP = "statuslist+jwt"


class StatusListError(PassportError):
    """The status list token is malformed, forged, or does not cover an index."""


def pack(size: int, entries: Iterable[tuple[int, int]]) -> bytes:
    """The byte array of a list of ``size`` indexes, all 0 except ``(index, value)`` entries
    (value 1–3; a larger value at the same index wins, so precedence is invalid > suspended
    > recall only if callers give the highest value — :func:`combine` does)."""
    array = bytearray((size * BITS + 7) // 8)
    for index, value in entries:
        shift = (index & 3) << 1
        byte = array[index >> 2]
        if value > (byte >> shift) & 3:
            array[index >> 2] = (byte & ~(3 << shift) & 0xFF) | (value << shift)
    return bytes(array)


def status_of(array: bytes, index: int) -> int:
    """The 2-bit value at ``index``; IndexError beyond the array."""
    if index < 0 or index >> 2 >= len(array):
        raise IndexError(f"index {index} is outside a list of {len(array) * 4} entries")
    return (array[index >> 2] >> ((index & 3) << 1)) & 3


#: zlib level: measured on 10,000,000 entries with 1 % listed (bench/bench_status_list.py),
#: level 6 gives 207 KB in 0.35 s, level 9 166 KB in 4.8 s — too slow to rebuild every few
#: seconds for 20 % fewer bytes.
ZLIB_LEVEL = 6


def compress(array: bytes) -> str:
    """``lst``: base64url (no padding) of the zlib (RFC 1950) compressed array."""
    return _b64encode(zlib.compress(array, ZLIB_LEVEL))


def decompress(lst: str) -> bytes:
    try:
        return zlib.decompress(base64.urlsafe_b64decode(lst + "=" * (-len(lst) % 4)))
    except (binascii.Error, ValueError, zlib.error):
        raise StatusListError("status_list.lst is not base64url of zlib data",
                              reason="malformed") from None


def sign(private_key: Ed25519PrivateKey, kid: str, payload: Mapping[str, Any]) -> str:
    """The compact JWS of a status list payload."""
    header = _b64encode(canonical_json({"alg": "EdDSA", "kid": kid, "typ": TYP}))
    body = _b64encode(canonical_json(dict(payload)))
    return f"{header}.{body}.{_b64encode(private_key.sign(f'{header}.{body}'.encode()))}"


def verify(token: str, jwks: Mapping[str, Any]) -> tuple[dict[str, Any], bytes]:
    """Check a status list token's signature against ``jwks``; return its payload and the
    decompressed array. Raises :class:`StatusListError` (``reason`` as for passports)."""
    try:
        parts = _split(token)
        header = _json(_b64decode(parts[0], "header"), "header")
        payload = _json(_b64decode(parts[1], "payload"), "payload")
        kid = header.get("kid")
        if header.get("alg") != "EdDSA" or not isinstance(kid, str):
            raise StatusListError("the status list header needs alg EdDSA and a kid",
                                  reason="unsupported_alg")
        if header.get("typ") != TYP:
            raise StatusListError(f"the token's typ is {header.get('typ')!r}, not {TYP}",
                                  reason="malformed")
        try:
            public = public_key_from_jwk(_find_key(jwks, kid))
        except InvalidJWK as exc:
            raise StatusListError(f"key {kid} is unusable: {exc}", reason="bad_jwks") from None
        public.verify(_b64decode(parts[2], "signature"), f"{parts[0]}.{parts[1]}".encode())
    except StatusListError:
        raise
    except PassportError as exc:
        raise StatusListError(str(exc), reason=exc.reason) from None
    except Exception:  # cryptography's InvalidSignature
        raise StatusListError("the status list signature does not verify",
                              reason="bad_signature") from None
    status_list = payload.get("status_list")
    if (not isinstance(status_list, dict) or status_list.get("bits") != BITS
            or not isinstance(status_list.get("lst"), str)):
        raise StatusListError("status_list must be {bits: 2, lst}", reason="invalid_claim")
    if type(payload.get("iat")) is not int:
        raise StatusListError("the status list has no integer iat", reason="invalid_claim")
    return payload, decompress(status_list["lst"])
