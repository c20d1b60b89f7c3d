"""The web forms (web/app/forms.py): CSRF, permission, field-level errors in the page's
language, the same service as the API, one transaction, refusals recorded like the API's."""

from __future__ import annotations

from typing import Any

from tests.utils.api import ApiClient
from tests.web.app_helpers import browser_for, csrf_of

from robopass.web.app.forms import FORMS


def app_of(client: ApiClient) -> Any:
    return client.raw.app


def post_form(c: Any, name: str, data: dict[str, Any], *, lang: str = "en") -> Any:
    page = c.get(f"/app/act/{name}?lang={lang}")
    assert page.status_code == 200, page.text[-500:]
    return c.post(f"/app/act/{name}", data={**data, "csrf_token": csrf_of(page.text)})


def test_every_form_has_csrf_and_labelled_fields(sqlite_client: ApiClient) -> None:
    client = sqlite_client
    reg = browser_for(app_of(client), client.registry.regulator_key)
    maker = browser_for(app_of(client), client.org("manufacturer", "testing_lab").key)
    for name, form in FORMS.items():
        page = reg.get(f"/app/act/{name}")
        if page.status_code == 403:  # a manufacturer's or a lab's form
            page = maker.get(f"/app/act/{name}")
        assert page.status_code == 200, name
        assert 'name="csrf_token"' in page.text
        for f in form.fields:
            if f.kind not in ("hidden", "checkboxes"):
                assert f'<label for="f-{f.name}">' in page.text, (name, f.name)


def test_ship_and_sell_through_forms_then_refusal_is_recorded(client: ApiClient) -> None:
    maker = client.org("manufacturer")
    seller = client.org("seller")
    buyer = client.org("operator")
    model_id = client.approved_model(maker)
    code = client.codes(maker, model_id, 1)[0]
    client.event(maker, code, "manufactured")
    m = browser_for(app_of(client), maker.key)
    forged = m.post("/app/act/event-shipped", data={"code": code, "to": seller.id,
                                                    "csrf_token": "forged"})
    assert forged.status_code == 403
    assert client.get(f"/api/v1/robots/{code}", maker).json()["status"] == "manufactured"
    r = post_form(m, "event-shipped", {"code": code, "to": seller.id})
    assert r.status_code == 303 and "done=event-shipped" in r.headers["location"]
    assert client.get(f"/api/v1/robots/{code}", maker).json()["status"] == "in_distribution"
    s = browser_for(app_of(client), seller.key)
    assert code in s.get("/app/portal").text
    r = post_form(s, "event-sold", {"code": code, "to": buyer.id})
    assert r.status_code == 303
    # the seller no longer owns it: selling again is refused, in Chinese, and recorded
    r = post_form(s, "event-sold", {"code": code, "to": buyer.id}, lang="zh_CN")
    assert r.status_code == 403
    assert "您的机构无权" in r.text and 'data-testid="form-errors"' in r.text
    attempts = client.get("/api/v1/refused-attempts", client.regulator).json()["attempts"]
    assert any(a["code_input"] == code and a["type"] == "sold" for a in attempts)


def test_field_errors_in_both_languages(sqlite_client: ApiClient) -> None:
    client = sqlite_client
    maker = client.org("manufacturer")
    m = browser_for(app_of(client), maker.key)
    r = post_form(m, "model-file", {"name": "X1", "hardware_class": "B",
                                    "intelligence_level": "2", "height_cm": "tall",
                                    "mass_kg": "50", "degrees_of_freedom": "30",
                                    "comp1_type": "battery_pack", "comp1_name": "BP",
                                    "sw_name": "OS", "sw_version": "1"})
    assert r.status_code == 422
    assert 'data-testid="error-height_cm"' in r.text and "Enter a number." in r.text
    assert 'aria-invalid="true"' in r.text and 'value="tall"' in r.text
    r = post_form(m, "model-file", {"name": "X1", "hardware_class": "B"}, lang="zh_CN")
    assert r.status_code == 422 and "此项必填" in r.text
    r = post_form(m, "model-file", {"name": "X1", "hardware_class": "B",
                                    "intelligence_level": "2", "height_cm": "150",
                                    "mass_kg": "50", "degrees_of_freedom": "30",
                                    "comp1_type": "battery_pack", "comp1_name": "BP",
                                    "sw_name": "OS", "sw_version": "1",
                                    "certifications": "GB 11291\nISO 13482"})
    assert r.status_code == 303
    model_id = r.headers["location"].split("/")[3].split("?")[0]
    body = client.get(f"/api/v1/models/{model_id}", maker).json()
    assert body["status"] == "submitted" and body["certifications"] == ["GB 11291",
                                                                        "ISO 13482"]
    client.evaluate(model_id)  # approval needs an accredited lab's evaluation (SPEC §13)
    # the regulator reads the filing from the queue and approves it there
    reg = browser_for(app_of(client), client.registry.regulator_key)
    assert f"/app/models/{model_id}" in reg.get("/app/dashboard").text
    page = reg.get(f"/app/models/{model_id}")
    assert "ISO 13482" in page.text
    r = reg.post("/app/act/model-approve", data={"model_id": model_id, "reason": "ok",
                                                 "csrf_token": csrf_of(page.text)})
    assert r.status_code == 303
    assert client.get(f"/api/v1/models/{model_id}", maker).json()["status"] == "approved"
    # a manufacturer may not decide
    assert m.post("/app/act/model-approve", data={
        "model_id": model_id, "csrf_token": csrf_of(m.get("/app/portal").text)}
    ).status_code == 403


