from __future__ import annotations

from robopass import idcode
from tests.utils.api import ApiClient, model_body


def test_issue_codes_for_approved_model(client: ApiClient) -> None:
    maker = client.org("manufacturer")
    model_id = client.approved_model(maker, hardware_class="W", intelligence_level=2)
    codes = client.codes(maker, model_id, 5, plant="B2", month="2026-02")
    assert len(set(codes)) == 5
    for i, code in enumerate(codes, start=1):
        parts = idcode.parse(code)
        assert parts.country == "CN" and parts.company == maker.company_code
        assert parts.plant == "B2" and parts.hardware_class == "W"
        assert parts.intelligence_level == 2 and parts.sequence == i
        assert (parts.production_year, parts.production_month) == (2026, 2)
    more = client.codes(maker, model_id, 2, plant="B2", month="2026-02")
    assert [idcode.parse(c).sequence for c in more] == [6, 7]
    r = client.get(f"/api/v1/robots/{codes[0]}")
    assert r.status_code == 200 and r.json()["status"] == "coded"


def test_no_codes_for_unapproved_or_foreign_model(client: ApiClient) -> None:
    maker, other = client.org("manufacturer"), client.org("manufacturer")
    submitted = client.post("/api/v1/models", model_body(), maker).json()["id"]
    body = {"count": 2, "plant": "A1", "production_month": "2026-01"}
    r = client.post(f"/api/v1/models/{submitted}/codes", body, maker)
    assert r.status_code == 409 and r.json()["error"]["code"] == "model_not_approved"
    approved = client.approved_model(maker)
    assert client.post(f"/api/v1/models/{approved}/codes", body, other).status_code == 403
    client.post(f"/api/v1/models/{approved}/suspend", None, client.regulator)
    r = client.post(f"/api/v1/models/{approved}/codes", body, maker)
    assert r.status_code == 409 and r.json()["error"]["code"] == "model_suspended"
    assert r.json()["error"]["field"] == "model_id"


def test_bad_issuance_input(client: ApiClient) -> None:
    maker = client.org("manufacturer")
    model_id = client.approved_model(maker)
    before = client.ledger_size()
    cases = [
        ({"count": 0, "plant": "A1", "production_month": "2026-01"}, "count"),
        ({"count": 2, "plant": "IO", "production_month": "2026-01"}, "plant"),
        ({"count": 2, "plant": "A1", "production_month": "2026-13"}, "production_month"),
        ({"count": 2, "plant": "A1", "production_month": "2099-01"}, "production_month"),
        ({"count": 100_001, "plant": "A1", "production_month": "2026-01"}, "count"),
        ({"count": "many", "plant": "A1", "production_month": "2026-01"}, "count"),
    ]
    for body, field in cases:
        r = client.post(f"/api/v1/models/{model_id}/codes", body, maker)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["field"] == field
    head = client.get("/api/v1/ledger/head").json()
    assert head["size"] == before  # nothing written


def test_issued_codes_are_ledgered(client: ApiClient) -> None:
    maker = client.org("manufacturer")
    model_id = client.approved_model(maker)
    before = client.ledger_size()  # the lab's accreditation and the approval are decisions
    codes = client.codes(maker, model_id, 4)
    head = client.get("/api/v1/ledger/head").json()
    assert head["size"] == before + 4
    entries = client.get(f"/api/v1/ledger/entries?start={before}&end={before + 10}").json()[
        "entries"]
    assert [e["index"] for e in entries] == [before, before + 1, before + 2, before + 3]
    import json

    assert [json.loads(e["leaf"])["code"] for e in entries] == codes
    assert all(json.loads(e["leaf"])["kind"] == "code" for e in entries)
