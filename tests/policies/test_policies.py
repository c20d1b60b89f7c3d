"""Scenario policies as data (SPEC §14): public, versioned, ledgered, judged at deployment."""

from __future__ import annotations

from tests.utils.api import ApiClient
from tests.utils.regulation import FACTORY, WUHAN, put_policy, sold_units


def test_defaults_are_public_and_stricter_for_people(client: ApiClient) -> None:
    r = client.get("/api/v1/policies")
    assert r.status_code == 200
    body = r.json()
    assert len(body["scenarios"]) == 8
    rules = {p["scenario"]: p["rules"] for p in body["policies"] if p["province"] is None}
    assert set(rules) == set(body["scenarios"])
    for strict in ("public_space", "healthcare", "eldercare"):
        assert rules[strict]["min_level"] >= 3
        assert rules[strict]["max_telemetry_interval_s"] < \
            rules["industrial"]["max_telemetry_interval_s"]
        assert "min_level" not in rules["industrial"]


def test_each_put_is_a_new_ledgered_version_kept_forever(client: ApiClient) -> None:
    size = client.get("/api/v1/ledger/head").json()["size"]
    v2 = put_policy(client, "logistics", {"min_level": 2, "max_telemetry_interval_s": 120})
    assert v2["version"] == 2 and v2["rules"]["min_level"] == 2
    assert v2["ledger_index"] == size and v2["effective_from"]
    v3 = put_policy(client, "logistics", {"max_telemetry_interval_s": 60})
    assert v3["version"] == 3 and v3["ledger_index"] == size + 1
    versions = client.get("/api/v1/policies/logistics/versions").json()["versions"]
    assert [v["version"] for v in versions] == [1, 2, 3]
    assert versions[1]["rules"] == {"min_level": 2, "max_telemetry_interval_s": 120}
    decisions = client.get("/api/v1/decisions?action=policy_set", client.regulator).json()
    assert [d["ledger_index"] for d in decisions] == [size + 1, size]  # newest first
    assert decisions[0]["object_id"] == "logistics" and decisions[0]["reason"] == "test"
    current = {p["scenario"]: p for p in client.get("/api/v1/policies").json()["policies"]
               if p["province"] is None}
    assert current["logistics"]["version"] == 3


def test_only_a_regulator_sets_policies_and_rules_are_checked(client: ApiClient) -> None:
    maker = client.org("manufacturer")
    put_policy(client, "industrial", {"min_level": 2}, org=maker, expect=403)
    bad = put_policy(client, "industrial", {"min_level": 9}, expect=422)
    assert bad["error"]["field"] == "rules.min_level"
    bad = put_policy(client, "industrial", {"speed_limit": 1}, expect=422)
    assert bad["error"]["code"] == "invalid_rules"
    put_policy(client, "underwater", {}, expect=404)


def test_a_province_may_tighten_never_loosen(client: ApiClient) -> None:
    hubei = client.org("regulator", scope_province="420000")
    put_policy(client, "commercial_service", {"min_level": 2,
                                              "requires_evaluation_within_days": 730})
    loose = put_policy(client, "commercial_service", {"min_level": 1}, org=hubei, expect=409)
    assert loose["error"]["code"] == "policy_looser_than_national"
    tight = put_policy(client, "commercial_service",
                       {"min_level": 3, "requires_evaluation_within_days": 365}, org=hubei)
    assert tight["province"] == "420000" and tight["version"] == 1
    put_policy(client, "commercial_service", {"min_level": 4,
                                              "requires_evaluation_within_days": 365},
               org=hubei, province="110000", expect=403)


def test_a_deployment_breaking_the_policy_is_refused_and_recorded(client: ApiClient) -> None:
    _maker, operator, codes = sold_units(client, 2)
    r = client.post(f"/api/v1/robots/{codes[0]}/events",
                    {"type": "deployed", "details": WUHAN}, operator)
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "policy_violation" and error["rule"] == "min_level"
    assert error["policy_version"] == 1 and error["scenario"] == "public_space"
    attempts = client.get("/api/v1/refused-attempts", client.regulator).json()["attempts"]
    assert [a["error_code"] for a in attempts] == ["policy_violation"]
    # the same unit is fine in a factory, and the deployment records where and what for
    deployed = client.event(operator, codes[0], "deployed", details=FACTORY)
    assert deployed["details"]["scenario"] == "industrial"
    assert deployed["details"]["policy_version"] == 1
    robot = client.get(f"/api/v1/robots/{codes[0]}", operator).json()
    assert robot["status"] == "in_service" and robot["city"] == "440300"
    # a newer, looser public-space policy admits it (judged by the version in force)
    put_policy(client, "public_space", {"max_telemetry_interval_s": 60})
    ok = client.event(operator, codes[1], "deployed", details=WUHAN)
    assert ok["details"]["policy_version"] == 2


def test_a_provincial_tightening_judges_deployments_there(client: ApiClient) -> None:
    _maker, operator, codes = sold_units(client, 1, hardware_class="U")
    hubei = client.org("regulator", scope_province="420000")
    put_policy(client, "industrial", {"allowed_hardware_classes": ["B", "W"],
                                      "max_telemetry_interval_s": 600}, org=hubei)
    in_hubei = {"scenario": "industrial", "province": "420000", "city": "420100"}
    r = client.post(f"/api/v1/robots/{codes[0]}/events",
                    {"type": "deployed", "details": in_hubei}, operator)
    assert r.status_code == 409
    assert r.json()["error"]["rule"] == "allowed_hardware_classes"
    client.event(operator, codes[0], "deployed", details=FACTORY)  # Guangdong: national only
