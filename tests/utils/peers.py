"""A foreign registry's robots, made over HTTP on a live server (federation and EPCIS tests)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.utils.api import evaluation_body, model_body


def post(base: str, path: str, key: str, body: object) -> dict[str, Any]:
    r = httpx.post(f"{base}{path}", json=body, headers={"Authorization": f"Bearer {key}"},
                   timeout=30)
    assert r.status_code in (200, 201), r.text
    return r.json()  # type: ignore[no-any-return]


def org(base: str, key: str, name: str, role: str, number: str) -> dict[str, Any]:
    return post(base, "/api/v1/organizations", key, {
        "name": name, "roles": [role], "country": "DE", "registration_number": number})


def manufactured_robots(base: str, key: str, count: int, *, maker_name: str = "Roboterwerk GmbH"
                        ) -> tuple[dict[str, Any], list[str]]:
    """A German maker with a model evaluated by an accredited lab, approved, and ``count``
    robots manufactured now (the regulator's ``key``). Returns the maker and the codes."""
    maker = org(base, key, maker_name, "manufacturer", "HRB 4711")
    model = post(base, "/api/v1/models", maker["api_key"], model_body("Arbeiter A1"))
    lab = org(base, key, "Prüflabor GmbH", "testing_lab", "HRB 4799")
    post(base, f"/api/v1/organizations/{lab['id']}/accreditation", key,
         {"scopes": ["intelligence", "safety"], "valid_until": "2030-12-31"})
    post(base, f"/api/v1/models/{model['id']}/evaluations", lab["api_key"], evaluation_body(3))
    post(base, f"/api/v1/models/{model['id']}/approve", key, None)
    codes: list[str] = post(base, f"/api/v1/models/{model['id']}/codes", maker["api_key"],
                            {"count": count, "plant": "B2",
                             "production_month": "2026-02"})["codes"]
    for code in codes:
        post(base, f"/api/v1/robots/{code}/events", maker["api_key"], {"type": "manufactured"})
    return maker, codes
