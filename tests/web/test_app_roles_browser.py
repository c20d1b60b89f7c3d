"""Every role's portal in a real Chromium, end to end, in English and Chinese: sign in with the
organisation's API key, do the role's main job through the forms, see the result. Plus an
axe-core run on every page type (no serious or critical violation). One browser and one demo
registry for the whole module."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.utils.api import evaluation_body, model_body
from tests.web.test_app_browser import shot

from robopass import seed as demo_seed

pytestmark = pytest.mark.browser
LOCALES = {"en": "en-US", "zh": "zh-CN"}
_n = itertools.count(1)


def axe_source() -> str:
    """axe-core as installed from PyPI (``axe-playwright-python`` ships ``axe.min.js``)."""
    import axe_playwright_python

    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()


def test_axe_finds_a_planted_violation(browser) -> None:  # type: ignore[no-untyped-def]
    """The accessibility check can fail: an unlabelled image is a critical violation."""
    page = browser.new_page()
    page.set_content('<html lang="en"><title>t</title><img src="x.png"></html>')
    with pytest.raises(AssertionError, match="image-alt"):
        assert_accessible(page, "planted")
    page.close()


def assert_accessible(page: Any, what: str) -> None:
    page.add_script_tag(content=axe_source())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
           for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, f"{what}: {bad}"


def sign_in(browser: Any, base: str, key: str, locale: str = "en-US") -> Any:
    """A fresh context signed in with ``key``; it may inject axe-core despite the pages' CSP."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale=locale,
                                  bypass_csp=True)
    page = context.new_page()
    page.goto(f"{base}/")
    page.locator("#api_key").fill(key)
    page.locator("form.stack button[type=submit]").click()
    return page


# -- the registry, through its API --------------------------------------------------------------

def api(demo: dict[str, Any], key: str, method: str, path: str, body: Any = None) -> Any:
    r = httpx.request(method, demo["base"] + path, json=body, timeout=30,
                      headers={"Authorization": f"Bearer {key}"})
    assert r.status_code < 300, (path, r.status_code, r.text)
    return r.json() if r.content else None


def key(demo: dict[str, Any], kind: str) -> str:
    return str(demo["regulator"] if kind == "regulator" else demo["keys"][kind]["api_key"])


def org_id(demo: dict[str, Any], kind: str) -> str:
    return str(demo["keys"][kind]["id"])


def evaluated(demo: dict[str, Any], model_id: str) -> str:
    """The demo's accredited lab files a passing evaluation (approval needs one, SPEC §13)."""
    api(demo, key(demo, "testing_lab"), "POST", f"/api/v1/models/{model_id}/evaluations",
        evaluation_body(3))
    return model_id


def unit_at(demo: dict[str, Any], stage: str) -> str:
    """A fresh unit of the demo manufacturer taken to ``stage`` through the API."""
    maker = key(demo, "manufacturer")
    model = api(demo, maker, "POST", "/api/v1/models",
                model_body(name=f"Browser Walker {next(_n)}"))["id"]
    evaluated(demo, model)
    api(demo, key(demo, "regulator"), "POST", f"/api/v1/models/{model}/approve")
    code = api(demo, maker, "POST", f"/api/v1/models/{model}/codes",
               {"count": 1, "plant": "A1", "production_month": "2026-01"})["codes"][0]
    steps = [] if stage == "coded" else [("manufacturer", {"type": "manufactured", "details": {
        "components": [{"serial": f"BT{random.randrange(10**9)}", "type": "battery_pack",
                        "supplier_id": org_id(demo, "component_supplier"),
                        "batch": "WEB-BATCH-1"}]}})]
    if stage in ("in_distribution", "sold", "in_service", "decommissioned"):
        steps.append(("manufacturer", {"type": "shipped",
                                       "to_organization": org_id(demo, "seller")}))
    if stage in ("sold", "in_service", "decommissioned"):
        steps.append(("seller", {"type": "sold", "to_organization": org_id(demo, "operator")}))
    if stage in ("in_service", "decommissioned"):
        steps.append(("operator", {"type": "deployed", "details": {
            "scenario": "industrial", "province": "440000", "city": "440300"}}))
    if stage == "decommissioned":
        steps.append(("operator", {"type": "decommissioned",
                                   "to_organization": org_id(demo, "recycler")}))
    for kind, body in steps:
        api(demo, key(demo, kind), "POST", f"/api/v1/robots/{code}/events", body)
    return str(code)


