"""``/api/v1/stats/*``: regulator-only aggregates, provincial scope, cache freshness."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from robopass.stats import service as stats
from tests.telemetry.conftest import ts
from tests.utils.api import ApiClient, Org, model_body


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    stats.clear_cache()
    yield
    stats.clear_cache()


def deploy(client: ApiClient, maker: Org, operator: Org, code: str, province: str) -> None:
    client.event(maker, code, "manufactured", at="2026-03-10T08:00:00Z")
    client.event(maker, code, "sold", at="2026-03-11T08:00:00Z", to_organization=operator.id)
    client.event(operator, code, "deployed", at="2026-03-12T08:00:00Z",
                 details={"province": province, "city": province[:2] + "0100"})


def build(client: ApiClient) -> dict[str, object]:
    bj_maker = client.org("manufacturer", province="110000")
    gd_maker = client.org("manufacturer", province="440000")
    operator = client.org("operator")
    bj_model = client.approved_model(bj_maker)
    gd_model = client.approved_model(gd_maker)
    bj_codes = client.codes(bj_maker, bj_model, 3)
    gd_codes = client.codes(gd_maker, gd_model, 2)
    for code in bj_codes[:2]:
        deploy(client, bj_maker, operator, code, "110000")
    deploy(client, gd_maker, operator, gd_codes[0], "440000")
    pending = client.post("/api/v1/models", model_body("Queued Q1"), gd_maker).json()["id"]
    return {"bj_maker": bj_maker, "gd_maker": gd_maker, "operator": operator,
            "bj_codes": bj_codes, "gd_codes": gd_codes, "pending": pending}


def test_overview_counts_and_refusals(client: ApiClient) -> None:
    world = build(client)
    r = client.get("/api/v1/stats/overview", client.regulator)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["units"]["total"] == 5
    assert body["units"]["by_status"]["in_service"] == 3
    assert body["units"]["by_status"]["coded"] == 2
    provinces = {p["code"]: p["units"] for p in body["units"]["by_province"]}
    assert provinces == {"110000": 2, "440000": 1, None: 2}
    names = {p["code"]: p["name_zh"] for p in body["units"]["by_province"]}
    assert names["110000"] == "北京市"
    assert body["models"]["by_status"]["approved"] == 2
    assert [m["id"] for m in body["approval_queue"]] == [world["pending"]]
    assert sum(m["count"] for m in body["codes_per_month"]) == 5
    assert {m["units"] for m in body["units"]["by_manufacturer"]} == {3, 2}
    assert body["organizations"]["by_role"]["manufacturer"] == 2
    # not for anyone else; no key at all
    for org in (world["bj_maker"], world["operator"]):
        assert client.get("/api/v1/stats/overview", org).status_code == 403  # type: ignore[arg-type]
    assert client.get("/api/v1/stats/supply-chain").status_code == 401
    assert client.get("/api/v1/stats/overview?province=abc", client.regulator).status_code == 422


def test_cached_figures_follow_every_write(client: ApiClient) -> None:
    world = build(client)
    before = client.get("/api/v1/stats/overview", client.regulator).json()
    assert before["models"]["by_status"]["submitted"] == 1
    r = client.post(f"/api/v1/models/{world['pending']}/approve", None, client.regulator)
    assert r.status_code == 200
    after = client.get("/api/v1/stats/overview", client.regulator).json()
    assert after["models"]["by_status"]["submitted"] == 0
    assert after["approval_queue"] == []
    client.event(world["bj_maker"], world["bj_codes"][2], "manufactured",  # type: ignore[index,arg-type]
                 at="2026-03-10T08:00:00Z")
    again = client.get("/api/v1/stats/overview", client.regulator).json()
    assert again["units"]["by_status"]["manufactured"] == before["units"]["by_status"][
        "manufactured"] + 1


def test_provincial_regulator_sees_only_its_province(client: ApiClient) -> None:
    world = build(client)
    gd_reg = client.org("regulator", scope_province="440000")
    body = client.get("/api/v1/stats/overview", gd_reg).json()
    assert body["scope"]["province"] == "440000"
    assert body["units"]["total"] == 1
    assert [p["code"] for p in body["units"]["by_province"]] == ["440000"]
    assert [m["id"] for m in body["units"]["by_manufacturer"]] == [world["gd_maker"].id]  # type: ignore[attr-defined]
    assert [m["id"] for m in body["approval_queue"]] == [world["pending"]]
    # asking for another province changes nothing: the scope wins
    other = client.get("/api/v1/stats/overview?province=110000", gd_reg).json()
    assert other["units"]["total"] == 1
    bj_reg = client.org("regulator", scope_province="110000")
    bj = client.get("/api/v1/stats/overview", bj_reg).json()
    assert bj["units"]["total"] == 2 and bj["approval_queue"] == []
    assert client.get("/api/v1/stats/supply-chain", gd_reg).json()["scope"]["province"] == \
        "440000"


def test_supply_chain_concentration(client: ApiClient) -> None:
    maker = client.org("manufacturer")
    big = client.org("component_supplier", country="JP", registration_number="JP-1")
    small = client.org("component_supplier")
    model_id = client.approved_model(maker)
    codes = client.codes(maker, model_id, 4)
    for n, code in enumerate(codes):
        supplier = big if n < 3 else small
        client.event(maker, code, "manufactured", at="2026-03-10T08:00:00Z", details={
            "components": [{"type": "battery_pack", "serial": f"BP{n}",
                            "supplier_id": supplier.id, "batch": "B1"},
                           {"type": "joint_actuator", "serial": f"JA{n}", "supplier_id": big.id}]})
    r = client.get("/api/v1/stats/supply-chain", client.regulator)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["units_with_components"] == 4
    types = {t["component_type"]: t for t in body["component_types"]}
    assert types["battery_pack"]["hhi"] == round((0.75 ** 2 + 0.25 ** 2) * 10_000)
    assert types["battery_pack"]["top_supplier_share"] == 0.75
    assert types["joint_actuator"]["hhi"] == 10_000
    assert {c["country"]: c["units"] for c in types["battery_pack"]["by_country"]} == \
        {"JP": 3, "CN": 1}
    top = body["critical_suppliers"][0]
    assert top["id"] == big.id and top["robots"] == 4 and top["share_of_robots"] == 1.0
    assert top["component_types"] == ["battery_pack", "joint_actuator"]


def test_fleet_health_and_incidents_endpoints(client: ApiClient) -> None:
    world = build(client)
    code = world["bj_codes"][0]  # type: ignore[index]
    operator = world["operator"]
    r = client.post("/api/v1/telemetry", [{"code": code, "at": ts(5),
                                           "metrics": {"battery_soh": 55.0}}], operator)  # type: ignore[arg-type]
    assert r.status_code in (200, 201) and r.json()["stored"] == 1, r.text
    health = client.get("/api/v1/stats/fleet-health", client.regulator).json()
    assert health["units"] == 1
    assert health["battery_soh"]["buckets"][5]["count"] == 1
    assert client.get("/api/v1/stats/fleet-health", operator).status_code == 403  # type: ignore[arg-type]
    r = client.post("/api/v1/incidents", {"code": code, "at": ts(1),
                                          "type": "malfunction", "severity": "major",
                                          "description": "arm stopped"}, operator)  # type: ignore[arg-type]
    assert r.status_code == 201, r.text
    inc = client.get("/api/v1/stats/incidents", client.regulator).json()
    assert inc["by_severity"]["major"] == 1
    assert inc["responsibility"]["sampled"] == 1
    assert sum(inc["responsibility"]["by_party"].values()) == 1


def test_fraud_alerts_are_counted(client: ApiClient) -> None:
    maker, code = client.manufactured_unit()
    recycler = client.org("recycler")
    client.event(maker, code, "decommissioned", at="2026-03-11T08:00:00Z",
                 to_organization=recycler.id)
    client.event(recycler, code, "scrapped", at="2026-03-12T08:00:00Z")
    client.event(maker, code, "refurbished", expect=409, at="2026-03-13T08:00:00Z")
    body = client.get("/api/v1/stats/overview", client.regulator).json()
    assert body["fraud_alerts"]["by_group"]["resale_of_scrapped"] == 1
    assert body["fraud_alerts"]["recent"][0]["code"] == code
