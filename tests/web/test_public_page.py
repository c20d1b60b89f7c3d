"""GET /r/{code}: always HTML, genuine or not and why, in Chinese and English."""

from __future__ import annotations

import re

import pytest
from tests.utils.api import DEPLOYMENT

from robopass import idcode


def page(client, path: str, lang: str | None = None, **headers: str):  # type: ignore[no-untyped-def]
    if lang:
        headers["Accept-Language"] = lang
    r = client.raw.get(path, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    return r


def verdict(html: str) -> str:
    match = re.search(r'data-verdict="(\w+)"', html)
    assert match, html
    return match.group(1)


def reason(html: str) -> str | None:
    match = re.search(r'data-reason="(\w+)"', html)
    return match.group(1) if match else None


def test_genuine_robot_shows_public_facts_only(client) -> None:  # type: ignore[no-untyped-def]
    maker, code = client.manufactured_unit()
    buyer = client.org("operator", province="110000", city="110100")
    client.event(maker, code, "sold", to_organization=buyer.id, at="2026-03-11T08:00:00Z")
    client.event(buyer, code, "deployed", at="2026-03-12T08:00:00Z", details=DEPLOYMENT)
    client.event(buyer, code, "maintenance_started", at="2026-03-13T08:00:00Z")
    client.event(buyer, code, "maintenance_completed", at="2026-03-13T09:00:00Z")
    html = page(client, f"/r/{code}", "en").text
    assert verdict(html) == "genuine" and reason(html) is None
    assert idcode.format(code) in html
    assert "In service" in html and "March 2026" in html
    assert re.search(r'data-testid="owners">1<', html)
    assert re.search(r'data-testid="maintenance">1<', html)
    assert re.search(r'data-testid="incidents">0<', html)
    assert 'data-testid="battery">Not reported<' in html
    buyer_name = client.get(f"/api/v1/organizations/{buyer.id}", client.regulator).json()["name"]
    for secret in (buyer.id, buyer_name, "110000", "110100"):
        assert secret not in html
    assert "<script" not in html  # works without JavaScript
    csp = client.raw.get(f"/r/{code}").headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp


@pytest.mark.parametrize("transform", [str.lower, idcode.format,
                                       lambda c: " " + idcode.format(c).lower() + " "])
def test_lower_case_and_hyphenated_codes_normalise(client, transform) -> None:  # type: ignore[no-untyped-def]
    _, code = client.manufactured_unit()
    html = page(client, f"/r/{transform(code)}", "en").text
    assert verdict(html) == "genuine" and idcode.format(code) in html


def test_typo_caught_by_check_character_suggests_the_registered_code(client) -> None:  # type: ignore[no-untyped-def]
    _, code = client.manufactured_unit()
    wrong_check = code[:-1] + ("A" if code[-1] != "A" else "B")
    html = page(client, f"/r/{wrong_check}", "en").text
    assert verdict(html) == "not_genuine" and reason(html) == "invalid_checksum"
    assert f'href="/r/{code}"' in html and "Did you mean" in html
    # one substituted character in the serial: the check character catches it too
    pos = 25
    typo = code[:pos] + ("7" if code[pos] != "7" else "8") + code[pos + 1:]
    html = page(client, f"/r/{typo}", "en").text
    assert reason(html) == "invalid_checksum" and f'href="/r/{code}"' in html


@pytest.mark.parametrize("raw, why", [
    ("<script>alert(1)</script>", "invalid_length"),
    ("CN10000000012603A13B0000000", "invalid_length"),
    ("CN1000000001260$A13B00000001V", "invalid_character"),
    ("ZZ10000000012603A13B00000001V", "invalid_country"),
    ("CN1O00000001260$A13B00000001V", "invalid_character"),
    ("CN10000000012613A13B00000001V", "invalid_month"),
    ("%F0%9F%A4%96", "invalid_length"),
    ("a/b/c", "invalid_length"),
])
def test_garbage_explains(client, raw: str, why: str) -> None:  # type: ignore[no-untyped-def]
    html = page(client, f"/r/{raw}", "en").text
    assert verdict(html) == "not_genuine" and reason(html) == why
    assert "<script>alert" not in html


def test_unknown_code_is_not_genuine(client) -> None:  # type: ignore[no-untyped-def]
    code = idcode.with_check("CN10000000012603A13B00000777")
    html = page(client, f"/r/{code}", "en").text
    assert verdict(html) == "not_genuine" and reason(html) == "not_registered"
    assert "may be forged" in html


def test_revoked_model_and_scrapped_robot_warn(client) -> None:  # type: ignore[no-untyped-def]
    maker, code = client.manufactured_unit()
    model_id = client.get(f"/api/v1/robots/{code}").json()["model"]["id"]
    r = client.post(f"/api/v1/models/{model_id}/revoke", {"reason": "unsafe"}, client.regulator)
    assert r.status_code == 200, r.text
    html = page(client, f"/r/{code}", "en").text
    assert verdict(html) == "warning" and reason(html) == "model_revoked"
    assert "revoked" in html

    maker2, code2 = client.manufactured_unit()
    recycler = client.org("recycler")
    client.event(maker2, code2, "decommissioned", at="2026-03-11T08:00:00Z")
    client.event(recycler, code2, "scrapped", at="2026-03-12T08:00:00Z")
    html = page(client, f"/r/{code2}", "en").text
    # a scrapped robot reads as "do not buy", not as an ordinary warning (an open recall's)
    assert verdict(html) == "do_not_buy" and reason(html) == "unit_scrapped"
    assert "Scrapped" in html and "Do not buy" in html
    assert "请勿购买" in page(client, f"/r/{code2}", "zh_CN").text


def test_foreign_code_without_peer(client) -> None:  # type: ignore[no-untyped-def]
    code = idcode.with_check("DE10000000012603A13B00000001")
    html = page(client, f"/r/{code}", "en").text
    assert verdict(html) == "unknown" and reason(html) == "unknown_peer"


def test_language_negotiation_switch_and_cookie(client) -> None:  # type: ignore[no-untyped-def]
    _, code = client.manufactured_unit()
    zh = page(client, f"/r/{code}", "zh-CN,zh;q=0.9,en;q=0.5")
    assert '<html lang="zh-Hans">' in zh.text and "正品" in zh.text and "生产年月" in zh.text
    assert "2026年3月" in zh.text
    en = page(client, f"/r/{code}", "en-GB,en;q=0.9,zh;q=0.1")
    assert '<html lang="en">' in en.text and "Genuine" in en.text
    assert page(client, f"/r/{code}", "fr-FR").text.count("Genuine") >= 1  # default: English
    # every page links to the other language; ?lang= wins and is remembered in a cookie
    assert f'href="/r/{code}?lang=zh_CN"' in en.text
    switched = page(client, f"/r/{code}?lang=zh_CN", "en")
    assert "正品" in switched.text and switched.cookies.get("robopass_lang") == "zh_CN"
    remembered = client.raw.get(f"/r/{code}", headers={"Accept-Language": "en"})
    assert "正品" in remembered.text  # the client kept the cookie
    client.raw.cookies.clear()
    bad = client.raw.get(f"/r/{code}?lang=xx", headers={"Accept-Language": "en"})
    assert bad.status_code == 200 and "Genuine" in bad.text


def test_chinese_reasons_are_translated(client) -> None:  # type: ignore[no-untyped-def]
    html = page(client, "/r/CN1O00000001260", "zh-CN").text
    assert "非正品" in html and "机器人编码由 29 位字母和数字组成" in html


def test_lookup_form_and_redirect(client) -> None:  # type: ignore[no-untyped-def]
    _, code = client.manufactured_unit()
    html = page(client, "/r/", "en").text
    assert '<form class="lookup" method="get" action="/r/"' in html
    r = client.raw.get(f"/r/?code={code.lower()}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/r/{code.lower()}"


def test_static_css_and_healthz(client) -> None:  # type: ignore[no-untyped-def]
    r = client.raw.get("/static/robopass.css")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/css")
    assert client.raw.get("/static/../../api.py").status_code == 404
    assert client.raw.get("/static/nothing.css").status_code == 404
    assert client.raw.get("/healthz").json() == {"status": "ok"}


def test_summary_counts_incidents_battery_band_and_recalls(client) -> None:  # type: ignore[no-untyped-def]
    maker, code = client.manufactured_unit()
    owner = client.org("operator")
    client.event(maker, code, "sold", to_organization=owner.id, at="2026-03-11T08:00:00Z")
    client.event(owner, code, "deployed", at="2026-03-12T08:00:00Z", details=DEPLOYMENT)
    from robopass.timeutil import rfc3339, utcnow

    recent = rfc3339(utcnow().replace(microsecond=0))
    r = client.post("/api/v1/telemetry", [{"code": code, "at": recent,
                                           "metrics": {"battery_soh": 74.5}}], owner)
    assert r.status_code in (200, 201) and r.json()["stored"] == 1, r.text
    r = client.post("/api/v1/incidents", {"code": code, "at": recent,
                                          "type": "malfunction", "severity": "minor",
                                          "description": "left knee stalled"}, owner)
    assert r.status_code == 201, r.text
    model_id = client.get(f"/api/v1/robots/{code}", maker).json()["model"]["id"]
    r = client.post("/api/v1/recalls", {"reason": "Knee actuator may overheat",
                                        "scope": {"model_id": model_id}}, maker)
    assert r.status_code == 201, r.text
    html = page(client, f"/r/{code}", "en").text
    assert verdict(html) == "warning" and reason(html) == "open_recall"
    assert re.search(r'data-testid="incidents">1<', html)
    assert 'data-testid="battery">Fair' in html and "74.5" not in html
    assert "Knee actuator may overheat" in html and re.search(r'data-testid="recalls">1<', html)
    assert "left knee stalled" not in html  # incident details are not public
    passport = client.get(f"/api/v1/robots/{code}/passport").json()
    from robopass.passports.verify import decode_unverified

    claims = decode_unverified(passport["passport"])[1]
    assert claims["summary"] == {"production_month": "2026-03", "owners": 1,
                                 "maintenance_count": 0, "incidents": 1,
                                 "battery_health": "fair"}
    assert [r["reason"] for r in claims["open_recalls"]] == ["Knee actuator may overheat"]
