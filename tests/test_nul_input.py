"""NUL characters anywhere in input are a 422 on both backends, never a 500 (SPEC §12)."""

from __future__ import annotations

from tests.utils.api import ApiClient


def test_nul_in_path_and_body(client: ApiClient) -> None:
    maker = client.org("manufacturer")
    r = client.get("/api/v1/models/abc%00def", maker)
    assert r.status_code in (404, 422), r.text
    r = client.post("/api/v1/organizations", {"name": "Bad\u0000Name", "roles": ["seller"],
                                              "country": "DE", "registration_number": "1"},
                    client.regulator)
    assert r.status_code in (201, 422), r.text
    r = client.get("/api/v1/robots/CN%00/events", maker)
    assert r.status_code < 500, r.text
    r = client.get("/api/v1/organizations/org%00x", client.regulator)
    assert r.status_code in (404, 422), r.text


def test_nul_in_text_is_named(client: ApiClient) -> None:
    r = client.post("/api/v1/organizations", {"name": "Bad\u0000Name", "roles": ["seller"],
                                              "country": "DE", "registration_number": "1"},
                    client.regulator)
    if client.registry.backend == "postgresql":
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_characters"
    else:
        assert r.status_code == 201
