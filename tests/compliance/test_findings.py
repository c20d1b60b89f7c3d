"""The compliance scan opens and resolves findings by itself (SPEC §14)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.pilots.test_pilots import open_pilot
from tests.utils.api import ApiClient, Org
from tests.utils.regulation import FACTORY, WUHAN, put_policy, sold_units


def scan(client: ApiClient) -> dict[str, Any]:
    r = client.post("/api/v1/compliance/scan", None, client.regulator)
    assert r.status_code == 200, r.text
    return dict(r.json())


def findings(client: ApiClient, org: Org | None = None, **query: str) -> list[dict[str, Any]]:
    r = client.get("/api/v1/compliance/findings", org or client.regulator, params=query)
    assert r.status_code == 200, r.text
    return list(r.json()["findings"])


def ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_silent_unit_gets_a_telemetry_gap_that_a_reading_resolves(client: ApiClient) -> None:
    _maker, operator, codes = sold_units(client, 2)
    for code in codes:  # deployed an hour ago; industrial asks for a reading every 600 s
        client.event(operator, code, "deployed", details=FACTORY, at=ago(hours=1))
    r = client.post("/api/v1/telemetry", [{"code": codes[1], "at": ago(seconds=30),
                                            "metrics": {"battery_soh": 95.0}}], operator)
    assert r.status_code == 200 and r.json()["stored"] == 1, r.text
    report = scan(client)
    assert report["opened"] == 1 and report["open_by_kind"] == {"telemetry_gap": 1}
    [gap] = findings(client, kind="telemetry_gap", open="true")
    assert gap["code"] == codes[0] and gap["resolved_at"] is None
    assert gap["scenario"] == "industrial" and gap["province"] == "440000"
    assert gap["policy_version"] == 1 and "600 s" in gap["detail"]
    assert scan(client)["opened"] == 0  # idempotent
    client.post("/api/v1/telemetry", [{"code": codes[0], "at": ago(seconds=10),
                                       "metrics": {"battery_soh": 90.0}}], operator)
    assert scan(client)["resolved"] == 1
    [resolved] = findings(client, kind="telemetry_gap")
    assert resolved["id"] == gap["id"] and resolved["resolved_at"] is not None
    assert findings(client, open="true") == []


def test_a_newer_policy_version_finds_units_that_no_longer_meet_it(client: ApiClient) -> None:
    _maker, operator, codes = sold_units(client, 1)
    client.event(operator, codes[0], "deployed", details=FACTORY)
    assert scan(client)["opened"] == 0
    put_policy(client, "industrial", {"min_level": 3, "max_telemetry_interval_s": 600})
    scan(client)
    [changed] = findings(client, kind="policy_changed", open="true")
    assert changed["policy_version"] == 2 and changed["detail"].startswith("min_level")
    put_policy(client, "industrial", {"required_certifications": ["ISO 10218-1"]})
    report = scan(client)  # still broken, by another rule: the finding stays open
    assert report["opened"] == 0 and report["resolved"] == 0
    put_policy(client, "industrial", {"required_certifications": ["ISO 13482"],
                                      "requires_evaluation_within_days": 365})
    assert scan(client)["resolved"] == 1  # the evaluation's ISO 13482:2014 test counts


def test_unapproved_firmware_is_found_until_an_approved_build_runs(client: ApiClient) -> None:
    software = {"name": "MotionOS", "version": "2.4.1", "ai_stack": "VLA-7B",
                "builds": [{"version": "2.4.1"}, {"version": "2.5.0"}]}
    maker, operator, codes = sold_units(client, 1, software=software)
    client.event(operator, codes[0], "deployed", details=FACTORY)
    client.event(maker, codes[0], "firmware_updated", details={"firmware": "2.6.0-dev"})
    scan(client)
    [bad] = findings(client, kind="unapproved_software", open="true")
    assert "2.6.0-dev" in bad["detail"]
    client.event(maker, codes[0], "firmware_updated", details={"firmware": "2.5.0"})
    assert scan(client)["resolved"] == 1


def test_units_of_an_ended_pilot_are_found(client: ApiClient) -> None:
    _maker, operator, codes = sold_units(client, 1)
    pilot = open_pilot(client, [operator.id], rules={})
    client.event(operator, codes[0], "deployed", details=WUHAN)
    assert scan(client)["opened"] == 0
    r = client.post(f"/api/v1/pilots/{pilot['id']}/end", {"reason": "pilot closed"},
                    client.regulator)
    assert r.status_code == 200
    scan(client)
    [ended] = findings(client, kind="pilot_ended", open="true")
    assert pilot["id"] in ended["detail"] and ended["code"] == codes[0]


def test_findings_are_read_through_the_gate_and_notify(client: ApiClient) -> None:
    maker, operator, codes = sold_units(client, 1)
    client.event(operator, codes[0], "deployed", details=FACTORY, at=ago(hours=2))
    scan(client)
    assert len(findings(client, operator)) == 1
    assert len(findings(client, maker)) == 1
    assert findings(client, client.org("operator")) == []
    assert findings(client, client.org("regulator", scope_province="110000")) == []
    assert len(findings(client, client.org("regulator", scope_province="440000"))) == 1
    assert findings(client, scenario="healthcare") == []
    assert len(findings(client, province="440000")) == 1
    r = client.get("/api/v1/compliance/findings", operator, params={"kind": "nonsense"})
    assert r.status_code == 422
    assert client.post("/api/v1/compliance/scan", None, operator).status_code == 403
    notes = client.get("/api/v1/notifications", operator,
                       params={"topic": "compliance_finding"}).json()
    items = notes.get("notifications", notes)
    assert len(items) == 1 and items[0]["payload"]["by_kind"] == {"telemetry_gap": 1}
