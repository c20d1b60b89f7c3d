"""Offline label passports (SPEC §16): ``GET /robots/{code}/passport.qr``, decoded here with
libraries other than the encoder's (pycose for COSE, a base45 decoder written from RFC 9285),
and ``robopass passport verify-offline`` against a JWKS and a status list, with no network."""

from __future__ import annotations

import base64
import json
import time
import zlib
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pycose.keys import OKPKey
from pycose.messages import Sign1Message
from typer.testing import CliRunner

from robopass.cli import app
from robopass.ledger import heads
from robopass.passports import offline
from robopass.passports.verify import PassportError

runner = CliRunner()
_B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def b45decode(text: str) -> bytes:
    """RFC 9285 §4.2, written out independently of the ``base45`` package."""
    values = [_B45.index(ch) for ch in text]
    out = bytearray()
    for i in range(0, len(values), 3):
        chunk = values[i:i + 3]
        n = sum(v * 45 ** k for k, v in enumerate(chunk))
        out += n.to_bytes(2 if len(chunk) == 3 else 1, "big")
    return bytes(out)


def independent_decode(text: str, jwks: dict[str, Any]) -> dict[Any, Any]:
    """Verify with pycose and return the CBOR claims (raises on a bad signature)."""
    assert text.startswith("RP1:")
    message = Sign1Message.decode(zlib.decompress(b45decode(text[4:])))
    kid = message.phdr[next(k for k in message.phdr if getattr(k, "identifier", k) == 4)]
    jwk = next(k for k in jwks["keys"] if k["kid"] == kid.decode())
    x = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
    message.key = OKPKey.from_dict({"KTY": "OKP", "CURVE": "ED25519", "X": x})
    assert message.verify_signature()
    return cbor2.loads(message.payload)  # type: ignore[no-any-return]


def _await_status(client, code_index: int, expected: int) -> str:  # type: ignore[no-untyped-def]
    """The status list once it shows ``expected`` at ``code_index`` (it is rebuilt within a
    few seconds of a change); fails after 15 s."""
    from robopass.statuslist import token

    jwks = client.get("/.well-known/jwks.json").json()
    deadline = time.monotonic() + 15
    while True:
        r = client.get("/api/v1/status-list")
        assert r.status_code == 200
        _, array = token.verify(r.text, jwks)
        if token.status_of(array, code_index) == expected or time.monotonic() > deadline:
            assert token.status_of(array, code_index) == expected
            return str(r.text)
        time.sleep(0.2)


