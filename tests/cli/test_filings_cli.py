"""`robopass filings`: the same services and refusals as the API (SPEC §13)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from robopass.cli import app
from tests.utils.api import ApiClient, model_body


def _run(client: ApiClient, key: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["filings", *args, "--db", client.registry.url,
                                      "--key", key])
    return result.exit_code, result.output


def test_accredit_evaluate_approve_and_history_from_the_cli(client: ApiClient) -> None:
    reg = client.registry.regulator_key
    maker, lab = client.org("manufacturer"), client.org("testing_lab")
    model_id = client.post("/api/v1/models", model_body(intelligence_level=4), maker).json()["id"]
    code, out = _run(client, lab.key, "evaluate", model_id, "--grades", "4,4,3,4",
                     "--overall", "4", "--safety", "ISO 13482:2014=pass",
                     "--report-sha256", "cd" * 32, "--valid-until", "2030-01-01")
    assert code == 1 and "not_accredited" in out, out  # not yet accredited
    code, out = _run(client, reg, "accredit", lab.id, "--scope", "intelligence", "--scope",
                     "safety", "--until", "2030-12-31")
    assert code == 0, out
    assert json.loads(out)["accreditation_scopes"] == ["intelligence", "safety"]
    code, out = _run(client, lab.key, "evaluate", model_id, "--grades", "4,4,3,4",
                     "--overall", "4", "--safety", "ISO 13482:2014=pass",
                     "--report-sha256", "cd" * 32, "--valid-until", "2030-01-01")
    assert code == 0 and json.loads(out)["overall"] == 4, out
    code, out = _run(client, reg, "decide", model_id, "approve")
    assert code == 0 and json.loads(out)["evaluated_level"] == 4, out
    code, out = _run(client, maker.key, "decisions", "--object-id", model_id, "--json")
    assert code == 0, out
    assert [json.loads(line)["action"] for line in out.splitlines()] == ["model.approve"]


def test_a_suspended_organisation_writes_nothing_from_the_cli(client: ApiClient) -> None:
    reg = client.registry.regulator_key
    maker = client.org("manufacturer")
    model_id = client.approved_model(maker)
    code, out = _run(client, reg, "org-status", maker.id, "suspend", "--reason", "audit")
    assert code == 0 and json.loads(out)["status"] == "suspended", out
    before = client.ledger_size()
    code, out = _run(client, maker.key, "amend", model_id, "--changes",
                     '{"parameters": {"payload_kg": 9}}', "--reason", "x")
    assert code == 1 and "organization_suspended" in out, out
    assert client.ledger_size() == before
    code, out = _run(client, maker.key, "decisions", "--json")  # reading goes on
    assert code == 0 and "organization.suspend" in out, out
