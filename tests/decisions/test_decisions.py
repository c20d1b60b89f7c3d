"""Decision history: records, ledger leaves, visibility and `ledger verify` (SPEC §13)."""

from __future__ import annotations

import json

from sqlalchemy import text
from typer.testing import CliRunner

from robopass.canonical import canonical_json, sha256_hex
from robopass.cli import app
from robopass.db import writing
from tests.conftest import Registry
from tests.utils.api import ApiClient, model_body


def test_every_model_decision_is_recorded_and_ledgered(client: ApiClient,
                                                       registry: Registry) -> None:
    maker, other = client.org("manufacturer"), client.org("manufacturer")
    model_id = client.approved_model(maker)
    reg = client.regulator
    client.post(f"/api/v1/models/{model_id}/suspend", {"reason": "defect"}, reg)
    client.post(f"/api/v1/models/{model_id}/revoke", {"reason": "not fixed"}, reg)
    mine = client.get(f"/api/v1/decisions?object_id={model_id}", maker).json()
    assert [d["action"] for d in mine] == ["model.revoke", "model.suspend", "model.approve"]
    assert mine[0]["before"]["status"] == "suspended" and mine[0]["after"]["status"] == "revoked"
    assert mine[0]["actor_name"].startswith("National Robot Registry")
    assert client.get(f"/api/v1/decisions?object_id={model_id}", other).json() == []
    only = client.get("/api/v1/decisions?action=model.suspend", reg).json()
    assert [d["object_id"] for d in only] == [model_id]
    assert client.get("/api/v1/decisions?from=2999-01-01T00:00:00Z", reg).json() == []
    r = client.get("/api/v1/decisions?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", reg)
    assert r.status_code == 422 and r.json()["error"]["field"] == "to"
    assert client.get("/api/v1/decisions").status_code == 401
    # the ledger leaf: public record {kind, code, type, at, id, digest}, code empty
    index = mine[0]["ledger_index"]
    entry = client.get(f"/api/v1/ledger/entries?start={index}&end={index + 1}").json()
    leaf = json.loads(entry["entries"][0]["leaf"])
    assert leaf["kind"] == "decision" and leaf["code"] == "" and leaf["type"] == "model.revoke"
    assert leaf["id"] == mine[0]["id"]
    record = {k: mine[0][k] for k in ("id", "at", "actor_id", "actor_name", "action",
                                      "object_type", "object_id", "before", "after", "reason",
                                      "request_id")}
    record["at"] = leaf["at"]
    assert sha256_hex(canonical_json(record)) == leaf["digest"]
    result = CliRunner().invoke(app, ["ledger", "verify", "--db", registry.url])
    assert result.exit_code == 0, result.output


def test_ledger_verify_detects_a_changed_or_unledgered_decision(client: ApiClient,
                                                                registry: Registry) -> None:
    maker = client.org("manufacturer")
    model_id = client.approved_model(maker)
    with writing(registry.url) as session:
        session.execute(text("UPDATE decisions SET reason = 'rewritten' "
                             "WHERE object_id = :m"), {"m": model_id})
    result = CliRunner().invoke(app, ["ledger", "verify", "--db", registry.url])
    assert result.exit_code == 1 and "no longer matches" in result.output, result.output
    with writing(registry.url) as session:
        session.execute(text("UPDATE decisions SET reason = NULL WHERE object_id = :m"),
                        {"m": model_id})
        session.execute(text(
            "INSERT INTO decisions (id, at, actor_id, actor_name, action, object_type, "
            "object_id, ledger_index, code) VALUES ('dec_forged', '2026-01-01 00:00:00', "
            "'x', 'x', 'model.approve', 'model', 'm', 99999, '')"))
    result = CliRunner().invoke(app, ["ledger", "verify", "--db", registry.url])
    assert result.exit_code == 1 and "outside the ledger" in result.output, result.output


def test_a_refused_decision_writes_nothing(client: ApiClient) -> None:
    maker = client.org("manufacturer")
    model_id = client.post("/api/v1/models", model_body(), maker).json()["id"]
    before = client.ledger_size()
    r = client.post(f"/api/v1/models/{model_id}/approve", None, client.regulator)
    assert r.status_code == 409
    assert client.ledger_size() == before
    assert client.get(f"/api/v1/decisions?object_id={model_id}", client.regulator).json() == []