def test_organisation_created_and_key_shown_once(sqlite_client: ApiClient) -> None:
    client = sqlite_client
    reg = browser_for(app_of(client), client.registry.regulator_key)
    r = post_form(reg, "organization-create", {"name": "Acme Robotics GmbH",
                                               "roles": ["seller", "operator"],
                                               "country": "DE",
                                               "registration_number": "HRB 1234"})
    assert r.status_code == 200 and 'data-testid="api-key"' in r.text
    key = r.text.split('data-testid="api-key">')[1].split("<")[0]
    org = browser_for(app_of(client), key)
    assert "Acme Robotics GmbH" in org.get("/app/portal").text
    r = post_form(reg, "organization-create", {"name": "Bad", "roles": ["seller"],
                                               "country": "CN"})
    assert r.status_code == 422 and 'data-testid="error-uscc"' in r.text


def test_regulator_suspends_an_organisation_whose_forms_then_refuse(sqlite_client: ApiClient
                                                                    ) -> None:
    client = sqlite_client
    maker = client.org("manufacturer")
    m = browser_for(app_of(client), maker.key)
    token = csrf_of(m.get("/app/act/model-file").text)
    reg = browser_for(app_of(client), client.registry.regulator_key)
    r = post_form(reg, "organization-suspend", {"org_id": maker.id, "reason": ""})
    assert r.status_code == 422 and 'data-testid="error-reason"' in r.text
    r = post_form(reg, "organization-suspend", {"org_id": maker.id, "reason": "unpaid fees"})
    assert r.status_code == 303
    r = m.post("/app/act/model-file", data={"name": "Blocked", "csrf_token": token},
               headers={"Accept-Language": "zh-CN"})
    assert r.status_code == 403 and "已被暂停" in r.text
    assert client.get("/api/v1/models", maker).status_code == 200  # it still reads
    assert post_form(reg, "organization-reinstate", {"org_id": maker.id,
                                                     "reason": "paid"}).status_code == 303


def test_regulator_sets_a_policy_and_opens_a_pilot(sqlite_client: ApiClient) -> None:
    client = sqlite_client
    operator = client.org("operator")
    reg = browser_for(app_of(client), client.registry.regulator_key)
    r = post_form(reg, "policy-set", {"scenario": "household", "rules": "{min_level: 3",
                                      "reason": "pilot data"})
    assert r.status_code == 422 and 'data-testid="error-rules"' in r.text
    r = post_form(reg, "policy-set", {"scenario": "household", "rules": '{"min_level": 3}',
                                      "reason": "pilot data"})
    assert r.status_code == 303
    policies = client.get("/api/v1/policies").json()["policies"]
    assert any(p["scenario"] == "household" and p["rules"].get("min_level") == 3
               for p in policies)
    assert "household" in reg.get("/app/policies").text
    r = post_form(reg, "pilot-open", {"name": "Wuhan eldercare pilot", "scenario": "eldercare",
                                      "provinces": ["420000"], "starts": "2026-01-01T00:00:00",
                                      "ends": "2027-12-31T00:00:00",
                                      "participants": [operator.id],
                                      "rules": '{"min_level": 2}', "reason": "trial"})
    assert r.status_code == 303, r.text[-800:]
    assert "Wuhan eldercare pilot" in reg.get("/app/pilots").text


def test_manufacturer_files_an_amendment(sqlite_client: ApiClient) -> None:
    client = sqlite_client
    maker = client.org("manufacturer")
    model_id = client.approved_model(maker)
    m = browser_for(app_of(client), maker.key)
    assert f"/app/act/model-amend?model_id={model_id}" in m.get(f"/app/models/{model_id}").text
    r = post_form(m, "model-amend", {"model_id": model_id, "sw_version": "2.5.0",
                                     "reason": ""})
    assert r.status_code == 422 and 'data-testid="error-reason"' in r.text
    r = post_form(m, "model-amend", {"model_id": model_id, "sw_version": "2.5.0",
                                     "reason": "new motion stack"})
    assert r.status_code == 303, r.text[-600:]
    versions = client.get(f"/api/v1/models/{model_id}/versions", maker).json()
    assert any(v["software"].get("version") == "2.5.0" and v["reason"] == "new motion stack"
               for v in versions), versions
