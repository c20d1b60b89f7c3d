"""GET /api/v1/robots/{code}/passport, the JWKS, key rotation and `robopass passport verify`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from robopass.cli import app
from robopass.passports.verify import decode_unverified, history_digest, verify_passport

runner = CliRunner()


def test_passport_claims_are_public_tier_and_verify(client) -> None:  # type: ignore[no-untyped-def]
    maker, code = client.manufactured_unit()
    buyer = client.org("operator")
    client.event(maker, code, "sold", to_organization=buyer.id, at="2026-03-11T08:00:00Z")
    r = client.get(f"/api/v1/robots/{code}/passport")
    assert r.status_code == 200, r.text
    body = r.json()
    jwks = client.get("/.well-known/jwks.json").json()
    claims = verify_passport(body["passport"], jwks, expected_sub=code)
    header, _ = decode_unverified(body["passport"])
    assert header["alg"] == "EdDSA" and header["kid"] in {k["kid"] for k in jwks["keys"]}
    head = client.get("/api/v1/ledger/head").json()
    assert claims["iss"] == head["origin"] and claims["sub"] == code
    assert claims["ledger"] == {"size": head["size"], "root_hash": head["root_hash"]}
    assert claims["status"] == "sold" and claims["registry"] == "CN"
    assert claims["model"]["status"] == "approved" and claims["open_recalls"] == []
    assert claims["summary"]["owners"] == 1
    assert [h["type"] for h in body["history"]] == ["manufactured", "sold"]
    assert claims["history_digest"] == history_digest(body["history"])
    text = json.dumps(claims)
    # public tier only: no owner, operator, location, firmware or ids of organisations
    for secret in (buyer.id, maker.id, '"owner"', '"operator"', '"province"', '"firmware"'):
        assert secret not in text
    # the same passport for an authenticated caller: still public tier
    authed = client.get(f"/api/v1/robots/{code}/passport", buyer).json()
    assert '"owner"' not in json.dumps(decode_unverified(authed["passport"])[1])


def test_passport_bad_input(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/robots/NOT-A-CODE/passport")
    assert r.status_code == 422 and r.json()["error"]["field"] == "code"
    r = client.get("/api/v1/robots/CN10000000012603A13B00000001V/passport")
    assert r.status_code == 404 and r.json()["error"]["code"] == "unit_not_found"


def test_rotation_keeps_old_passports_valid_and_cli(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, code = client.manufactured_unit()
    old = client.get(f"/api/v1/robots/{code}/passport").json()
    old_kid = decode_unverified(old["passport"])[0]["kid"]
    result = runner.invoke(app, ["keys", "rotate", "--db", client.registry.url, "--json"])
    assert result.exit_code == 0, result.output
    rotated = json.loads(result.output)
    assert rotated["retired"] == [old_kid] and rotated["kid"] != old_kid
    new = client.get(f"/api/v1/robots/{code}/passport").json()
    assert decode_unverified(new["passport"])[0]["kid"] == rotated["kid"]
    jwks = client.get("/.well-known/jwks.json").json()
    retired = [k for k in jwks["keys"] if k["kid"] == old_kid]
    assert retired and "retired_at" in retired[0]
    (tmp_path / "jwks.json").write_text(json.dumps(jwks))
    for name, body in (("old.json", old), ("new.json", new)):
        (tmp_path / name).write_text(json.dumps(body))
        result = runner.invoke(app, ["passport", "verify", str(tmp_path / name), "--jwks",
                                     str(tmp_path / "jwks.json"), "--code", code])
        assert result.exit_code == 0, result.output
        assert "VALID" in result.output and "checked against the event summaries" in result.output
    # a bare compact JWS works too
    (tmp_path / "bare.jws").write_text(old["passport"] + "\n")
    result = runner.invoke(app, ["passport", "verify", str(tmp_path / "bare.jws"), "--jwks",
                                 str(tmp_path / "jwks.json"), "--json"])
    assert result.exit_code == 0 and json.loads(result.output)["claims"]["sub"] == code


def test_cli_rejects_tampered_and_forged(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, code = client.manufactured_unit()
    body = client.get(f"/api/v1/robots/{code}/passport").json()
    (tmp_path / "jwks.json").write_text(json.dumps(client.get("/.well-known/jwks.json").json()))
    header, payload, signature = body["passport"].split(".")
    import base64

    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["status"] = "in_service"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    cases = {
        "tampered.json": ({"passport": f"{header}.{forged}.{signature}"}, "bad_signature"),
        "history.json": ({**body, "history": body["history"] + [
            {"type": "sold", "at": "2026-03-12T00:00:00Z", "ledger_index": 99,
             "corrected": False}]}, "history_mismatch"),
        "garbage.json": ({"passport": "abc"}, "malformed"),
    }
    for name, (content, reason) in cases.items():
        (tmp_path / name).write_text(json.dumps(content))
        result = runner.invoke(app, ["passport", "verify", str(tmp_path / name), "--jwks",
                                     str(tmp_path / "jwks.json")])
        assert result.exit_code == 1, (name, result.output)
        assert f"INVALID ({reason})" in result.output, result.output
    other = {"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "other",
                       "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}
    (tmp_path / "other.json").write_text(json.dumps(other))
    (tmp_path / "ok.json").write_text(json.dumps(body))
    result = runner.invoke(app, ["passport", "verify", str(tmp_path / "ok.json"), "--jwks",
                                 str(tmp_path / "other.json")])
    assert result.exit_code == 1 and "unknown_key" in result.output
    result = runner.invoke(app, ["passport", "verify", str(tmp_path / "missing.json"), "--jwks",
                                 str(tmp_path / "other.json")])
    assert result.exit_code == 2 and "cannot read" in result.output


def test_passport_expires_and_cli_prints_its_age(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import time

    from robopass.passports.verify import PassportError, sign_passport

    _, code = client.manufactured_unit()
    body = client.get(f"/api/v1/robots/{code}/passport").json()
    jwks = client.get("/.well-known/jwks.json").json()
    claims = verify_passport(body["passport"], jwks)
    assert claims["exp"] == claims["iat"] + 86_400
    assert claims["status_list"]["uri"].endswith("/api/v1/status-list")
    (tmp_path / "jwks.json").write_text(json.dumps(jwks))
    (tmp_path / "p.json").write_text(json.dumps(body))
    result = runner.invoke(app, ["passport", "verify", str(tmp_path / "p.json"), "--jwks",
                                 str(tmp_path / "jwks.json")])
    assert result.exit_code == 0, result.output
    assert "issued " in result.output and " ago; passes as current until " in result.output
    # a day later it no longer passes as current
    with pytest.raises(PassportError) as exc:
        verify_passport(body["passport"], jwks, now=time.time() + 86_401)
    assert exc.value.reason == "expired"
    # an old passport (signed two days ago) replays: refused, unless read as a record
    from robopass.db import reading
    from robopass.ledger import keys

    with reading(client.registry.url) as session:
        kid, private = keys.active(session)
    old = dict(claims, iat=claims["iat"] - 2 * 86_400, exp=claims["exp"] - 2 * 86_400)
    (tmp_path / "old.jwt").write_text(sign_passport(private, kid, old))
    result = runner.invoke(app, ["passport", "verify", str(tmp_path / "old.jwt"), "--jwks",
                                 str(tmp_path / "jwks.json")])
    assert result.exit_code == 1 and "expired" in result.output
    result = runner.invoke(app, ["passport", "verify", str(tmp_path / "old.jwt"), "--jwks",
                                 str(tmp_path / "jwks.json"), "--allow-expired"])
    assert result.exit_code == 0 and "EXPIRED" in result.output and "2 d 0 h ago" in result.output
