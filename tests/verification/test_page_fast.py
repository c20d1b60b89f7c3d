"""``verification.service.page_fast`` (the ``/r/{code}`` hot path: one statement on a pooled
DBAPI connection) answers exactly what the full path answers, and declines every case the full
path must handle."""

from __future__ import annotations

from typing import Any

from robopass.db import get_engine
from robopass.timeutil import rfc3339, utcnow
from robopass.verification import service
from tests.utils.api import DEPLOYMENT


def full(url: str, code: str) -> tuple[dict[str, Any], dict[str, Any]]:
    result = service.verify_fast(url, code)
    summary = service.buyer_summary(get_engine(url), result["code"],
                                    result.get("production_month"))
    return result, summary


def test_same_answer_as_verify_and_buyer_summary(client) -> None:  # type: ignore[no-untyped-def]
    url = client.registry.url
    maker, code = client.manufactured_unit()
    owner = client.org("operator")
    second = client.org("operator")
    client.event(maker, code, "sold", to_organization=owner.id, at="2026-03-11T08:00:00Z")
    client.event(owner, code, "deployed", at="2026-03-12T08:00:00Z", details=DEPLOYMENT)
    client.event(owner, code, "maintenance_started", at="2026-03-13T08:00:00Z")
    client.event(owner, code, "maintenance_completed", at="2026-03-13T09:00:00Z")
    client.event(owner, code, "transferred", to_organization=second.id,
                 at="2026-03-14T08:00:00Z")
    recent = rfc3339(utcnow().replace(microsecond=0))
    r = client.post("/api/v1/telemetry", [{"code": code, "at": recent,
                                           "metrics": {"battery_soh": 74.5}}], second)
    assert r.status_code in (200, 201), r.text
    r = client.post("/api/v1/incidents", {"code": code, "at": recent, "type": "malfunction",
                                          "severity": "minor", "description": "knee"}, second)
    assert r.status_code == 201, r.text
    expected = full(url, code)  # also teaches the service the registry's country
    assert expected[1]["owners"] == 2 and expected[1]["maintenance_count"] == 1
    assert expected[1]["incidents"] == 1 and expected[1]["battery_health"] == "fair"
    for raw in (code, code.lower(), f" {code[:2]}-{code[2:]} "):
        assert service.page_fast(url, raw) == expected
    # a fresh unit: zero counts, no battery reading
    _, other = client.manufactured_unit(maker)
    assert service.page_fast(url, other) == full(url, other)


def test_declines_what_the_full_path_must_answer(client) -> None:  # type: ignore[no-untyped-def]
    url = client.registry.url
    maker, code = client.manufactured_unit()
    service.verify_fast(url, code)
    assert service.page_fast(url, code) is not None
    bad = code[:-1] + ("A" if code[-1] != "A" else "B")
    unknown = client.codes(maker, client.approved_model(maker), 1)[0]
    missing = code[:20] + "99999999"
    from robopass import idcode

    for raw in ("hello", "", bad, idcode.with_check(missing[:28]), "DE" + code[2:]):
        assert service.page_fast(url, raw) is None
    assert service.page_fast(url, unknown) is not None  # coded: registered, no history
    model_id = client.get(f"/api/v1/robots/{code}", maker).json()["model"]["id"]
    r = client.post("/api/v1/recalls", {"reason": "Knee actuator may overheat",
                                        "scope": {"model_id": model_id}}, maker)
    assert r.status_code == 201, r.text
    assert service.page_fast(url, code) is None  # open recall: listed by the full path


def test_declines_before_the_registry_country_is_known(client) -> None:  # type: ignore[no-untyped-def]
    _, code = client.manufactured_unit()
    service._own_country.pop(client.registry.url, None)
    assert service.page_fast(client.registry.url, code) is None
