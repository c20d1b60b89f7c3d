"""EPCIS export validates against GS1's official schema; capture goes through the rules."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.utils.api import DEPLOYMENT, ApiClient

REF = Path(__file__).resolve().parents[2].parent / "shared" / "ref" / "epcis"


def _validator():  # type: ignore[no-untyped-def]
    schema_file = REF / "EPCIS-JSON-Schema.json"
    if not schema_file.exists():
        if os.environ.get("CI"):
            pytest.fail(f"GS1 EPCIS schema missing at {schema_file}; CI needs ../shared/ref")
        pytest.skip(f"GS1 EPCIS schema not found at {schema_file} (../shared/ref absent)")
    from jsonschema import Draft7Validator, FormatChecker

    return Draft7Validator(json.loads(schema_file.read_text()), format_checker=FormatChecker())


def _unit_with_history(client: ApiClient) -> tuple[object, str]:
    maker, code = client.manufactured_unit()
    seller, buyer = client.org("seller"), client.org("operator")
    client.event(maker, code, "shipped", to_organization=seller.id)
    client.event(seller, code, "sold", to_organization=buyer.id)
    client.event(buyer, code, "deployed", details=DEPLOYMENT)
    client.event(buyer, code, "maintenance_started")
    client.event(buyer, code, "maintenance_completed")
    client.event(buyer, code, "firmware_updated", details={"firmware": "2.5.0"})
    client.event(buyer, code, "decommissioned")
    return buyer, code


def test_export_validates_against_gs1_schema(client: ApiClient) -> None:
    validator = _validator()
    buyer, code = _unit_with_history(client)
    r = client.get(f"/api/v1/robots/{code}/epcis", buyer)  # type: ignore[arg-type]
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/ld+json")
    doc = r.json()
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(doc)]
    assert errors == []
    events = doc["epcisBody"]["eventList"]
    assert [e["bizStep"] for e in events][:3] == ["commissioning", "shipping", "retail_selling"]
    assert all(e["epcList"] == [f"http://testserver/r/{code}"] or
               e["epcList"][0].endswith(f"/r/{code}") for e in events)
    assert client.get(f"/api/v1/robots/{code}/epcis", client.org("operator")).status_code == 403


def test_capture_records_through_rules(client: ApiClient) -> None:
    maker = client.org("manufacturer")
    model_id = client.approved_model(maker)
    code = client.codes(maker, model_id, 1)[0]
    doc = {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument", "schemaVersion": "2.0",
        "creationDate": "2026-03-10T10:00:00Z",
        "epcisBody": {"eventList": [{
            "type": "ObjectEvent", "action": "ADD", "bizStep": "commissioning",
            "disposition": "active", "epcList": [f"http://127.0.0.1:8000/r/{code}"],
            "eventTime": "2026-03-10T09:00:00+08:00", "eventTimeZoneOffset": "+08:00"}]},
    }
    r = client.post("/api/v1/epcis/capture", doc, maker)
    assert r.status_code == 201, r.text
    assert r.json()["events"][0]["type"] == "manufactured"
    assert client.get(f"/api/v1/robots/{code}").json()["status"] == "manufactured"
    # Same document again: invalid transition, nothing written.
    size = client.get("/api/v1/ledger/head").json()["size"]
    r = client.post("/api/v1/epcis/capture", doc, maker)
    assert r.status_code == 409
    assert client.get("/api/v1/ledger/head").json()["size"] == size


def test_capture_rejects_malformed_documents(client: ApiClient) -> None:
    maker = client.org("manufacturer")
    r = client.raw.post("/api/v1/epcis/capture", content=b"{not json", headers=maker.auth)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_json"
    r = client.post("/api/v1/epcis/capture", {"type": "EPCISDocument"}, maker)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_epcis"
    bad_time = {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-03-10T10:00:00Z",
        "epcisBody": {"eventList": [{"type": "ObjectEvent", "action": "OBSERVE",
                                     "bizStep": "shipping", "epcList": ["urn:robopass:X"],
                                     "eventTime": "not-a-time"}]}}
    r = client.post("/api/v1/epcis/capture", bad_time, maker)
    assert r.status_code == 422 and "eventTime" in r.json()["error"]["field"]
