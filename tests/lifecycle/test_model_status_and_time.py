"""Model status has teeth (SPEC §13) and events are never dated before issuance (SPEC §12);
each refusal is recorded as a refused attempt."""

from __future__ import annotations

from typing import Any

from tests.utils.api import DEPLOYMENT, ApiClient, Org


def _sold_unit(client: ApiClient) -> tuple[Org, Org, str, str]:
    maker = client.org("manufacturer")
    model_id = client.approved_model(maker)
    code = client.codes(maker, model_id, 1)[0]
    client.event(maker, code, "manufactured", at="2026-03-10T08:00:00Z")
    buyer = client.org("operator")
    client.event(maker, code, "sold", to_organization=buyer.id, at="2026-03-11T08:00:00Z")
    return maker, buyer, code, model_id


def _attempt_codes(client: ApiClient) -> list[str]:
    attempts = client.get("/api/v1/refused-attempts", client.regulator).json()["attempts"]
    return [a["error_code"] for a in attempts]


def _decide(client: ApiClient, model_id: str, decision: str) -> None:
    r = client.post(f"/api/v1/models/{model_id}/{decision}", {"reason": "test"},
                    client.regulator)
    assert r.status_code == 200, r.text


def test_a_revoked_models_units_leave_no_further(client: ApiClient) -> None:
    _maker, buyer, code, model_id = _sold_unit(client)
    other = client.org("operator")
    _decide(client, model_id, "revoke")
    for body in ({"type": "deployed", "details": DEPLOYMENT},
                 {"type": "transferred", "to_organization": other.id}):
        r = client.post(f"/api/v1/robots/{code}/events", body, buyer)
        assert r.status_code == 409, r.text
        assert r.json()["error"]["code"] == "model_revoked"
    # not a market event: maintenance paperwork and decommissioning stay possible
    client.event(buyer, code, "decommissioned")
    assert _attempt_codes(client).count("model_revoked") == 2


def test_a_suspended_models_units_may_deploy_but_not_change_hands(client: ApiClient) -> None:
    _maker, buyer, code, model_id = _sold_unit(client)
    other = client.org("operator")
    _decide(client, model_id, "suspend")
    r = client.post(f"/api/v1/robots/{code}/events",
                    {"type": "transferred", "to_organization": other.id}, buyer)
    assert r.status_code == 409 and r.json()["error"]["code"] == "model_suspended"
    client.event(buyer, code, "deployed", details=DEPLOYMENT)
    assert "model_suspended" in _attempt_codes(client)


def test_suspended_model_blocks_shipping_in_a_batch_naming_the_index(client: ApiClient) -> None:
    maker = client.org("manufacturer")
    seller = client.org("seller")
    model_id = client.approved_model(maker)
    codes = client.codes(maker, model_id, 2)
    events: list[dict[str, Any]] = [{"code": c, "type": "manufactured",
                                     "at": "2026-03-10T08:00:00Z"} for c in codes]
    r = client.post("/api/v1/events", {"events": events}, maker)
    assert r.status_code == 201, r.text
    _decide(client, model_id, "suspend")
    r = client.post("/api/v1/events", {"events": [
        {"code": codes[0], "type": "firmware_updated", "details": {"firmware": "2.0"}},
        {"code": codes[1], "type": "shipped", "to_organization": seller.id}]}, maker)
    assert r.status_code == 409
    error = r.json()["error"]
    assert error["code"] == "model_suspended" and error["index"] == 1
    history = client.get(f"/api/v1/robots/{codes[0]}/events", maker).json()["events"]
    assert [e["type"] for e in history] == ["manufactured"]  # all or nothing


def test_an_event_dated_before_its_codes_issuance_is_refused(client: ApiClient) -> None:
    maker = client.org("manufacturer")
    model_id = client.approved_model(maker)
    # issued now (not through the test helper, which issues as of the production month)
    r = client.post(f"/api/v1/models/{model_id}/codes",
                    {"count": 1, "plant": "A1", "production_month": "2026-03"}, maker)
    code = r.json()["codes"][0]
    r = client.post(f"/api/v1/robots/{code}/events",
                    {"type": "manufactured", "at": "2026-03-10T08:00:00Z"}, maker)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "time_before_issuance" and error["field"] == "at"
    assert "time_before_issuance" in _attempt_codes(client)
    client.event(maker, code, "manufactured")  # now is after issuance