def test_passport_qr_decodes_independently_and_verifies_offline(client, tmp_path: Path
                                                                ) -> None:  # type: ignore[no-untyped-def]
    maker, code = client.manufactured_unit()
    r = client.get(f"/api/v1/robots/{code}/passport.qr")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert text.startswith("RP1:") and set(text[4:]) <= set(_B45)
    jwks = client.get("/.well-known/jwks.json").json()
    claims = independent_decode(text, jwks)
    head = client.get("/api/v1/ledger/head").json()
    robot = client.get(f"/api/v1/verify/{code}").json()
    assert claims[1] == head["origin"] and claims[2] == code
    assert abs(claims[6] - time.time()) < 120
    assert claims["mdl"] == {"c": code[6:12], "n": robot["model"]["name"]}
    assert claims["mfr"] == {"n": robot["manufacturer"]["name"], "cc": "CN"}
    assert claims["lvl"] == int(code[18]) and claims["pm"] == "2026-03"
    ref = claims[65535]["status_list"]
    assert isinstance(ref["idx"], int) and ref["uri"].endswith("/api/v1/status-list")
    # the protected header holds alg -8 (EdDSA) and the kid of a JWKS key
    verified = offline.verify_offline(text, jwks)
    assert verified.kid in {k["kid"] for k in jwks["keys"]} and verified.claims["sub"] == code
    assert verified.claims["model"]["name"] == robot["model"]["name"]
    assert verified.claims["production_month"] == "2026-03"
    # the label form: the page URL with the passport as its fragment
    assert offline.verify_offline(f"https://example.org/r/{code}#{text}", jwks).claims[
        "sub"] == code

    (tmp_path / "jwks.json").write_text(json.dumps(jwks))
    status = client.get("/api/v1/status-list").text
    (tmp_path / "status.jwt").write_text(status)
    result = runner.invoke(app, ["passport", "verify-offline", text, "--jwks",
                                 str(tmp_path / "jwks.json"), "--status",
                                 str(tmp_path / "status.jwt")])
    assert result.exit_code == 0, result.output
    assert "GENUINE" in result.output and "status: VALID" in result.output
    assert " ago" in result.output

    # suspended by the regulator: the list says so within seconds; the passport is unchanged
    client.event(client.regulator, code, "suspended")
    (tmp_path / "status.jwt").write_text(_await_status(client, ref["idx"], 2))
    result = runner.invoke(app, ["passport", "verify-offline", text, "--jwks",
                                 str(tmp_path / "jwks.json"), "--status",
                                 str(tmp_path / "status.jwt"), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.output)["status"]["value"] == 2


def test_status_list_values_recall_and_scrapped(client) -> None:  # type: ignore[no-untyped-def]
    maker = client.org("manufacturer")
    recycler = client.org("recycler")
    model_id = client.approved_model(maker)
    codes = client.codes(maker, model_id, 3)
    idx = {}
    jwks = client.get("/.well-known/jwks.json").json()
    for code in codes:
        client.event(maker, code, "manufactured", at="2026-03-10T08:00:00Z")
        idx[code] = offline.verify_offline(client.get(f"/api/v1/robots/{code}/passport.qr").text,
                                           jwks).claims["status"]["status_list"]["idx"]
    assert len(set(idx.values())) == 3  # fixed, distinct indexes
    recalled, scrapped, valid = codes
    r = client.post("/api/v1/recalls", {"reason": "joint defect",
                                        "scope": {"serial_from": recalled,
                                                  "serial_to": recalled}}, maker)
    assert r.status_code == 201, r.text
    _await_status(client, idx[recalled], 3)
    client.event(maker, scrapped, "decommissioned")
    client.event(recycler, scrapped, "scrapped")
    text = _await_status(client, idx[scrapped], 1)
    from robopass.statuslist import token

    payload, array = token.verify(text, jwks)
    assert token.status_of(array, idx[valid]) == 0 and token.status_of(array, idx[recalled]) == 3
    assert payload["ttl"] > 0 and payload["sub"].endswith("/api/v1/status-list")
    # model revoked: every unit of it is invalid
    r = client.post(f"/api/v1/models/{model_id}/revoke", {"reason": "fraud"}, client.regulator)
    assert r.status_code == 200, r.text
    _await_status(client, idx[valid], 1)


def test_tampered_unknown_key_and_rotation() -> None:
    private = Ed25519PrivateKey.generate()
    kid = heads.key_id_for(private.public_key())
    jwks = {"keys": [heads.public_jwk(private.public_key(), kid)]}
    claims = {1: "robopass.cn/ledger", 2: "CN10000000012603A13B00000001V", 6: 1_800_000_000,
              "level": 3, 65535: {"status_list": {"idx": 7, "uri": "https://x/api/v1/status-list"}}}
    text = offline.sign_offline(private, kid, claims)
    assert offline.verify_offline(text, jwks).claims["status"]["status_list"]["idx"] == 7
    # a different body under the same signature: the COSE check fails
    forged = dict(claims)
    forged[2] = "CN10000000012603A13B00000002X"
    other = offline.sign_offline(Ed25519PrivateKey.generate(), kid, forged)
    with pytest.raises(PassportError) as exc:
        offline.verify_offline(other, jwks)
    assert exc.value.reason == "bad_signature"
    # one character changed in the text: never accepted
    for pos in (10, len(text) // 2, len(text) - 3):
        flipped = text[:pos] + ("A" if text[pos] != "A" else "B") + text[pos + 1:]
        with pytest.raises(PassportError):
            offline.verify_offline(flipped, jwks)
    with pytest.raises(PassportError) as exc:
        offline.verify_offline(text, {"keys": []})
    assert exc.value.reason == "unknown_key"
    with pytest.raises(PassportError) as exc:
        offline.verify_offline("https://x/r/CODE", jwks)
    assert exc.value.reason == "malformed"