def first_model(demo: dict[str, Any]) -> str:
    """An approved demo model (its page shows the decision history to the regulator)."""
    models = api(demo, demo["regulator"], "GET", "/api/v1/models?status=approved&limit=1")
    items = models["models"] if isinstance(models, dict) else models
    return str(items[0]["id"])


def status_of(demo: dict[str, Any], code: str) -> str:
    return str(api(demo, demo["regulator"], "GET", f"/api/v1/robots/{code}")["status"])


def submit(page: Any) -> None:
    page.get_by_test_id("submit").click()
    page.wait_for_load_state()  # the page the form led to, loaded (count() does not wait)


# -- one scenario per role, in both languages ---------------------------------------------------

@pytest.mark.parametrize("lang", LOCALES)
def test_national_regulator_reads_the_filing_and_approves(browser, demo, lang) -> None:  # type: ignore[no-untyped-def]
    model = api(demo, key(demo, "manufacturer"), "POST", "/api/v1/models",
                model_body(name=f"Queue Walker {next(_n)}", certifications=["GB/T 99999"]))
    evaluated(demo, model["id"])
    page = sign_in(browser, demo["base"], demo["regulator"], LOCALES[lang])
    page.locator(f"tr[data-model='{model['id']}'] [data-testid=filing-link]").click()
    assert "GB/T 99999" in page.get_by_test_id("filing").inner_text() + page.content()
    shot(page, f"app-model-filing-{lang}.png")
    assert page.get_by_test_id("evaluations").locator("tbody tr").count() == 1
    page.get_by_test_id("model-approve").locator("button").click()
    page.wait_for_load_state()  # the page the click led to, loaded
    assert page.get_by_test_id("done").count() == 1
    assert page.get_by_test_id("model-status").inner_text() == (
        "Approved" if lang == "en" else "已批准")
    page.context.close()


@pytest.mark.parametrize("lang", LOCALES)
def test_provincial_regulator_registers_an_organisation(browser, demo, lang) -> None:  # type: ignore[no-untyped-def]
    pkey = demo["keys"]["provincial_regulator"]["api_key"]
    page = sign_in(browser, demo["base"], pkey, LOCALES[lang])
    assert page.url.endswith("/app/dashboard")
    page.goto(f"{demo['base']}/app/organizations")
    shot(page, f"app-provincial-organisations-{lang}.png")
    page.get_by_test_id("action-organization-create").click()
    name = f"Beijing Browser Seller {next(_n)}"
    page.locator("#f-name").fill(name)
    page.locator("input[name=roles][value=seller]").check()
    page.locator("#f-country").fill("CN")
    page.locator("#f-province").select_option("110000")
    submit(page)  # no USCC: a field-level error in the page's language
    error = page.get_by_test_id("error-uscc").inner_text()
    assert ("Unified Social Credit Code" if lang == "en" else "统一社会信用代码") in error
    page.locator("#f-uscc").fill(demo_seed.make_uscc(random.Random(next(_n)), "110000"))
    submit(page)
    assert page.get_by_test_id("api-key").inner_text().strip()
    page.goto(f"{demo['base']}/app/organizations")
    assert name in page.get_by_test_id("organizations").inner_text()
    page.context.close()


@pytest.mark.parametrize("lang", LOCALES)
def test_manufacturer_files_a_model_and_records_manufacture(browser, demo, lang) -> None:  # type: ignore[no-untyped-def]
    page = sign_in(browser, demo["base"], key(demo, "manufacturer"), LOCALES[lang])
    shot(page, f"app-manufacturer-portal-{lang}.png")
    page.get_by_test_id("action-model-file").click()
    page.locator("#f-name").fill(f"Form Walker {next(_n)}")
    page.locator("#f-hardware_class").select_option("W")
    page.locator("#f-intelligence_level").select_option("2")
    page.locator("#f-height_cm").fill("160")
    page.locator("#f-mass_kg").fill("-5")  # refused with a field-level message
    page.locator("#f-degrees_of_freedom").fill("32")
    page.locator("#f-comp1_type").select_option("battery_pack")
    page.locator("#f-comp1_name").fill("BP-48V")
    page.locator("#f-sw_name").fill("MotionOS")
    page.locator("#f-sw_version").fill("3.0")
    submit(page)
    assert page.get_by_test_id("error-mass_kg").count() == 1
    shot(page, f"app-form-errors-{lang}.png")
    page.locator("#f-mass_kg").fill("55")
    submit(page)
    assert page.get_by_test_id("model-status").inner_text() == (
        "Submitted" if lang == "en" else "已提交")
    # a coded unit leaves the line: record manufacture from the unit page's actions
    code = unit_at(demo, "coded")
    page.goto(f"{demo['base']}/app/units/{code}")
    page.get_by_test_id("action-event-manufactured").click()
    page.locator("#f-c1_type").select_option("compute")
    page.locator("#f-c1_serial").fill(f"CU-WEB-{next(_n)}")
    page.locator("#f-c1_supplier").select_option(org_id(demo, "component_supplier"))
    submit(page)
    assert page.get_by_test_id("done").count() == 1
    assert status_of(demo, code) == "manufactured"
    page.context.close()


