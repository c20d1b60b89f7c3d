"""`robopass policy`, `robopass pilot` and `robopass compliance` call the same services as the
API (SPEC §14)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from robopass.cli import app
from tests.compliance.test_findings import ago
from tests.utils.api import ApiClient
from tests.utils.regulation import FACTORY, sold_units


def run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return str(result.stdout)


def test_policy_pilot_and_scan_from_the_command_line(client: ApiClient) -> None:
    url = client.registry.url
    listed = json.loads(run("policy", "list", "--db", url))
    assert {p["scenario"] for p in listed} >= {"industrial", "eldercare"}
    set_ = json.loads(run("policy", "set", "logistics", "--db", url, "--rules",
                          '{"min_level": 2}', "--reason", "warehouse incidents"))
    assert set_["version"] == 2 and set_["ledger_index"] is not None
    versions = json.loads(run("policy", "show", "logistics", "--db", url))
    assert [v["version"] for v in versions] == [1, 2]
    bad = CliRunner().invoke(app, ["policy", "set", "logistics", "--db", url, "--rules",
                                   '{"min_level": 7}', "--reason", "x"])
    assert bad.exit_code == 1
    _maker, operator, codes = sold_units(client, 1)
    opened = json.loads(run("pilot", "open", "--db", url, "--name", "Shenzhen logistics",
                            "--scenario", "logistics", "--province", "440000",
                            "--starts", "2026-01-01", "--ends", "2027-01-01",
                            "--participant", operator.id, "--reason", "trial"))
    assert opened["running"] and opened["provinces"] == ["440000"]
    client.event(operator, codes[0], "deployed", at=ago(hours=1),
                 details={**FACTORY, "scenario": "logistics"})
    report = json.loads(run("compliance", "scan", "--db", url).strip().splitlines()[-1])
    assert report["opened"] == 0  # the pilot states no reporting interval
    ended = json.loads(run("pilot", "end", opened["id"], "--db", url, "--reason", "over"))
    assert ended["ended_at"]
    report = json.loads(run("compliance", "scan", "--db", url).strip().splitlines()[-1])
    assert report["open_by_kind"] == {"pilot_ended": 1}
    lines = run("compliance", "findings", "--db", url).strip().splitlines()
    assert [json.loads(line)["kind"] for line in lines] == ["pilot_ended"]
