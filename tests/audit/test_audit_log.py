from __future__ import annotations

from tests.utils.api import DEPLOYMENT, ApiClient


def test_sensitive_reads_are_logged_public_ones_not(client: ApiClient) -> None:
    maker, code = client.manufactured_unit()
    client.get(f"/api/v1/robots/{code}")  # public tier: not logged
    client.get(f"/api/v1/verify/{code}")
    assert client.get(f"/api/v1/robots/{code}", maker).status_code == 200
    assert client.get(f"/api/v1/robots/{code}/events", maker).status_code == 200
    assert client.get(f"/api/v1/robots/{code}/epcis", maker).status_code == 200
    stranger = client.org("operator")
    assert client.get(f"/api/v1/robots/{code}/events", stranger).status_code == 403
    log = client.get(f"/api/v1/audit-log?subject={code}", client.regulator).json()["entries"]
    assert sorted(e["action"] for e in log) == ["read_epcis", "read_events", "read_robot"]
    assert {e["organization"] for e in log} == {maker.id}
    assert all(e["tier"] == "legitimate" for e in log)
    assert client.get("/api/v1/audit-log", maker).status_code == 403


def test_telemetry_health_and_trace_reads_are_logged(client: ApiClient) -> None:
    maker, code = client.manufactured_unit()
    buyer = client.org("operator")
    client.event(maker, code, "sold", to_organization=buyer.id)
    client.event(buyer, code, "deployed", details=DEPLOYMENT)
    assert client.get(f"/api/v1/robots/{code}/health", buyer).status_code == 200
    assert client.get(f"/api/v1/robots/{code}/telemetry", buyer).status_code == 200
    r = client.post("/api/v1/incidents", {"code": code, "at": "2026-11-01T10:00:00Z",
                                          "type": "near_miss", "severity": "minor",
                                          "description": "arm stopped short of a worker"},
                    buyer)
    assert r.status_code == 201, r.text
    incident = r.json()["id"]
    assert client.get(f"/api/v1/incidents/{incident}/trace", client.regulator).status_code == 200
    log = client.get("/api/v1/audit-log", client.regulator).json()["entries"]
    actions = {(e["action"], e["subject"]) for e in log}
    assert {("read_health", code), ("read_telemetry", code),
            ("read_trace", incident)} <= actions