@pytest.mark.parametrize("lang", LOCALES)
def test_component_supplier_sees_its_batches_and_finds_a_serial(browser, demo, lang) -> None:  # type: ignore[no-untyped-def]
    unit_at(demo, "manufactured")  # one more WEB-BATCH-1 battery from this supplier
    page = sign_in(browser, demo["base"], key(demo, "component_supplier"), LOCALES[lang])
    assert page.url.endswith("/app/portal")
    batches = page.get_by_test_id("supplier-batches")
    assert "WEB-BATCH-1" in batches.inner_text()
    shot(page, f"app-component-supplier-portal-{lang}.png")
    batches.get_by_role("link", name="WEB-BATCH-1").click()
    # count() does not wait: the results page may still be loading after the click
    page.get_by_test_id("component-results").locator("tbody tr").first.wait_for()
    assert page.get_by_test_id("component-results").locator("tbody tr").count() >= 1
    page.context.close()


@pytest.mark.parametrize("lang", LOCALES)
def test_software_provider_sees_the_models_running_its_software(browser, demo, lang) -> None:  # type: ignore[no-untyped-def]
    provider = org_id(demo, "software_provider")
    name = f"SW Walker {next(_n)}"
    api(demo, key(demo, "manufacturer"), "POST", "/api/v1/models", model_body(
        name=name, software={"name": "PilotOS", "version": "9.1", "provider_id": provider}))
    page = sign_in(browser, demo["base"], key(demo, "software_provider"), LOCALES[lang])
    assert name in page.get_by_test_id("software-models").inner_text()
    shot(page, f"app-software-provider-portal-{lang}.png")
    page.get_by_role("link", name="Search" if lang == "en" else "搜索").first.click()
    page.locator("#q").fill(demo["keys"]["software_provider"]["name"][:12])
    page.locator("form[role=search] button").click()
    page.get_by_test_id("org-results").locator("li").first.wait_for()  # count() does not wait
    assert page.get_by_test_id("org-results").locator("li").count() >= 1
    page.context.close()


@pytest.mark.parametrize("lang", LOCALES)
def test_seller_sells_a_robot_from_stock(browser, demo, lang) -> None:  # type: ignore[no-untyped-def]
    code = unit_at(demo, "in_distribution")
    page = sign_in(browser, demo["base"], key(demo, "seller"), LOCALES[lang])
    shot(page, f"app-seller-portal-{lang}.png")
    page.get_by_test_id("stock").locator(f"tr:has-text('{code}')").get_by_test_id(
        "sell-link").click()
    page.locator("#f-to").select_option(org_id(demo, "operator"))
    submit(page)
    assert page.get_by_test_id("done").count() == 1
    assert code in page.get_by_test_id("sold").inner_text()
    assert status_of(demo, code) == "sold"
    page.context.close()


