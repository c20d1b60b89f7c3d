"""Pure passport signing and verification: no database, no web."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from robopass.ledger.heads import key_id_for, public_jwk
from robopass.passports import verify as pv

CODE = "CN10000000012603A13B00000001V"


def claims(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "iss": "robopass.cn/ledger", "sub": CODE, "iat": 1_790_000_000,
        "model": {"name": "Walker", "model_code": "000001", "status": "approved"},
        "manufacturer": {"name": "Maker", "company_code": "1000", "country": "CN"},
        "status": "sold", "open_recalls": [], "ledger": {"size": 12, "root_hash": "a" * 64},
        "history_digest": pv.history_digest([])}
    base.update(over)
    return base


@pytest.fixture
def key() -> tuple[str, Ed25519PrivateKey, dict[str, object]]:
    private = Ed25519PrivateKey.generate()
    kid = key_id_for(private.public_key())
    return kid, private, {"keys": [public_jwk(private.public_key())]}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_round_trip_and_header(key) -> None:  # type: ignore[no-untyped-def]
    kid, private, jwks = key
    token = pv.sign_passport(private, kid, claims())
    header, body = pv.decode_unverified(token)
    assert header == {"alg": "EdDSA", "kid": kid, "typ": "JWT"}
    assert pv.verify_passport(token, jwks, expected_sub=CODE) == body == claims()


def test_retired_key_still_verifies(key) -> None:  # type: ignore[no-untyped-def]
    kid, private, jwks = key
    token = pv.sign_passport(private, kid, claims())
    newer = Ed25519PrivateKey.generate()
    retired = {**jwks["keys"][0], "retired_at": "2026-01-01T00:00:00Z"}  # type: ignore[index]
    rotated = {"keys": [retired, public_jwk(newer.public_key())]}
    assert pv.verify_passport(token, rotated)["sub"] == CODE


@pytest.mark.parametrize("mutate, reason", [
    (lambda t: t.split(".")[0] + "." + b64(json.dumps(claims(status="in_service")).encode())
     + "." + t.split(".")[2], "bad_signature"),
    (lambda t: t[:-4] + ("AAAA" if t[-4:] != "AAAA" else "BBBB"), "bad_signature"),
    (lambda t: t.rsplit(".", 1)[0], "malformed"),
    (lambda t: "not a passport", "malformed"),
    (lambda t: "!" + t, "malformed"),
    (lambda t: b64(b'{"alg":"none","kid":"x"}') + "." + t.split(".", 1)[1], "unsupported_alg"),
    (lambda t: b64(b'{"alg":"EdDSA","kid":"nobody"}') + "." + t.split(".", 1)[1], "unknown_key"),
    (lambda t: b64(b'[1]') + "." + t.split(".", 1)[1], "malformed"),
])
def test_tampered_or_forged_fails_with_reason(key, mutate, reason) -> None:  # type: ignore[no-untyped-def]
    kid, private, jwks = key
    token = pv.sign_passport(private, kid, claims())
    with pytest.raises(pv.PassportError) as info:
        pv.verify_passport(mutate(token), jwks)
    assert info.value.reason == reason
    assert str(info.value)


def test_forged_with_another_key_under_a_known_kid(key) -> None:  # type: ignore[no-untyped-def]
    kid, _, jwks = key
    forger = Ed25519PrivateKey.generate()
    token = pv.sign_passport(forger, kid, claims())
    with pytest.raises(pv.PassportError, match="does not verify") as info:
        pv.verify_passport(token, jwks)
    assert info.value.reason == "bad_signature"


@pytest.mark.parametrize("over, reason", [
    ({"history_digest": "xyz"}, "invalid_claim"),
    ({"ledger": {"size": "1", "root_hash": "a" * 64}}, "invalid_claim"),
    ({"iat": "yesterday"}, "invalid_claim"),
])
def test_bad_claims(key, over, reason) -> None:  # type: ignore[no-untyped-def]
    kid, private, jwks = key
    with pytest.raises(pv.PassportError) as info:
        pv.verify_passport(pv.sign_passport(private, kid, claims(**over)), jwks)
    assert info.value.reason == reason


def test_missing_claim_subject_and_issuer(key) -> None:  # type: ignore[no-untyped-def]
    kid, private, jwks = key
    partial = claims()
    del partial["ledger"]
    with pytest.raises(pv.PassportError, match="ledger") as info:
        pv.verify_passport(pv.sign_passport(private, kid, partial), jwks)
    assert info.value.reason == "missing_claim"
    token = pv.sign_passport(private, kid, claims())
    with pytest.raises(pv.PassportError) as info:
        pv.verify_passport(token, jwks, expected_sub="CN10000000012603A13B00000002X")
    assert info.value.reason == "wrong_subject"
    with pytest.raises(pv.PassportError) as info:
        pv.verify_passport(token, jwks, expected_iss="robopass.de/ledger")
    assert info.value.reason == "wrong_issuer"


def test_bad_jwks(key) -> None:  # type: ignore[no-untyped-def]
    kid, private, _ = key
    token = pv.sign_passport(private, kid, claims())
    for jwks, reason in (({}, "bad_jwks"), ({"keys": [{"kid": kid, "kty": "RSA"}]}, "bad_jwks")):
        with pytest.raises(pv.PassportError) as info:
            pv.verify_passport(token, jwks)
        assert info.value.reason == reason


def test_history_digest_definition() -> None:
    summaries = [{"type": "manufactured", "at": "2026-03-10T08:00:00Z", "ledger_index": 3,
                  "corrected": False}]
    expected = ('[{"at":"2026-03-10T08:00:00Z","corrected":false,"ledger_index":3,'
                '"type":"manufactured"}]')
    import hashlib

    assert pv.history_digest(summaries) == hashlib.sha256(expected.encode()).hexdigest()
    assert pv.history_digest([]) == hashlib.sha256(b"[]").hexdigest()
    pv.verify_history({"history_digest": pv.history_digest(summaries)}, summaries)
    changed = [{**summaries[0], "type": "sold"}]
    with pytest.raises(pv.PassportError) as info:
        pv.verify_history({"history_digest": pv.history_digest(summaries)}, changed)
    assert info.value.reason == "history_mismatch"


def test_module_is_pure() -> None:
    import subprocess
    import sys

    code = ("import sys, robopass.passports.verify; bad = [m for m in sys.modules if "
            "m.startswith(('sqlalchemy', 'fastapi', 'starlette', 'robopass.db'))]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
