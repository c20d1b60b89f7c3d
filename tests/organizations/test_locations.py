"""Organisation and unit locations are checked against GB/T 2260 (SPEC §12), on both databases."""

from __future__ import annotations

import pytest

from tests.utils.api import make_uscc


@pytest.mark.parametrize(("over", "field"), [
    ({"province": "650000"}, None), ({"province": "540000", "city": "540100"}, None),
    ({"province": "450000"}, None),
    ({"province": "440000", "city": "449900"}, "city"),
    ({"province": "440000", "city": "110100"}, "city"),
    ({"province": "999999"}, "province"),
    ({"province": "440000", "city": "440106"}, "city"),
])
def test_organisation_locations(client, over, field) -> None:  # type: ignore[no-untyped-def]
    body = {"name": f"Loc {over}", "roles": ["operator"], "country": "CN", "uscc": make_uscc(),
            **over}
    r = client.post("/api/v1/organizations", body, client.regulator)
    if field is None:
        assert r.status_code == 201, r.text
    else:
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "invalid_division"
        assert r.json()["error"]["field"] == field


def test_event_locations(client) -> None:  # type: ignore[no-untyped-def]
    maker = client.org("manufacturer")
    code = client.codes(maker, client.approved_model(maker), count=1)[0]
    bad = client.post(f"/api/v1/robots/{code}/events", {
        "type": "manufactured", "details": {"province": "440000", "city": "110100"}}, maker)
    assert bad.status_code == 422, bad.text
    assert bad.json()["error"]["field"] == "details.city"
    ok = client.post(f"/api/v1/robots/{code}/events", {
        "type": "manufactured", "details": {"province": "650000", "city": "650100"}}, maker)
    assert ok.status_code == 201, ok.text
    robot = client.get(f"/api/v1/robots/{code}", maker).json()
    assert (robot["province"], robot["city"]) == ("650000", "650100")