@pytest.mark.parametrize("lang", LOCALES)
def test_operator_deploys_authorises_and_reports_an_incident(browser, demo, lang) -> None:  # type: ignore[no-untyped-def]
    code = unit_at(demo, "sold")
    page = sign_in(browser, demo["base"], key(demo, "operator"), LOCALES[lang])
    page.get_by_test_id("fleet-units").locator(f"tr:has-text('{code}')").get_by_test_id(
        "deploy-link").click()
    page.locator("#f-scenario").select_option("logistics")
    page.locator("#f-province").select_option("440000")
    page.locator("#f-city").select_option("440300")
    submit(page)
    assert page.get_by_test_id("done").count() == 1
    assert status_of(demo, code) == "in_service"
    page.get_by_test_id("action-service-authorize").click()
    page.locator("#f-provider").select_option(org_id(demo, "service_provider"))
    page.locator("#f-code").fill(code)
    submit(page)
    assert page.get_by_test_id("done").count() == 1
    page.get_by_test_id("action-incident-report").click()
    page.locator("#f-code").fill(code)
    # just now, after the deployment above: the report shows the robot in service
    page.locator("#f-at").fill(datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    page.locator("#f-type").select_option("malfunction")
    page.locator("#f-severity").select_option("minor")
    page.locator("#f-description").fill("Arm stopped mid-lift")
    submit(page)
    assert "/trace" in page.url and "Arm stopped mid-lift" in page.content()
    assert page.get_by_test_id("parties").count() + page.locator("h2#h-parties").count() >= 1
    shot(page, f"app-trace-{lang}.png")
    page.goto(f"{demo['base']}/app/portal")
    shot(page, f"app-operator-portal-{lang}.png")
    page.context.close()


@pytest.mark.parametrize("lang", LOCALES)
def test_service_provider_starts_and_completes_work(browser, demo, lang) -> None:  # type: ignore[no-untyped-def]
    code = unit_at(demo, "in_service")
    api(demo, key(demo, "operator"), "POST", "/api/v1/service-authorizations",
        {"provider_id": org_id(demo, "service_provider"), "code": code})
    page = sign_in(browser, demo["base"], key(demo, "service_provider"), LOCALES[lang])
    units = page.get_by_test_id("authorised-units")
    units.locator(f"tr:has-text('{code}')").get_by_test_id("start-link").click()
    page.locator("#f-work_order").fill(f"WO-WEB-{next(_n)}")
    page.locator("#f-description").fill("Joint recalibration")
    submit(page)
    assert status_of(demo, code) == "under_maintenance"
    assert page.get_by_test_id("work-orders").locator(f"tr:has-text('{code}')").count() == 1
    shot(page, f"app-service-provider-portal-{lang}.png")
    page.get_by_test_id("authorised-units").locator(f"tr:has-text('{code}')").get_by_test_id(
        "complete-link").click()
    submit(page)
    assert status_of(demo, code) == "in_service"
    page.context.close()


@pytest.mark.parametrize("lang", LOCALES)
def test_recycler_scraps_and_the_public_page_says_do_not_buy(browser, demo, lang) -> None:  # type: ignore[no-untyped-def]
    code = unit_at(demo, "decommissioned")
    page = sign_in(browser, demo["base"], key(demo, "recycler"), LOCALES[lang])
    row = page.get_by_test_id("intake").locator(f"tr:has-text('{code}')")
    shot(page, f"app-recycler-portal-{lang}.png")
    row.locator("button[value=scrapped]").click()
    page.wait_for_load_state()  # the page the click led to, loaded
    assert page.get_by_test_id("recorded").count() == 1
    assert status_of(demo, code) == "scrapped"
    page.goto(f"{demo['base']}/r/{code}")
    assert page.locator("[data-verdict]").get_attribute("data-verdict") == "do_not_buy"
    shot(page, f"public-scrapped-{lang}.png")
    page.context.close()


@pytest.mark.parametrize("lang", LOCALES)
def test_testing_lab_evaluates_a_model_it_is_named_for(browser, demo, lang) -> None:  # type: ignore[no-untyped-def]
    name = f"Lab Walker {next(_n)}"
    api(demo, key(demo, "manufacturer"), "POST", "/api/v1/models",
        model_body(name=name, testing_lab_id=org_id(demo, "testing_lab")))
    page = sign_in(browser, demo["base"], key(demo, "testing_lab"), LOCALES[lang])
    row = page.get_by_test_id("lab-models").locator(f"tr:has-text('{name}')")
    shot(page, f"app-testing-lab-portal-{lang}.png")
    row.get_by_test_id("evaluate-link").click()
    for grade in ("perception", "decision", "execution", "collaboration", "overall"):
        page.locator(f"#f-{grade}").select_option("3")
    page.locator("#f-test1_standard").fill("GB/T 36530-2018")
    page.locator("#f-test1_result").select_option("pass")
    page.locator("#f-report_sha256").fill("zz")  # not a SHA-256: a field-level error
    page.locator("#f-valid_until").fill("2030-06-30")
    submit(page)
    assert page.get_by_test_id("error-report_sha256").count() == 1
    page.locator("#f-report_sha256").fill("ab" * 32)
    submit(page)
    assert page.get_by_test_id("done").count() == 1
    model_id = page.get_by_test_id("done").locator("code").inner_text()
    graded = api(demo, demo["regulator"], "GET", f"/api/v1/models/{model_id}/evaluations")
    assert graded and graded[0]["overall"] == 3
    page.context.close()


# -- regulation, API keys, decision history, the trace report's language (#13, #14, #15) ---------

@pytest.mark.parametrize("lang", LOCALES)
def test_regulator_follows_a_finding_from_the_dashboard_to_the_unit(browser, demo, lang) -> None:  # type: ignore[no-untyped-def]
    s = demo["samples"]
    page = sign_in(browser, demo["base"], demo["regulator"], LOCALES[lang])
    page.goto(f"{demo['base']}/app/dashboard")
    assert page.get_by_test_id("units-by-scenario").locator("tbody tr").count() >= 3
    assert page.get_by_test_id("dashboard-pilots").locator("tr[data-pilot]").count() >= 1
    page.get_by_test_id("findings-unapproved_software").click()
    rows = page.get_by_test_id("findings").locator("tr[data-kind=unapproved_software]")
    assert rows.count() >= 1
    assert page.get_by_test_id("findings").locator("tr[data-kind=telemetry_gap]").count() == 0
    shot(page, f"app-findings-{lang}.png")
    page.get_by_test_id("findings").locator(
        f"tr:has-text('{s['unapproved_firmware']}')").get_by_test_id("finding-unit").click()
    assert page.get_by_test_id("unit-scenario").inner_text() != "—"
    assert page.get_by_test_id("unit-findings").locator(
        "tr[data-kind=unapproved_software]").count() == 1
    # the seeded incident's trace report: every evidence sentence in the page's language
    page.goto(f"{demo['base']}/app/incidents/{s['incident_id']}/trace")
    parties = page.get_by_test_id("parties")
    assert parties.locator("li[data-rule]").count() >= 1
    assert parties.locator("[lang=en]").count() == 0
    if lang == "zh":
        assert "the unit" not in parties.inner_text() and "recall " not in parties.inner_text()
    page.context.close()


@pytest.mark.parametrize("lang", LOCALES)
def test_decision_history_on_the_model_page_for_regulator_and_maker(browser, demo, lang) -> None:  # type: ignore[no-untyped-def]
    maker = key(demo, "manufacturer")
    model = api(demo, maker, "POST", "/api/v1/models",
                model_body(name=f"History Walker {next(_n)}"))["id"]
    evaluated(demo, model)
    api(demo, demo["regulator"], "POST", f"/api/v1/models/{model}/approve")
    page = sign_in(browser, demo["base"], demo["regulator"], LOCALES[lang])
    page.goto(f"{demo['base']}/app/models/{model}")
    form = page.get_by_test_id("model-suspend")
    form.locator("input[name=reason]").fill("Battery cells under investigation")
    form.locator("button").click()
    page.wait_for_load_state()  # the page the click led to, loaded
    assert page.get_by_test_id("done").count() == 1
    history = page.get_by_test_id("decision-history")
    assert history.locator("tr[data-action='model.suspend']").count() == 1
    assert "Battery cells under investigation" in history.inner_text()
    assert ("Model suspended" if lang == "en" else "型号已暂停") in history.inner_text()
    page.context.close()
    page = sign_in(browser, demo["base"], maker, LOCALES[lang])
    page.goto(f"{demo['base']}/app/models/{model}")
    history = page.get_by_test_id("decision-history")
    assert history.locator("tr[data-action='model.approve']").count() == 1
    assert history.locator("tr[data-action='model.suspend']").count() == 1
    shot(page, f"app-model-history-{lang}.png")
    page.get_by_role("link", name="Your organisation" if lang == "en" else "本机构").click()
    page.wait_for_load_state()  # the page the click led to, loaded
    assert page.get_by_test_id("organization").count() == 1
    assert page.locator("#h-history").count() == 1
    page.context.close()


@pytest.mark.parametrize("lang", LOCALES)
def test_operator_creates_and_revokes_an_api_key(browser, demo, lang) -> None:  # type: ignore[no-untyped-def]
    page = sign_in(browser, demo["base"], key(demo, "operator"), LOCALES[lang])
    page.get_by_role("link", name="API keys" if lang == "en" else "API 密钥").first.click()
    page.wait_for_load_state()  # the page the click led to, loaded
    assert page.get_by_test_id("keys").count() == 1
    page.get_by_test_id("action-key-create").click()
    submit(page)  # no name: a field error in the page's language
    assert page.get_by_test_id("error-name").inner_text() == (
        "This field is required." if lang == "en" else "此项必填。")
    name = f"Depot gateway {next(_n)}"
    page.locator("#f-name").fill(name)
    submit(page)
    secret = page.get_by_test_id("api-key").input_value()
    assert secret.startswith("rp_")
    shot(page, f"app-key-created-{lang}.png")
    me = httpx.get(f"{demo['base']}/api/v1/organizations/{org_id(demo, 'operator')}/keys",
                   headers={"Authorization": f"Bearer {secret}"}, timeout=30)
    assert me.status_code == 200 and name in me.text and secret not in me.text
    page.goto(f"{demo['base']}/app/keys")
    assert secret not in page.content()
    row = page.get_by_test_id("keys").locator(f"tr:has-text('{name}')")
    shot(page, f"app-keys-{lang}.png")
    row.locator("button").click()
    page.wait_for_load_state()  # the page the click led to, loaded
    assert page.get_by_test_id("done").count() == 1
    assert page.get_by_test_id("keys").locator(f"tr:has-text('{name}') .pill.bad").count() == 1
    gone = httpx.get(f"{demo['base']}/api/v1/organizations/{org_id(demo, 'operator')}/keys",
                     headers={"Authorization": f"Bearer {secret}"}, timeout=30)
    assert gone.status_code == 401
    page.goto(f"{demo['base']}/app/portal")
    assert page.locator("#findings").count() == 1  # the operator's findings section
    page.context.close()


# -- axe-core on every page type ----------------------------------------------------------------

def test_no_serious_accessibility_violation_on_any_page_type(browser, demo) -> None:  # type: ignore[no-untyped-def]
    s = demo["samples"]
    base = demo["base"]
    pages = {
        "regulator": ["/app/dashboard", "/app/supply-chain", "/app/units?status=in_service",
                      f"/app/units/{s['incident_unit']}", "/app/models",
                      "/app/organizations", "/app/recalls", f"/app/recalls/{s['recall_id']}",
                      "/app/signals", f"/app/incidents/{s['incident_id']}/trace",
                      f"/app/search?q={s['in_service']}", "/app/act/recall-open",
                      "/app/act/organization-create", "/app/policies", "/app/pilots",
                      "/app/act/pilot-open", "/app/findings?status=all", "/app/keys",
                      "/app/act/key-create",
                      f"/app/organizations/{org_id(demo, 'manufacturer')}",
                      f"/app/models/{first_model(demo)}"],
        "manufacturer": ["/app/portal", "/app/act/model-file", "/app/act/event-deployed"],
        "operator": ["/app/portal", "/app/findings", "/app/keys"], "seller": ["/app/portal"],
        "service_provider": ["/app/portal"], "recycler": ["/app/portal"],
        "component_supplier": ["/app/portal"], "software_provider": ["/app/portal"],
        "testing_lab": ["/app/portal"],
    }
    # Every page type in English; the Chinese pages share their templates, so a sample of the
    # page types is checked in Chinese too (lang attributes, longer labels).
    in_chinese = {"/app/dashboard", "/app/portal", "/app/act/model-file", "/app/findings",
                  "/app/keys", f"/app/models/{first_model(demo)}",
                  f"/app/incidents/{s['incident_id']}/trace", f"/app/units/{s['incident_unit']}"}
    for kind, paths in pages.items():
        page = sign_in(browser, base, key(demo, kind))
        for path in paths:
            for lang in ("en", "zh_CN") if path in in_chinese and kind in (
                    "regulator", "operator") else ("en",):
                page.goto(f"{base}{path}{'&' if '?' in path else '?'}lang={lang}")
                assert_accessible(page, f"{kind} {path} {lang}")
                if "/trace" in path:  # the seeded incident: parties, evidence, telemetry chart
                    shot(page, f"app-trace-seeded-{lang}.png")
        page.context.close()
    page = browser.new_context(bypass_csp=True).new_page()
    for path in (f"/r/{s['in_service']}", f"/r/{s['recalled']}", f"/r/{s.get('scrapped', '')}",
                 "/r/", "/app/login"):
        page.goto(base + path)
        assert_accessible(page, path)
    # a form with errors
    page = sign_in(browser, base, key(demo, "manufacturer"))
    page.goto(f"{base}/app/act/model-file")
    page.get_by_test_id("submit").click()
    page.wait_for_load_state()  # the page the click led to, loaded
    assert page.get_by_test_id("form-errors").count() == 1
    assert_accessible(page, "form with errors")
    page.context.close()
