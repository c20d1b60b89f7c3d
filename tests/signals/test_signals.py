"""Defect signals: thresholds per model, batch and supplier, and one-step recalls (SPEC §6)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from robopass.signals import service as signal_service
from robopass.timeutil import rfc3339, utcnow
from tests.utils.api import ApiClient, Org


def _fleet(client: ApiClient, maker: Org, supplier: Org, n: int, batch: str) -> list[str]:
    model_id = client.approved_model(maker)
    codes = client.codes(maker, model_id, n)
    events = [{"code": c, "type": "manufactured", "at": "2026-03-10T08:00:00Z", "details": {
        "components": [{"serial": f"BP-{c}", "type": "battery_pack",
                        "supplier_id": supplier.id, "batch": batch}]}} for c in codes]
    r = client.post("/api/v1/events", {"events": events}, maker)
    assert r.status_code == 201, r.text
    return codes


def _incident(client: ApiClient, org: Org, code: str) -> Any:
    r = client.post("/api/v1/incidents", {
        "code": code, "at": rfc3339(utcnow() - timedelta(hours=1)), "type": "malfunction",
        "severity": "major", "description": "battery swelled"}, org)
    assert r.status_code == 201, r.text
    return r.json()


def test_threshold() -> None:
    assert signal_service.threshold(20) == signal_service.MIN_UNITS
    assert signal_service.threshold(1000) == 20
    assert signal_service.threshold(1001) == 21


def test_incident_signal_and_recall_from_it(client: ApiClient) -> None:
    supplier = client.org("component_supplier")
    maker, other_maker = client.org("manufacturer"), client.org("manufacturer")
    codes = _fleet(client, maker, supplier, 20, "B-7")
    _fleet(client, other_maker, supplier, 5, "B-9")
    _incident(client, maker, codes[0])
    _incident(client, maker, codes[1])
    _incident(client, maker, codes[1])  # the same unit twice is still two units in all
    assert client.get("/api/v1/signals", client.regulator).json()["signals"] == []
    _incident(client, maker, codes[2])

    signals = client.get("/api/v1/signals", maker).json()["signals"]
    kinds = sorted(s["group"]["kind"] for s in signals)
    assert kinds == ["component_batch", "component_supplier", "model"]
    model_signal = next(s for s in signals if s["group"]["kind"] == "model")
    assert model_signal["trigger"] == {"kind": "incident", "value": "malfunction"}
    assert (model_signal["unit_count"], model_signal["population"]) == (3, 20)
    assert model_signal["rate"] == 0.15
    full = client.get(f"/api/v1/signals/{model_signal['id']}", maker).json()
    assert sorted(full["units"]) == sorted(codes[:3])
    supplier_signal = next(s for s in signals if s["group"]["kind"] == "component_supplier")
    assert supplier_signal["population"] == 25  # both manufacturers' units carry its packs
    # the regulator sees all; another manufacturer only what touches its units
    assert len(client.get("/api/v1/signals", client.regulator).json()["signals"]) == 3
    assert [s["group"]["kind"] for s in client.get(
        "/api/v1/signals", other_maker).json()["signals"]] == []
    assert client.get(f"/api/v1/signals/{model_signal['id']}",
                      other_maker).status_code == 403
    notes = client.get("/api/v1/notifications", maker).json()["notifications"]
    assert {n["topic"] for n in notes} >= {"defect_signal"}

    # one step from the signal to a recall over the model
    r = client.post(f"/api/v1/signals/{model_signal['id']}/recall", {}, maker)
    assert r.status_code == 201, r.text
    assert r.json()["affected"] == 20
    recall = client.get(f"/api/v1/recalls/{r.json()['id']}", maker).json()
    assert recall["signal_id"] == model_signal["id"]
    assert "malfunction" in recall["reason"]
    assert client.post(f"/api/v1/signals/{model_signal['id']}/recall", {},
                       maker).status_code == 409
    assert client.get(f"/api/v1/signals/{model_signal['id']}",
                      maker).json()["status"] == "recalled"
    # a repeated scan does not raise the recalled signal again
    client.post("/api/v1/signals/scan", None, client.regulator)
    assert len(client.get("/api/v1/signals", client.regulator).json()["signals"]) == 3


def test_fault_code_signal_from_telemetry(client: ApiClient) -> None:
    supplier = client.org("component_supplier")
    maker = client.org("manufacturer")
    codes = _fleet(client, maker, supplier, 30, "B-1")
    now = utcnow()

    def faults(units: list[str], fault: str) -> None:
        readings = [{"code": c, "at": rfc3339(now - timedelta(minutes=5 - i)),
                     "metrics": {"fault_codes": [fault], "battery_soh": 95}}
                    for i, c in enumerate(units)]
        r = client.post("/api/v1/telemetry", readings, maker)
        assert r.status_code in (200, 201), r.text
        assert r.json()["stored"] == len(units), r.text

    faults(codes[:2], "E42")
    assert client.post("/api/v1/signals/scan", None,
                       client.regulator).json()["signals"] == []
    faults(codes[2:3], "E42")
    raised = client.post("/api/v1/signals/scan", None, client.regulator).json()["signals"]
    assert {(s["group"]["kind"], s["trigger"]["value"]) for s in raised} == {
        ("model", "E42"), ("component_batch", "E42"), ("component_supplier", "E42")}
    batch = next(s for s in raised if s["group"]["kind"] == "component_batch")
    assert batch["group"]["batch"] == "B-1" and sorted(batch["units"]) == sorted(codes[:3])
    # the same scan again changes nothing; the scan is the regulator's
    assert client.post("/api/v1/signals/scan", None, client.regulator).json()["signals"] == []
    assert client.post("/api/v1/signals/scan", None, maker).status_code == 403
    # one step to a recall of the supplier's batch
    r = client.post(f"/api/v1/signals/{batch['id']}/recall", {"reason": "E42 on B-1"},
                    client.regulator)
    assert r.status_code == 201 and r.json()["affected"] == 30
    r = client.post(f"/api/v1/signals/{raised[0]['id']}/dismiss", {"reason": "x"}, maker)
    assert r.status_code == 403
