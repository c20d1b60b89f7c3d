"""Amendments: new versions of a filing, re-evaluation, units built to a version (SPEC §13)."""

from __future__ import annotations

from robopass import idcode
from robopass.product_models.amendments import needs_reevaluation
from robopass.product_models.builds import build_versions, is_approved_build
from tests.utils.api import ApiClient


def _amend(client: ApiClient, maker, model_id: str, changes: dict, expect: int = 201):  # type: ignore[no-untyped-def]
    r = client.post(f"/api/v1/models/{model_id}/amendments",
                    {"changes": changes, "reason": "field feedback"}, maker)
    assert r.status_code == expect, r.text
    return r.json()


def test_builds_only_amendment_needs_no_reevaluation(client: ApiClient) -> None:
    maker = client.org("manufacturer")
    model_id = client.approved_model(maker, intelligence_level=3)
    old_code = client.codes(maker, model_id, 1)[0]
    made = _amend(client, maker, model_id, {"software": {"builds": [
        {"version": "2.4.1"}, {"version": "2.4.2", "sha256": "0f" * 32}]},
        "parameters": {"payload_kg": 25}})
    assert set(made) == {"id", "model_id", "version", "status", "reevaluation_required"}
    assert made["version"] == 2 and made["status"] == "submitted"
    assert made["reevaluation_required"] is False
    # one pending amendment at a time
    r = _amend(client, maker, model_id, {"parameters": {"payload_kg": 30}}, expect=409)
    assert r["error"]["code"] == "amendment_pending" and r["error"]["field"] == "model_id"
    aid = made["id"]
    r = client.post(f"/api/v1/models/{model_id}/amendments/{aid}/approve", None, maker)
    assert r.status_code == 403
    r = client.post(f"/api/v1/models/{model_id}/amendments/{aid}/approve", None,
                    client.regulator)
    assert r.status_code == 200 and r.json()["status"] == "approved"
    model = client.get(f"/api/v1/models/{model_id}", maker).json()
    assert model["version"] == 2 and model["parameters"]["payload_kg"] == 25
    assert model["evaluation"] is not None  # version 1's evaluation still covers version 2
    new_code = client.codes(maker, model_id, 1)[0]
    assert idcode.parse(new_code).intelligence_level == 3
    assert client.get(f"/api/v1/robots/{old_code}", maker).json()["model_version"] == 1
    assert client.get(f"/api/v1/robots/{new_code}", maker).json()["model_version"] == 2
    versions = client.get(f"/api/v1/models/{model_id}/versions", maker).json()
    assert [v["version"] for v in versions] == [1, 2]
    assert is_approved_build(build_versions(versions[1]["software"]), "2.4.2")


def test_safety_relevant_amendment_needs_reevaluation(client: ApiClient) -> None:
    maker = client.org("manufacturer")
    model_id = client.approved_model(maker, intelligence_level=3)
    made = _amend(client, maker, model_id, {"software": {"ai_stack": "VLA-13B"}})
    assert made["reevaluation_required"] is True
    aid, reg = made["id"], client.regulator
    r = client.post(f"/api/v1/models/{model_id}/amendments/{aid}/approve", None, reg)
    assert r.status_code == 409 and r.json()["error"]["code"] == "evaluation_required"
    assert r.json()["error"]["model_version"] == 2
    evaluated = client.evaluate(model_id, overall=4)
    assert evaluated["model_version"] == 2  # the lab evaluated the pending version
    # the model itself still issues at its approved version and level
    assert idcode.parse(client.codes(maker, model_id, 1)[0]).intelligence_level == 3
    r = client.post(f"/api/v1/models/{model_id}/amendments/{aid}/approve", {"reason": "ok"},
                    reg)
    assert r.status_code == 200, r.text
    assert idcode.parse(client.codes(maker, model_id, 1)[0]).intelligence_level == 4
    decisions = client.get(f"/api/v1/decisions?object_id={aid}", maker).json()
    assert [d["action"] for d in decisions] == ["amendment.approve"]


def test_bad_amendments_name_their_field(client: ApiClient) -> None:
    maker, other = client.org("manufacturer"), client.org("manufacturer")
    model_id = client.approved_model(maker)
    r = _amend(client, maker, model_id, {}, expect=422)
    assert r["error"]["code"] == "no_changes" and r["error"]["field"] == "changes"
    r = _amend(client, maker, model_id, {"parameters": {"height_cm": 5}}, expect=422)
    assert r["error"]["field"].startswith("changes.parameters.height_cm")
    r = _amend(client, maker, model_id, {"components": [
        {"type": "battery_pack", "name": "B", "supplier_id": "org_nope"}]}, expect=422)
    assert r["error"]["field"] == "changes.components[0].supplier_id"
    r = _amend(client, other, model_id, {"parameters": {"payload_kg": 1}}, expect=403)
    assert r["error"]["code"] == "not_your_model"
    made = _amend(client, maker, model_id, {"parameters": {"payload_kg": 1}})
    r = client.post(f"/api/v1/models/{model_id}/amendments/{made['id']}/reject",
                    {"reason": "unsafe"}, client.regulator)
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    r = client.post(f"/api/v1/models/{model_id}/amendments/{made['id']}/approve", None,
                    client.regulator)
    assert r.status_code == 409 and r.json()["error"]["code"] == "amendment_decided"
    assert client.get(f"/api/v1/models/{model_id}", maker).json()["version"] == 1


def test_reevaluation_rule_is_pure() -> None:
    old = {"parameters": {"battery_chemistry": "NMC", "payload_kg": 20},
           "components": [{"type": "battery_pack", "name": "B"},
                          {"type": "sensor", "name": "S"}],
           "software": {"name": "OS", "version": "1", "builds": [{"version": "1"}]}}
    assert not needs_reevaluation(old, {**old, "parameters": {**old["parameters"],
                                                              "payload_kg": 25}})
    assert not needs_reevaluation(old, {**old, "software": {**old["software"],
                                                            "builds": [{"version": "1.1"}]}})
    assert not needs_reevaluation(old, {**old, "components": [
        {"type": "battery_pack", "name": "B"}, {"type": "sensor", "name": "S2"}]})
    assert needs_reevaluation(old, {**old, "parameters": {"battery_chemistry": "LFP",
                                                          "payload_kg": 20}})
    assert needs_reevaluation(old, {**old, "components": [
        {"type": "battery_pack", "name": "B2"}, {"type": "sensor", "name": "S"}]})
    assert needs_reevaluation(old, {**old, "software": {**old["software"], "version": "2"}})


def test_is_approved_build() -> None:
    builds = [{"version": "2.4.1"}, {"version": "2.5.0", "sha256": "AB" * 32}]
    assert is_approved_build(builds, "2.4.1")
    assert is_approved_build(builds, " 2.5.0 ", "ab" * 32)
    assert not is_approved_build(builds, "2.5.0", "cd" * 32)
    assert not is_approved_build(builds, "2.4.10")
    assert not is_approved_build(builds, None)
    assert not is_approved_build([], "2.4.1")
    assert build_versions({"builds": [{"version": ""}, {"version": "1"}, "x"]}) == [
        {"version": "1"}]
