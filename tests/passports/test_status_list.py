"""The status list format (SPEC §16, IETF Token Status List): bit layout, compression, the
signed token."""

from __future__ import annotations

import base64
import json
import zlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from robopass.ledger import heads
from robopass.statuslist import token


def test_two_bit_layout_matches_the_draft_example() -> None:
    # draft-ietf-oauth-status-list, the 2-bit example: statuses 1,2,0,3,0,1,0,1,1,2,3,3
    values = [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3]
    array = token.pack(12, [(i, v) for i, v in enumerate(values) if v])
    assert array == bytes([0xC9, 0x44, 0xF9])
    assert [token.status_of(array, i) for i in range(12)] == values
    with pytest.raises(IndexError):
        token.status_of(array, 12)


def test_highest_value_wins_and_compression_round_trips() -> None:
    array = token.pack(10, [(3, 3), (3, 1), (9, 2)])
    assert token.status_of(array, 3) == 3 and token.status_of(array, 9) == 2
    lst = token.compress(array)
    assert "=" not in lst
    raw = zlib.decompress(base64.urlsafe_b64decode(lst + "=" * (-len(lst) % 4)))
    assert raw == array == token.decompress(lst)


def test_signed_token_verifies_and_tampering_fails() -> None:
    private = Ed25519PrivateKey.generate()
    kid = heads.key_id_for(private.public_key())
    jwks = {"keys": [heads.public_jwk(private.public_key(), kid)]}
    payload = {"sub": "https://r/api/v1/status-list", "iss": "robopass.cn/ledger",
               "iat": 1_800_000_000, "ttl": 3600,
               "status_list": {"bits": 2, "lst": token.compress(token.pack(8, [(5, 2)]))}}
    jws = token.sign(private, kid, payload)
    header = json.loads(base64.urlsafe_b64decode(jws.split(".")[0] + "=="))
    assert header == {"alg": "EdDSA", "kid": kid, "typ": "statuslist+jwt"}
    got, array = token.verify(jws, jwks)
    assert got == payload and token.status_of(array, 5) == 2
    head, body, sig = jws.split(".")
    forged = dict(payload, status_list={"bits": 2, "lst": token.compress(token.pack(8, []))})
    forged_body = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    with pytest.raises(token.StatusListError) as exc:
        token.verify(f"{head}.{forged_body}.{sig}", jwks)
    assert exc.value.reason == "bad_signature"
    with pytest.raises(token.StatusListError):
        token.verify(jws, {"keys": []})
