"""Dashboard, portal and unit pages: who sees what, actions through forms, no leaks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.telemetry.conftest import ts
from tests.utils.api import ApiClient, model_body
from tests.web.app_helpers import browser_for, csrf_of

from robopass.stats import service as stats


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    stats.clear_cache()
    yield
    stats.clear_cache()


def app_of(client: ApiClient):  # type: ignore[no-untyped-def]
    return client.raw.app


def sold_unit(client: ApiClient, maker, operator, province: str = "440000") -> str:  # type: ignore[no-untyped-def]
    model_id = client.approved_model(maker, name=f"Secret Model {maker.id[-4:]}")
    code = client.codes(maker, model_id, 1)[0]
    client.event(maker, code, "manufactured", at="2026-03-10T08:00:00Z")
    client.event(maker, code, "sold", at="2026-03-11T08:00:00Z", to_organization=operator.id)
    client.event(operator, code, "deployed", at="2026-03-12T08:00:00Z",
                 details={"scenario": "industrial", "province": province,
                          "city": province[:2] + "0100"})
    return code


def test_dashboard_for_regulators_only(client: ApiClient) -> None:
    maker = client.org("manufacturer", province="440000")
    operator = client.org("operator")
    code = sold_unit(client, maker, operator)
    reg = browser_for(app_of(client), client.registry.regulator_key)
    page = reg.get("/app/dashboard")
    assert page.status_code == 200
    assert 'data-testid="total-units"' in page.text and ">1</a>" in page.text
    assert "Guangdong" in page.text
    assert reg.get("/app/dashboard", headers={"Accept-Language": "zh-CN"}).text.count("广东") >= 1
    units = reg.get("/app/units?status=in_service")
    assert code in units.text
    assert reg.get(f"/app/units/{code}").status_code == 200
    assert reg.get("/app/supply-chain").status_code == 200
    m = browser_for(app_of(client), maker.key)
    for path in ("/app/dashboard", "/app/supply-chain", "/app/units"):
        r = m.get(path)
        assert r.status_code == 403, path
        assert code not in r.text


def test_provincial_regulator_acts_only_on_its_province(client: ApiClient) -> None:
    gd_maker = client.org("manufacturer", province="440000")
    bj_maker = client.org("manufacturer", province="110000")
    operator = client.org("operator")
    gd_code = sold_unit(client, gd_maker, operator, "440000")
    bj_code = sold_unit(client, bj_maker, operator, "110000")
    gd_pending = client.post("/api/v1/models", model_body("GD Pending"), gd_maker).json()["id"]
    bj_pending = client.post("/api/v1/models", model_body("BJ Pending"), bj_maker).json()["id"]
    gd_reg = client.org("regulator", scope_province="440000")
    c = browser_for(app_of(client), gd_reg.key)
    page = c.get("/app/dashboard")
    assert "GD Pending" in page.text and "BJ Pending" not in page.text
    assert bj_maker.id not in page.text
    token = csrf_of(page.text)
    r = c.post(f"/app/models/{bj_pending}/decide", data={"action": "approve",
                                                          "csrf_token": token})
    assert r.status_code == 403
    assert client.get(f"/api/v1/models/{bj_pending}", client.regulator).json()["status"] == \
        "submitted"
    r = c.post(f"/app/models/{gd_pending}/decide", data={"action": "reject",
                                                          "reason": "incomplete",
                                                          "csrf_token": token})
    assert r.status_code == 303
    assert client.get(f"/api/v1/models/{gd_pending}", client.regulator).json()["status"] == \
        "rejected"
    assert c.get(f"/app/units/{gd_code}").status_code == 200
    r = c.get(f"/app/units/{bj_code}")
    assert r.status_code == 404 and "Secret Model" not in r.text
    assert bj_code not in c.get("/app/units").text
    r = c.get(f"/app/dashboard?manufacturer={bj_maker.id}")
    assert r.status_code == 404


def test_other_manufacturers_unit_page_is_refused_without_leaking(client: ApiClient) -> None:
    maker = client.org("manufacturer")
    rival = client.org("manufacturer")
    operator = client.org("operator")
    code = sold_unit(client, maker, operator)
    r = client.post("/api/v1/incidents", {"code": code, "at": ts(1), "type": "malfunction",
                                          "severity": "minor", "description": "wobble"},
                    operator)
    incident_id = r.json()["id"]
    own = browser_for(app_of(client), maker.key)
    page = own.get(f"/app/units/{code}")
    assert page.status_code == 200
    assert "/api/v1/ledger/proof/inclusion?index=" in page.text
    assert f"/app/incidents/{incident_id}/trace" in page.text
    trace_page = own.get(f"/app/incidents/{incident_id}/trace")
    assert trace_page.status_code == 200 and "text/html" in trace_page.headers["content-type"]
    assert "wobble" in trace_page.text and code in trace_page.text
    other = browser_for(app_of(client), rival.key)
    refused = other.get(f"/app/units/{code}")
    unknown = other.get("/app/units/CN" + "Z" * 27)
    malformed = other.get("/app/units/not-a-code")
    assert refused.status_code == unknown.status_code == malformed.status_code == 404
    assert "Secret Model" not in refused.text  # the URL echoes the code, nothing else
    assert refused.text.replace(code, "") == unknown.text.replace("CN" + "Z" * 27, "")
    r = other.get(f"/app/incidents/{incident_id}/trace")
    assert r.status_code == 404 and "wobble" not in r.text
    # the operator (owner) may open it
    assert browser_for(app_of(client), operator.key).get(f"/app/units/{code}").status_code == 200


def test_manufacturer_issues_codes_and_prints_labels(sqlite_client: ApiClient) -> None:
    client = sqlite_client
    maker = client.org("manufacturer")
    rival = client.org("manufacturer")
    model_id = client.approved_model(maker, name="Walker Label")
    c = browser_for(app_of(client), maker.key)
    page = c.get("/app/portal")
    assert "Walker Label" in page.text and 'data-testid="issue-form"' in page.text
    token = csrf_of(page.text)
    form = {"model_id": model_id, "count": "5", "plant": "a1", "production_month": "2026-03",
            "csrf_token": token}
    assert c.post("/app/portal/codes", data={**form, "csrf_token": "x"}).status_code == 403
    assert c.post("/app/portal/codes", data={**form, "count": "0"}).status_code == 422
    assert c.post("/app/portal/codes", data={**form, "count": "many"}).status_code == 422
    r = c.post("/app/portal/codes", data=form)
    assert r.status_code == 303, r.text
    done = c.get(r.headers["location"])
    assert 'data-testid="issued"' in done.text
    units = client.get(f"/api/v1/models/{model_id}", maker).json()
    assert units["id"] == model_id
    sheet_path = "/app/labels/sheet.svg?model=" + model_id + "&production_month=2026-03&plant=A1"
    assert sheet_path.replace("&", "&amp;") in done.text
    sheet = c.get(sheet_path)
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("image/svg")
    assert sheet.text.count("<svg") >= 1 and sheet.text.count("CN-") >= 5
    pdf = c.get(sheet_path.replace("sheet.svg", "sheet.pdf"))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    # another manufacturer: neither codes nor labels for this model
    other = browser_for(app_of(client), rival.key)
    otoken = csrf_of(other.get("/app/portal").text)
    assert other.post("/app/portal/codes", data={**form, "csrf_token": otoken}).status_code == 404
    assert other.get(sheet_path).status_code == 404
    # issued codes appear in batches
    assert "2026-03" in c.get("/app/portal").text


def test_operator_sees_alerts_and_recalls(sqlite_client: ApiClient) -> None:
    client = sqlite_client
    maker = client.org("manufacturer")
    operator = client.org("operator")
    code = sold_unit(client, maker, operator)
    r = client.post("/api/v1/telemetry", [{"code": code, "at": ts(2),
                                           "metrics": {"battery_soh": 50.0}}], operator)
    assert r.status_code in (200, 201), r.text
    page = browser_for(app_of(client), operator.key).get("/app/portal")
    assert page.status_code == 200
    assert 'data-rule="battery_soh_low"' in page.text and code in page.text
    zh = browser_for(app_of(client), operator.key).get("/app/portal?lang=zh_CN")
    assert "电池健康度偏低" in zh.text and "贵单位机队" in zh.text
    # the regulator drills down from the dashboard's alert count to the unit
    reg = browser_for(app_of(client), client.registry.regulator_key)
    assert "/app/units?alert=battery_soh_low" in reg.get("/app/dashboard").text
    listed = reg.get("/app/units?alert=battery_soh_low")
    assert code in listed.text and 'data-testid="unit-total"' in listed.text
    assert code not in reg.get("/app/units?alert=joint_wear_high").text


def test_service_provider_sees_its_work_orders(sqlite_client: ApiClient) -> None:
    client = sqlite_client
    maker = client.org("manufacturer")
    operator = client.org("operator")
    provider = client.org("service_provider")
    code = sold_unit(client, maker, operator)
    r = client.post("/api/v1/service-authorizations", {"provider_id": provider.id}, operator)
    assert r.status_code == 201, r.text
    client.event(provider, code, "maintenance_started", at="2026-04-01T08:00:00Z",
                 details={"work_order": "WO-77", "description": "knee"})
    page = browser_for(app_of(client), provider.key).get("/app/portal")
    assert 'data-testid="work-orders"' in page.text and "WO-77" in page.text
    assert code in page.text


def test_recycler_records_intake(sqlite_client: ApiClient) -> None:
    client = sqlite_client
    maker, code = client.manufactured_unit()
    recycler = client.org("recycler")
    client.event(maker, code, "decommissioned", at="2026-03-11T08:00:00Z",
                 to_organization=recycler.id)
    c = browser_for(app_of(client), recycler.key)
    page = c.get("/app/portal")
    assert 'data-testid="intake"' in page.text and code in page.text
    token = csrf_of(page.text)
    assert c.post("/app/portal/intake", data={"code": code, "action": "scrapped",
                                              "csrf_token": "forged"}).status_code == 403
    assert c.post("/app/portal/intake", data={"code": code, "action": "burnt",
                                              "csrf_token": token}).status_code == 422
    r = c.post("/app/portal/intake", data={"code": code, "action": "recycled",
                                           "csrf_token": token})
    assert r.status_code == 303, r.text
    assert client.get(f"/api/v1/verify/{code}").json()["status"] == "recycled"
    again = c.post("/app/portal/intake", data={"code": code, "action": "scrapped",
                                               "csrf_token": token})
    assert again.status_code == 409
    # a unit not named to it
    other_maker, other = client.manufactured_unit()
    r = c.post("/app/portal/intake", data={"code": other, "action": "recycled",
                                           "csrf_token": token})
    assert r.status_code in (403, 409)
    assert client.get(f"/api/v1/verify/{other}").json()["status"] == "manufactured"


def test_trace_page_charts_telemetry_with_a_text_equivalent(sqlite_client: ApiClient) -> None:
    client = sqlite_client
    maker = client.org("manufacturer")
    operator = client.org("operator")
    code = sold_unit(client, maker, operator)
    readings = [{"code": code, "at": ts(m), "metrics": {"battery_soh": 90.0 - m, "accuracy": 97.5}}
                for m in (8, 6, 4, 2)]
    r = client.post("/api/v1/telemetry", readings, operator)
    assert r.status_code in (200, 201) and r.json()["stored"] == 4, r.text
    r = client.post("/api/v1/incidents", {"code": code, "at": ts(3), "type": "malfunction",
                                          "severity": "major", "description": "sagging arm"},
                    operator)
    incident_id = r.json()["id"]
    for lang, heading in (("en", "Telemetry around the incident"), ("zh_CN", "事故前后的遥测数据")):
        page = browser_for(app_of(client), operator.key).get(
            f"/app/incidents/{incident_id}/trace?lang={lang}").text
        assert heading in page and "sagging arm" in page
        chart = page.split('<figure class="chart">')[1].split("</figure>")[0]
        assert 'role="img"' in chart and "<a " not in chart.split("<details")[0]
        table = page.split('data-testid="readings"')[1].split("</table>")[0]
        assert table.count("<tr>") == 1 + 4 and "86.0" in table  # header + every reading
