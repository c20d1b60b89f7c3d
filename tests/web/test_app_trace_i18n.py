"""The trace report page entirely in the page's language (SPEC §9, issue #15.2): the trace
service gives every piece of evidence as a message id and parameters beside its English
``text`` (the API's fields unchanged), and the page renders it through the catalogue."""

from __future__ import annotations

import re
from datetime import timedelta

from tests.incidents.test_incidents import _report, _world
from tests.utils.api import ApiClient
from tests.web.app_helpers import browser_for

from robopass.incidents import trace
from robopass.timeutil import rfc3339, utcnow
from robopass.web.app import trace_text


def test_page_templates_are_the_services_templates() -> None:
    assert trace_text.EVIDENCE_TEMPLATES == trace.EVIDENCE_MESSAGES


def _incident(client: ApiClient) -> tuple[dict, str]:  # type: ignore[type-arg]
    w = _world(client)
    code, operator, provider = w["code"], w["operator"], w["provider"]
    assert client.post("/api/v1/service-authorizations", {"provider_id": provider.id,
                                                          "code": code}, operator
                       ).status_code == 201
    client.event(provider, code, "maintenance_started", details={"work_order": "WO-9"})
    client.event(provider, code, "component_replaced", details={
        "removed": "JA-0001", "installed": {"serial": "JA-0002", "type": "joint_actuator",
                                            "supplier_id": w["supplier"].id, "batch": "J-2"}})
    client.event(provider, code, "maintenance_completed", details={"work_order": "WO-9"})
    client.event(w["maker"], code, "firmware_updated", details={"firmware": "2.5.0"})
    assert client.post("/api/v1/recalls", {"reason": "cells may overheat", "scope": {
        "component_supplier": w["supplier"].id, "component_batch": "B-7"}},
        client.regulator).status_code == 201
    at = rfc3339(utcnow() + timedelta(seconds=1))
    incident_id = _report(client, operator, code, at)["id"]
    return w, incident_id


def test_evidence_is_structured_and_the_page_speaks_chinese(client: ApiClient) -> None:
    w, incident_id = _incident(client)
    report = client.get(f"/api/v1/incidents/{incident_id}/trace", w["operator"]).json()
    evidence = [e for c in report["responsibility"] for e in c["evidence"]]
    rules = {e["rule"] for e in evidence}
    assert {"open_component_recall", "operated_under_open_recall", "recent_service_work",
            "recent_firmware_update"} <= rules
    for e in evidence:  # the API keeps its fields; message and params are added
        assert {"rule", "weight", "text", "ledger_indexes", "message", "params"} <= set(e)
        assert trace.render_text(e["message"], e["params"]) == e["text"]
    work = next(e for e in evidence if e["rule"] == "recent_service_work")
    assert [p["message"] for p in work["params"]["work"]] == [
        "work_order_started", "work_component_replaced", "work_order_completed"]

    b = browser_for(client.raw.app, w["operator"].key)
    zh = b.get(f"/app/incidents/{incident_id}/trace?lang=zh_CN").text
    parties = zh.split('data-testid="parties"')[1].split("</ol>")[0]
    assert 'lang="en"' not in parties
    assert "open and unremedied" not in parties and "worked on the unit" not in parties
    assert "未关闭且未整改" in parties and "工单 WO-9 于" in parties
    assert "开始；于" in parties  # the work orders joined the Chinese way
    assert "关节执行器" in zh or "joint_actuator" not in parties
    # in English the API's sentences, with vocabulary named as the page names it
    en = b.get(f"/app/incidents/{incident_id}/trace?lang=en").text
    assert work["text"] in en
    for e in evidence:
        said = trace_text.render(e, lambda m: m)
        assert said and said.replace("&", "&amp;").replace("'", "&#39;") in en, said
    assert "Battery pack batch B-7" in en
    assert re.search(r'data-rule="operated_under_open_recall">the unit was in use', en)
