"""Incidents and the trace report (SPEC §6): as of the incident, with responsibility."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from robopass.timeutil import rfc3339, utcnow
from tests.utils.api import ApiClient, Org, model_body


def _world(client: ApiClient) -> dict[str, Any]:
    supplier = client.org("component_supplier")
    software = client.org("software_provider")
    maker = client.org("manufacturer")
    operator = client.org("operator")
    provider = client.org("service_provider")
    body = model_body()
    body["software"] = {**body["software"], "provider_id": software.id}
    r = client.post("/api/v1/models", body, maker)
    assert r.status_code == 201, r.text
    model_id = r.json()["id"]
    client.evaluate(model_id)
    assert client.post(f"/api/v1/models/{model_id}/approve", None,
                       client.regulator).status_code == 200
    code = client.codes(maker, model_id, 1)[0]
    made = client.event(maker, code, "manufactured", at="2026-03-10T08:00:00Z", details={
        "components": [
            {"serial": "BP-0001", "type": "battery_pack", "supplier_id": supplier.id,
             "batch": "B-7"},
            {"serial": "JA-0001", "type": "joint_actuator", "supplier_id": supplier.id,
             "batch": "J-1"}]})
    client.event(maker, code, "sold", to_organization=operator.id, at="2026-03-11T08:00:00Z")
    client.event(operator, code, "deployed", at="2026-03-12T08:00:00Z",
                 details={"scenario": "industrial", "province": "110000", "city": "110100"})
    return {"supplier": supplier, "software": software, "maker": maker, "operator": operator,
            "provider": provider, "model_id": model_id, "code": code, "made": made}


def _report(client: ApiClient, org: Org, code: str, at: str, expect: int = 201,
            **over: Any) -> Any:
    body = {"code": code, "at": at, "type": "malfunction", "severity": "major",
            "description": "left knee actuator locked while walking", **over}
    r = client.post("/api/v1/incidents", body, org)
    assert r.status_code == expect, r.text
    return r.json()


def test_trace_report_names_parties_with_evidence(client: ApiClient) -> None:
    w = _world(client)
    code, operator, provider = w["code"], w["operator"], w["provider"]
    r = client.post("/api/v1/service-authorizations", {"provider_id": provider.id,
                                                       "code": code}, operator)
    assert r.status_code == 201, r.text
    started = client.event(provider, code, "maintenance_started", details={
        "work_order": "WO-17", "description": "knee service"})
    swapped = client.event(provider, code, "component_replaced", details={
        "removed": "JA-0001", "installed": {"serial": "JA-0002", "type": "joint_actuator",
                                            "supplier_id": w["supplier"].id, "batch": "J-2"}})
    done = client.event(provider, code, "maintenance_completed", details={
        "work_order": "WO-17", "parts": ["JA-0002"]})
    fw = client.event(w["maker"], code, "firmware_updated", details={"firmware": "2.5.0"})
    recall = client.post("/api/v1/recalls", {"reason": "cells may overheat", "scope": {
        "component_supplier": w["supplier"].id, "component_batch": "B-7"}}, client.regulator)
    assert recall.status_code == 201, recall.text
    recall_id = recall.json()["id"]

    at = rfc3339(utcnow() + timedelta(seconds=1))
    incident_id = _report(client, operator, code, at, place="Warehouse 3")["id"]
    trace = client.get(f"/api/v1/incidents/{incident_id}/trace", operator)
    assert trace.status_code == 200, trace.text
    t = trace.json()
    assert t["incident"]["id"] == incident_id and t["incident"]["place"] == "Warehouse 3"
    unit = t["unit"]
    assert unit["status"] == "in_service"
    assert unit["operator"]["id"] == operator.id and unit["owner"]["id"] == operator.id
    assert unit["manufacturer"]["id"] == w["maker"].id
    assert t["software"]["firmware"] == "2.5.0"
    assert t["software"]["provider"]["id"] == w["software"].id
    assert t["software"]["last_firmware_update"]["ledger_index"] == fw["ledger_index"]
    serials = sorted(c["serial"] for c in t["components"])
    assert serials == ["BP-0001", "JA-0002"]
    pack = next(c for c in t["components"] if c["serial"] == "BP-0001")
    assert pack["supplier_id"] == w["supplier"].id and pack["batch"] == "B-7"
    assert pack["bound_by_ledger_index"] == w["made"]["ledger_index"]
    assert t["last_maintenance"]["ledger_index"] == done["ledger_index"]
    assert t["last_maintenance"]["organization"]["id"] == provider.id
    assert [r["id"] for r in t["recalls_open"]] == [recall_id]
    assert "telemetry" in t

    parties = {(c["party"], (c["organization"] or {}).get("id")): c
               for c in t["responsibility"]}
    supplier = parties[("component_supplier", w["supplier"].id)]
    assert any(e["rule"] == "open_component_recall" and recall_id in e["text"]
               and "B-7" in e["text"] for e in supplier["evidence"])
    op = parties[("operator", operator.id)]
    assert any(e["rule"] == "operated_under_open_recall" and "notified" in e["text"]
               for e in op["evidence"])
    sp = parties[("service_provider", provider.id)]
    cited = {i for e in sp["evidence"] for i in e["ledger_indexes"]}
    assert {started["ledger_index"], swapped["ledger_index"], done["ledger_index"]} <= cited
    sw = parties[("software_provider", w["software"].id)]
    assert fw["ledger_index"] in sw["evidence"][0]["ledger_indexes"]
    assert t["responsibility"][0]["score"] >= t["responsibility"][-1]["score"]
    assert w["made"]["ledger_index"] in t["ledger_indexes"]

    # readable by the regulator, the reporter/operator, the manufacturer; nobody else
    for org in (client.regulator, w["maker"]):
        assert client.get(f"/api/v1/incidents/{incident_id}/trace", org).status_code == 200
    for org in (provider, w["supplier"], w["software"], client.org("operator")):
        r = client.get(f"/api/v1/incidents/{incident_id}/trace", org)
        assert r.status_code == 403, r.text
    assert client.get(f"/api/v1/incidents/{incident_id}/trace").status_code == 401
    assert client.get("/api/v1/incidents/inc_nope/trace", operator).status_code == 404


def test_trace_is_as_of_the_incident(client: ApiClient) -> None:
    w = _world(client)
    code, operator = w["code"], w["operator"]
    recall = client.post("/api/v1/recalls", {"reason": "r", "scope": {"model_id": w["model_id"]}},
                         w["maker"]).json()
    # an incident on 11 March (sold, not yet deployed), reported today
    incident = _report(client, operator, code, "2026-03-11T12:00:00Z", type="near_miss",
                       severity="minor")
    t = client.get(f"/api/v1/incidents/{incident['id']}/trace", operator).json()
    assert t["unit"]["status"] == "sold" and t["unit"]["operator"] is None
    assert t["recalls_open"] == []
    assert recall["id"] not in str(t["responsibility"])
    assert t["last_maintenance"] is None
    # the manufacturer may read it too, and the incident shows on the unit
    assert client.get(f"/api/v1/incidents/{incident['id']}", w["maker"]).status_code == 200
    listed = client.get(f"/api/v1/robots/{code}/incidents", operator).json()["incidents"]
    assert [i["id"] for i in listed] == [incident["id"]]


def test_bad_incidents_write_nothing(client: ApiClient) -> None:
    w = _world(client)
    code, operator = w["code"], w["operator"]
    now = rfc3339(utcnow())
    future = rfc3339(utcnow() + timedelta(days=1))
    unknown = client.codes(w["maker"], w["model_id"], 1)[0][:-5] + "99999"
    _report(client, operator, future, now, expect=422)  # not a code
    r = client.post("/api/v1/incidents", {"code": code, "at": future, "type": "malfunction",
                                          "severity": "major", "description": "x"}, operator)
    assert r.status_code == 422 and r.json()["error"]["field"] == "at"
    _report(client, operator, code, "2025-01-01T00:00:00Z", expect=422)
    _report(client, operator, code, now, expect=422, type="explosion")
    _report(client, operator, code, now, expect=422, severity="apocalyptic")
    _report(client, operator, code, now, expect=422, description="")
    _report(client, operator, code, now, expect=422, extra="field")
    from robopass import idcode

    body = unknown[:-1]
    _report(client, operator, body + idcode.calc_check_char(body), now, expect=404)
    _report(client, w["provider"], code, now, expect=403)
    _report(client, w["supplier"], code, now, expect=403)
    assert client.get(f"/api/v1/robots/{code}/incidents", client.regulator
                      ).json()["incidents"] == []
    # the regulator and the owner may report
    assert _report(client, client.regulator, code, now)["id"]
