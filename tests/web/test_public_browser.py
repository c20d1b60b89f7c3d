"""The public page in a real Chromium (Playwright) against a real uvicorn server: phone
viewport, no JavaScript, language switch, the lookup form, and a screenshot for the docs."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.utils.api import DEPLOYMENT, evaluation_body, model_body
from tests.utils.server import running_server

from robopass import idcode

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
# The browser tests always take their screenshots; they replace the ones in docs/ only when
# ROBOPASS_SCREENSHOTS=1 (so `make test` leaves the work tree clean).
SCREENSHOTS = (Path(__file__).resolve().parents[2] / "docs" / "screenshots"
               if os.environ.get("ROBOPASS_SCREENSHOTS") == "1"
               else Path(tempfile.gettempdir()) / "robopass-screenshots")
SCREENSHOTS.mkdir(parents=True, exist_ok=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not os.path.exists(CHROMIUM) or shutil.which("chromium") is None:
        from tests.conftest import require_service

        require_service(False, "Chromium at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield b
        b.close()


@pytest.fixture
def site(sqlite_registry) -> Iterator[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """A server with one robot that was sold and serviced once; yields (base URL, code)."""
    with running_server(sqlite_registry.url) as base:
        key = sqlite_registry.regulator_key

        def post(path: str, body: object, k: str) -> dict:  # type: ignore[type-arg]
            r = httpx.post(f"{base}{path}", json=body, headers={"Authorization": f"Bearer {k}"})
            assert r.status_code in (200, 201), r.text
            return r.json()  # type: ignore[no-any-return]

        maker = post("/api/v1/organizations",
                     {"name": "星河机器人有限公司", "roles": ["manufacturer"], "country": "DE",
                      "registration_number": "HRB 1"}, key)
        buyer = post("/api/v1/organizations",
                     {"name": "Buyer", "roles": ["operator"], "country": "DE",
                      "registration_number": "HRB 2"}, key)
        model = post("/api/v1/models", model_body("Walker H1 Pro"), maker["api_key"])
        lab = post("/api/v1/organizations", {"name": "Lab", "roles": ["testing_lab"],
                                             "country": "DE", "registration_number": "HRB 3"},
                   key)
        post(f"/api/v1/organizations/{lab['id']}/accreditation",
             {"scopes": ["intelligence", "safety"], "valid_until": "2030-12-31"}, key)
        post(f"/api/v1/models/{model['id']}/evaluations", evaluation_body(3), lab["api_key"])
        post(f"/api/v1/models/{model['id']}/approve", None, key)
        code = post(f"/api/v1/models/{model['id']}/codes",
                    {"count": 1, "plant": "A1", "production_month": "2026-03"},
                    maker["api_key"])["codes"][0]
        # dated now (the default): the live server issued the code now, and an event may not
        # be dated before its code's issuance (SPEC §12)
        for body, k in ((({"type": "manufactured"}),
                         maker["api_key"]),
                        ({"type": "sold", "to_organization": buyer["id"]}, maker["api_key"]),
                        ({"type": "deployed", "details": DEPLOYMENT},
                         buyer["api_key"]),
                        ({"type": "maintenance_started"},
                         buyer["api_key"]),
                        ({"type": "maintenance_completed"},
                         buyer["api_key"])):
            post(f"/api/v1/robots/{code}/events", body, k)
        yield base, code


def phone(browser, locale: str):  # type: ignore[no-untyped-def]
    return browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2,
                               is_mobile=True, has_touch=True, java_script_enabled=False,
                               locale=locale)


def test_phone_page_without_javascript_and_screenshot(browser, site) -> None:  # type: ignore[no-untyped-def]
    base, code = site
    context = phone(browser, "zh-CN")
    page = context.new_page()
    response = page.goto(f"{base}/r/{idcode.format(code).lower()}")
    assert response is not None and response.status == 200
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    assert page.locator("[data-verdict]").get_attribute("data-verdict") == "genuine"
    assert "正品" in page.locator("h1").inner_text()
    assert page.get_by_test_id("owners").inner_text() == "1"
    assert page.get_by_test_id("maintenance").inner_text() == "1"
    assert page.get_by_test_id("status").inner_text() == "使用中"
    # fits a small phone: nothing scrolls sideways
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "public-page.png"), full_page=True)
    # switch language by the link on the page
    page.get_by_role("link", name="English").click()
    assert "Genuine" in page.locator("h1").inner_text()
    assert page.get_by_test_id("status").inner_text() == "In service"
    page.screenshot(path=str(SCREENSHOTS / "public-page-en.png"), full_page=True)
    # the choice is remembered by cookie across pages
    page.goto(f"{base}/r/{code}")
    assert "Genuine" in page.locator("h1").inner_text()
    context.close()


def test_lookup_form_typo_and_suggestion(browser, site) -> None:  # type: ignore[no-untyped-def]
    base, code = site
    context = phone(browser, "en-US")
    page = context.new_page()
    page.goto(f"{base}/r/")
    typo = code[:-1] + ("A" if code[-1] != "A" else "B")
    page.get_by_label("Check another robot code").fill(typo)
    page.get_by_role("button", name="Check").click()
    assert page.locator("[data-verdict]").get_attribute("data-verdict") == "not_genuine"
    assert page.get_by_test_id("reason").get_attribute("data-reason") == "invalid_checksum"
    page.get_by_role("link", name=idcode.format(code)).click()
    assert page.locator("[data-verdict]").get_attribute("data-verdict") == "genuine"
    page.goto(f"{base}/r/%3Cimg%20src=x%20onerror=alert(1)%3E")
    assert page.locator("[data-verdict]").get_attribute("data-verdict") == "not_genuine"
    assert page.locator("img").count() == 0
    page.screenshot(path=str(SCREENSHOTS / "public-page-invalid.png"), full_page=True)
    context.close()
