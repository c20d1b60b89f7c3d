"""Maintenance by authorised service providers, and its listings (SPEC §4, §6)."""

from __future__ import annotations

from tests.utils.api import DEPLOYMENT, ApiClient


def test_work_orders_component_swap_and_listings(client: ApiClient) -> None:
    supplier = client.org("component_supplier")
    maker = client.org("manufacturer")
    owner = client.org("operator")
    provider, stranger_sp = client.org("service_provider"), client.org("service_provider")
    model_id = client.approved_model(maker)
    code = client.codes(maker, model_id, 1)[0]
    client.event(maker, code, "manufactured", at="2026-03-10T08:00:00Z", details={
        "components": [{"serial": "JA-1", "type": "joint_actuator",
                        "supplier_id": supplier.id, "batch": "J-1"}]})
    client.event(maker, code, "sold", to_organization=owner.id, at="2026-03-11T08:00:00Z")
    client.event(owner, code, "deployed", at="2026-03-12T08:00:00Z", details=DEPLOYMENT)

    # not yet authorised: refused, nothing written
    before = client.get(f"/api/v1/robots/{code}/events", owner).json()["events"]
    client.event(provider, code, "maintenance_started", expect=403,
                 details={"work_order": "WO-1"})
    assert client.get(f"/api/v1/robots/{code}/maintenance", provider).status_code == 403
    r = client.post("/api/v1/service-authorizations", {"provider_id": provider.id, "code": code},
                    owner)
    assert r.status_code == 201, r.text
    assert client.get(f"/api/v1/robots/{code}/events", owner).json()["events"] == before

    started = client.event(provider, code, "maintenance_started", at="2026-04-01T09:00:00Z",
                           details={"work_order": "WO-1", "description": "knee overhaul"})
    swapped = client.event(provider, code, "component_replaced", at="2026-04-01T10:00:00Z",
                           details={"removed": "JA-1", "installed": {
                               "serial": "JA-2", "type": "joint_actuator",
                               "supplier_id": supplier.id, "batch": "J-2"}})
    fw = client.event(provider, code, "firmware_updated", at="2026-04-01T10:30:00Z",
                      details={"firmware": "3.0.1"})
    done = client.event(provider, code, "maintenance_completed", at="2026-04-01T11:00:00Z",
                        details={"work_order": "WO-1", "parts": ["JA-2"]})
    client.event(stranger_sp, code, "maintenance_started", expect=403)

    m = client.get(f"/api/v1/robots/{code}/maintenance", provider)
    assert m.status_code == 200, m.text
    data = m.json()
    assert data["maintenance_count"] == 1
    [order] = data["work_orders"]
    assert order["work_order"] == "WO-1" and order["status"] == "completed"
    assert order["provider"]["id"] == provider.id
    assert order["description"] == "knee overhaul" and order["parts"] == ["JA-2"]
    assert order["ledger_indexes"] == [started["ledger_index"], swapped["ledger_index"],
                                       fw["ledger_index"], done["ledger_index"]]
    history = {c["serial"]: c for c in data["components"]}
    assert history["JA-1"]["unbound_at"] == "2026-04-01T10:00:00Z"
    assert history["JA-1"]["unbound_by_event"] == swapped["id"]
    assert history["JA-2"]["unbound_at"] is None
    unit = client.get(f"/api/v1/robots/{code}", owner).json()
    assert [c["serial"] for c in unit["components"]] == ["JA-2"]
    assert unit["firmware"] == "3.0.1"

    for org in (owner, maker, client.regulator):
        assert client.get(f"/api/v1/robots/{code}/maintenance", org).status_code == 200
    assert client.get(f"/api/v1/robots/{code}/maintenance", stranger_sp).status_code == 403
    assert client.get(f"/api/v1/robots/{code}/maintenance").status_code == 401
    assert client.get("/api/v1/robots/CN-NOPE/maintenance", owner).status_code == 422

    work = client.get("/api/v1/work-orders", provider).json()
    assert [o["work_order"] for o in work["work_orders"]] == ["WO-1"]
    assert work["work_orders"][0]["code"] == code
    assert len(work["events"]) == 4
    assert client.get("/api/v1/work-orders", stranger_sp).json()["work_orders"] == []
    ranged = client.get("/api/v1/work-orders", provider,
                        params={"from": "2026-04-01T10:15:00Z", "code": code}).json()
    assert [e["type"] for e in ranged["events"]] == ["maintenance_completed", "firmware_updated"]
