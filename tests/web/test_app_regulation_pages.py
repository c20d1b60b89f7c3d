"""Compliance findings, the regulation dashboard, API keys and decision history as pages
(SPEC §9, §13, §14), through the same services and gate as the API, on both databases."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from tests.utils.api import ApiClient
from tests.web.app_helpers import browser_for, csrf_of

from robopass.stats import service as stats


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    stats.clear_cache()
    yield
    stats.clear_cache()


def app_of(client: ApiClient) -> Any:
    return client.raw.app


def post_form(c: Any, name: str, data: dict[str, Any], *, lang: str = "en",
              query: str = "") -> Any:
    page = c.get(f"/app/act/{name}?lang={lang}{query}")
    assert page.status_code == 200, page.text[-500:]
    return c.post(f"/app/act/{name}", data={**data, "csrf_token": csrf_of(page.text)})


def deployed(client: ApiClient, maker: Any, operator: Any, province: str,
             scenario: str = "industrial") -> str:
    """A unit deployed long ago that never reported: the scan opens a telemetry gap."""
    model_id = client.approved_model(maker)
    code = client.codes(maker, model_id, 1)[0]
    client.event(maker, code, "manufactured", at="2026-03-10T08:00:00Z")
    client.event(maker, code, "sold", at="2026-03-11T08:00:00Z", to_organization=operator.id)
    client.event(operator, code, "deployed", at="2026-03-12T08:00:00Z",
                 details={"scenario": scenario, "province": province,
                          "city": province[:2] + "0100"})
    return code


def scan(client: ApiClient) -> None:
    r = client.post("/api/v1/compliance/scan", None, client.regulator)
    assert r.status_code == 200, r.text
    assert r.json()["opened"] >= 1


def test_findings_page_filtered_by_the_compliance_service(client: ApiClient) -> None:
    maker = client.org("manufacturer", province="440000")
    operator = client.org("operator", province="440000")
    stranger = client.org("operator", province="110000")
    gd = deployed(client, maker, operator, "440000", "logistics")
    bj = deployed(client, maker, operator, "110000")
    scan(client)
    app = app_of(client)
    reg = browser_for(app, client.registry.regulator_key)
    page = reg.get("/app/findings")
    assert page.status_code == 200
    assert f'href="/app/units/{gd}"' in page.text and f'href="/app/units/{bj}"' in page.text
    assert 'data-kind="telemetry_gap"' in page.text and "Telemetry gap" in page.text
    only_bj = reg.get("/app/findings?province=110000&kind=telemetry_gap&status=open").text
    assert bj in only_bj and gd not in only_bj
    by_scenario = reg.get("/app/findings?scenario=logistics").text
    assert gd in by_scenario and bj not in by_scenario
    assert "No findings match." in reg.get("/app/findings?status=resolved").text
    assert "遥测中断" in reg.get("/app/findings?lang=zh_CN").text
    # a provincial regulator: its province only, whatever the filter asks
    gd_reg = browser_for(app, client.org("regulator", scope_province="440000").key)
    for path in ("/app/findings", "/app/findings?province=110000"):
        text = gd_reg.get(path).text
        assert gd in text and bj not in text, path
    # the units' operator and manufacturer see them; an unrelated organisation sees none
    for org in (operator, maker):
        assert bj in browser_for(app, org.key).get("/app/findings").text
    text = browser_for(app, stranger.key).get("/app/findings").text
    assert gd not in text and bj not in text and 'data-testid="no-findings"' in text
    # the operator's portal lists its open findings; the unit page shows scenario and findings
    op = browser_for(app, operator.key)
    portal = op.get("/app/portal").text
    assert 'data-testid="unit-findings"' in portal and gd in portal
    unit = op.get(f"/app/units/{gd}?lang=zh_CN").text
    assert 'data-testid="unit-scenario">物流' in unit and "遥测中断" in unit


def test_dashboard_shows_units_by_scenario_findings_by_kind_and_pilots(client: ApiClient
                                                                       ) -> None:
    maker = client.org("manufacturer", province="420000")
    operator = client.org("operator", province="420000")
    code = deployed(client, maker, operator, "420000", "logistics")
    scan(client)
    r = client.post("/api/v1/pilots", {
        "name": "Wuhan dashboard pilot", "scenario": "industrial", "provinces": ["420000"],
        "starts": "2026-01-01T00:00:00Z", "ends": "2030-01-01T00:00:00Z",
        "participants": [operator.id], "rules": {}, "reason": "test"}, client.regulator)
    assert r.status_code == 201, r.text
    reg = browser_for(app_of(client), client.registry.regulator_key)
    page = reg.get("/app/dashboard").text
    table = page.split('data-testid="units-by-scenario"')[1].split("</table>")[0]
    assert re.search(r'data-scenario="logistics"><td>Logistics</td><td>Hubei[^<]*</td>'
                     r'<td class="num">1</td>', table), table
    assert 'data-testid="findings-telemetry_gap"' in page
    assert "/app/findings?kind=telemetry_gap" in page
    assert "Wuhan dashboard pilot" in page.split('data-testid="dashboard-pilots"')[1]
    zh = reg.get("/app/dashboard?lang=zh_CN").text
    assert "按场景划分的在役机器人" in zh
    assert "湖北" in zh.split('data-testid="units-by-scenario"')[1]
    # another province's regulator does not see this unit's scenario row or finding count
    sh = browser_for(app_of(client), client.org("regulator", scope_province="310000").key)
    other = sh.get("/app/dashboard").text
    assert 'data-testid="units-by-scenario"' not in other
    assert 'data-testid="findings-telemetry_gap">Telemetry gap</a> <strong>0' in other
    assert code not in other


def test_organisation_manages_its_api_keys(client: ApiClient) -> None:
    org = client.org("operator")
    other = client.org("operator")
    app = app_of(client)
    b = browser_for(app, org.key)
    page = b.get("/app/keys")
    assert page.status_code == 200 and 'data-testid="keys"' in page.text
    assert org.key not in page.text  # never a secret in a list
    assert "this session" in page.text
    # a field error in both languages
    r = post_form(b, "key-create", {"name": ""})
    assert r.status_code == 422 and 'data-testid="error-name"' in r.text
    assert "This field is required." in r.text
    r = post_form(b, "key-create", {"name": ""}, lang="zh_CN")
    assert r.status_code == 422 and "此项必填。" in r.text
    # created: shown once, then only its prefix
    r = post_form(b, "key-create", {"name": "Fleet gateway"}, lang="en")
    assert r.status_code == 200 and "shown only once" in r.text
    new_key = re.search(r'value="(rp_[^"]+)"[^>]*data-testid="api-key"', r.text).group(1)  # type: ignore[union-attr]
    listed = b.get("/app/keys").text
    assert "Fleet gateway" in listed and new_key not in listed
    assert new_key.split("_")[1] in listed
    assert client.get(f"/api/v1/organizations/{org.id}/keys", org).status_code == 200
    assert browser_for(app, new_key).get("/app/portal").status_code == 200
    # the same rule as the API: another organisation's keys are not yours
    assert b.get(f"/app/keys?organization={other.id}").status_code == 403
    r = b.post("/app/act/key-create", data={"name": "sneaky", "organization_id": other.id,
                                            "csrf_token": csrf_of(listed)})
    assert r.status_code == 403 and "rp_" not in r.text.split("<main")[-1]
    assert len(client.get(f"/api/v1/organizations/{other.id}/keys", other).json()) == 1
    # revoked through the page: the key stops working, a forged token changes nothing
    key_id = [k["id"] for k in client.get(f"/api/v1/organizations/{org.id}/keys", org).json()
              if k["name"] == "Fleet gateway"][0]
    assert b.post("/app/act/key-revoke", data={"key_id": key_id, "csrf_token": "forged"}
                  ).status_code == 403
    assert browser_for(app, new_key).get("/app/portal").status_code == 200
    r = b.post("/app/act/key-revoke", data={"key_id": key_id, "csrf_token": csrf_of(listed)})
    assert r.status_code == 303 and "done=key-revoke" in r.headers["location"]
    assert client.raw.get("/api/v1/organizations/" + org.id,
                          headers={"Authorization": f"Bearer {new_key}"}).status_code == 401
    r = b.post("/app/act/key-revoke", data={"key_id": key_id, "csrf_token": csrf_of(listed)})
    assert r.status_code == 404 and "No active key with this id" in r.text
    # the national regulator manages any organisation's keys
    reg = browser_for(app, client.registry.regulator_key)
    assert reg.get(f"/app/keys?organization={other.id}").status_code == 200


def test_decision_history_on_model_organisation_and_recall_pages(client: ApiClient) -> None:
    maker = client.org("manufacturer", province="110000")
    rival = client.org("manufacturer", province="110000")
    operator = client.org("operator")
    model_id = client.approved_model(maker)
    code = client.codes(maker, model_id, 1)[0]
    client.event(maker, code, "manufactured", at="2026-03-10T08:00:00Z")
    client.event(maker, code, "sold", at="2026-03-11T08:00:00Z", to_organization=operator.id)
    assert client.post(f"/api/v1/models/{model_id}/suspend", {"reason": "battery fires"},
                       client.regulator).status_code == 200
    assert client.patch(f"/api/v1/organizations/{maker.id}", {"name_zh": "历史机器人",
                                                              "reason": "Chinese name"},
                        client.regulator).status_code == 200
    recall = client.post("/api/v1/recalls", {"reason": "cells", "scope": {
        "model_id": model_id}}, maker).json()["id"]
    assert client.post(f"/api/v1/recalls/{recall}/close", {"reason": "all fixed by hand"},
                       client.regulator).status_code == 200
    app = app_of(client)
    reg = browser_for(app, client.registry.regulator_key)
    mine = browser_for(app, maker.key)
    for b in (reg, mine):
        model = b.get(f"/app/models/{model_id}").text
        rows = model.split('data-testid="decision-history"')[1]
        assert 'data-action="model.suspend"' in rows and "battery fires" in rows
        assert 'data-action="model.approve"' in rows
        assert "/api/v1/ledger/proof/inclusion?index=" in rows
        org = b.get(f"/app/organizations/{maker.id}")
        assert org.status_code == 200
        assert 'data-action="organization.update"' in org.text and "历史机器人" in org.text
        rec = b.get(f"/app/recalls/{recall}").text
        assert 'data-action="recall.close"' in rec and "all fixed by hand" in rec
    zh = reg.get(f"/app/models/{model_id}?lang=zh_CN").text
    assert "决定记录" in zh and "型号已暂停" in zh
    # not the manufacturer concerned: no history, and no organisation page
    other = browser_for(app, rival.key)
    page = other.get(f"/app/models/{model_id}")
    assert page.status_code in (200, 404) and "decision-history" not in page.text
    assert other.get(f"/app/organizations/{maker.id}").status_code == 404
    assert browser_for(app, client.org("regulator", scope_province="310000").key).get(
        f"/app/organizations/{maker.id}").status_code == 404


def test_public_page_names_the_scenario_never_the_operator(client: ApiClient) -> None:
    maker = client.org("manufacturer", province="440000")
    operator = client.org("operator", province="440000", name="Secret Operator Ltd")
    code = deployed(client, maker, operator, "440000", "logistics")
    for lang, label in (("en", "Logistics"), ("zh_CN", "物流")):
        page = client.raw.get(f"/r/{code}?lang={lang}")
        assert page.status_code == 200
        assert f'data-testid="scenario">{label}</dd>' in page.text
        assert "Secret Operator" not in page.text and operator.id not in page.text
        assert "Guangzhou" not in page.text and "广州" not in page.text
    undeployed = client.codes(maker, client.approved_model(maker), 1)[0]
    assert 'data-testid="scenario"' not in client.raw.get(f"/r/{undeployed}").text
