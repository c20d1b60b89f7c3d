from __future__ import annotations

from tests.utils.api import ApiClient


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
