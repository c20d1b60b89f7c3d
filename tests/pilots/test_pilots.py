"""Pilot programmes (SPEC §14)."""

from __future__ import annotations

from typing import Any

from tests.utils.api import ApiClient, Org
from tests.utils.regulation import WUHAN, sold_units


def pilot_body(participants: list[str], **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Wuhan public-space guide robots", "scenario": "public_space",
        "provinces": ["420000"], "starts": "2026-01-01T00:00:00Z",
        "ends": "2027-12-31T00:00:00Z", "participants": participants,
        "rules": {"allowed_hardware_classes": ["B", "W"], "max_telemetry_interval_s": 120},
        "reason": "pilot of guide robots in Wuhan's metro stations"}
    body.update(over)
    return body


def open_pilot(client: ApiClient, participants: list[str], org: Org | None = None,
               expect: int = 201, **over: Any) -> Any:
    r = client.post("/api/v1/pilots", pilot_body(participants, **over), org or client.regulator)
    assert r.status_code == expect, r.text
    return r.json()


def test_a_participants_deployment_is_judged_by_the_pilot(client: ApiClient) -> None:
    _maker, operator, codes = sold_units(client, 2)
    created = open_pilot(client, [operator.id])
    assert created["id"].startswith("pilot") and created["ledger_index"] >= 0
    deployed = client.event(operator, codes[0], "deployed", details=WUHAN)
    assert deployed["details"]["pilot_id"] == created["id"]
    pilot = client.get(f"/api/v1/pilots/{created['id']}").json()
    assert pilot["running"] and pilot["units_in_service"] == 1
    # outside the pilot's provinces the national policy applies (level 0 < 3: refused)
    r = client.post(f"/api/v1/robots/{codes[1]}/events", {"type": "deployed", "details": {
        "scenario": "public_space", "province": "110000", "city": "110100"}}, operator)
    assert r.status_code == 409 and r.json()["error"]["rule"] == "min_level"


def test_the_pilots_rules_refuse_too_and_non_participants_get_the_policy(
        client: ApiClient) -> None:
    _maker, operator, codes = sold_units(client, 1, hardware_class="U")
    created = open_pilot(client, [operator.id])
    r = client.post(f"/api/v1/robots/{codes[0]}/events",
                    {"type": "deployed", "details": WUHAN}, operator)
    assert r.status_code == 409
    error = r.json()["error"]
    assert error["rule"] == "allowed_hardware_classes" and error["pilot_id"] == created["id"]
    _m, outsider, others = sold_units(client, 1)
    r = client.post(f"/api/v1/robots/{others[0]}/events",
                    {"type": "deployed", "details": WUHAN}, outsider)
    assert r.status_code == 409 and "pilot_id" not in r.json()["error"]


def test_who_opens_and_ends_pilots(client: ApiClient) -> None:
    operator = client.org("operator")
    hubei = client.org("regulator", scope_province="420000")
    beijing = client.org("regulator", scope_province="110000")
    open_pilot(client, [operator.id], org=operator, expect=403)
    open_pilot(client, [operator.id], org=beijing, expect=403)
    mine = open_pilot(client, [operator.id], org=hubei)
    bad = open_pilot(client, ["org_nobody"], expect=422)
    assert bad["error"]["field"] == "participants[0]"
    open_pilot(client, [operator.id], expect=422, ends="2025-01-01T00:00:00Z")
    r = client.post(f"/api/v1/pilots/{mine['id']}/end", {"reason": "done"}, beijing)
    assert r.status_code == 403
    r = client.post(f"/api/v1/pilots/{mine['id']}/end", {"reason": "evaluation complete"},
                    hubei)
    assert r.status_code == 200 and r.json()["ended_at"] and not r.json()["running"]
    r = client.post(f"/api/v1/pilots/{mine['id']}/end", {"reason": "again"}, hubei)
    assert r.status_code == 409
    listed = client.get("/api/v1/pilots").json()["pilots"]
    assert [p["id"] for p in listed] == [mine["id"]]
