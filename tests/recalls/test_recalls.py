"""Recall campaigns over the API, on SQLite and PostgreSQL (SPEC §6, §9)."""

from __future__ import annotations

from typing import Any

from tests.utils.api import DEPLOYMENT, ApiClient, Org


def _made(client: ApiClient, maker: Org, model_id: str, n: int, *, month: str = "2026-03",
          components: list[dict[str, Any]] | None = None) -> list[str]:
    codes = client.codes(maker, model_id, n, month=month)
    for i, code in enumerate(codes):
        details = {}
        if components is not None:
            details["components"] = [{**c, "serial": f"{c['serial']}-{code[-9:]}-{i}"}
                                     for c in components]
        client.event(maker, code, "manufactured", at=f"{month}-10T08:00:00Z", details=details)
    return codes


def _open(client: ApiClient, org: Org, scope: dict[str, Any], expect: int = 201,
          reason: str = "battery may overheat") -> Any:
    r = client.post("/api/v1/recalls", {"reason": reason, "scope": scope}, org)
    assert r.status_code == expect, r.text
    return r.json()


def test_model_recall_progress_remedy_and_verification(client: ApiClient) -> None:
    maker = client.org("manufacturer")
    buyer = client.org("operator")
    model_id = client.approved_model(maker)
    codes = _made(client, maker, model_id, 3)
    client.event(maker, codes[0], "sold", to_organization=buyer.id, at="2026-03-11T08:00:00Z")
    client.event(buyer, codes[0], "deployed", at="2026-03-12T08:00:00Z", details=DEPLOYMENT)

    opened = _open(client, maker, {"model_id": model_id})
    assert opened["affected"] == 3
    rid = opened["id"]
    progress = client.get(f"/api/v1/recalls/{rid}", maker).json()
    assert (progress["affected"], progress["remedied"], progress["open"]) == (3, 0, 3)
    assert progress["completion_rate"] == 0.0
    assert progress["notified"] == 2  # the manufacturer (owner of two) and the buyer

    verified = client.get(f"/api/v1/verify/{codes[1]}").json()
    assert [r["id"] for r in verified["open_recalls"]] == [rid]
    assert verified["reason_code"] == "open_recall"
    # a recalled unit cannot be sold
    other = client.org("operator")
    client.event(maker, codes[1], "sold", expect=409, to_organization=other.id)

    client.event(maker, codes[1], "recall_remedied", details={"recall_id": rid})
    progress = client.get(f"/api/v1/recalls/{rid}", client.regulator).json()
    assert (progress["affected"], progress["remedied"], progress["open"]) == (3, 1, 2)
    assert progress["completion_rate"] == round(1 / 3, 4)
    assert client.get(f"/api/v1/verify/{codes[1]}").json()["open_recalls"] == []
    unit = client.get(f"/api/v1/robots/{codes[1]}", maker).json()
    assert unit.get("open_recalls", 0) == 0
    # now it may be sold; remedying twice is refused
    client.event(maker, codes[1], "recall_remedied", expect=409, details={"recall_id": rid})
    client.event(maker, codes[1], "sold", to_organization=other.id)

    # the buyer (operator) was notified and sees its own units, not the campaign
    notes = client.get("/api/v1/notifications", buyer).json()["notifications"]
    assert notes[0]["topic"] == "recall" and notes[0]["payload"]["codes"] == [codes[0]]
    assert client.get(f"/api/v1/recalls/{rid}", buyer).status_code == 403
    units = client.get(f"/api/v1/recalls/{rid}/units", buyer).json()["units"]
    assert [u["code"] for u in units] == [codes[0]]
    assert len(client.get(f"/api/v1/recalls/{rid}/units", maker).json()["units"]) == 3
    stranger = client.org("manufacturer")
    assert client.get(f"/api/v1/recalls/{rid}", stranger).status_code == 403
    assert client.get("/api/v1/recalls/rcl_nope", maker).status_code == 404


def test_component_batch_recall_reaches_every_model(client: ApiClient) -> None:
    supplier = client.org("component_supplier")
    maker_a, maker_b = client.org("manufacturer"), client.org("manufacturer")
    pack = {"serial": "BP", "type": "battery_pack", "supplier_id": supplier.id, "batch": "B-7"}
    other_batch = {**pack, "serial": "BQ", "batch": "B-8"}
    a = _made(client, maker_a, client.approved_model(maker_a), 2, components=[pack])
    b = _made(client, maker_b, client.approved_model(maker_b), 2, components=[pack])
    _made(client, maker_b, client.approved_model(maker_b), 2, components=[other_batch])

    scope = {"component_supplier": supplier.id, "component_batch": "B-7"}
    # a manufacturer's campaign on the batch reaches its own units only
    assert _open(client, maker_a, scope)["affected"] == 2
    opened = _open(client, client.regulator, scope)
    assert opened["affected"] == 4
    progress = client.get(f"/api/v1/recalls/{opened['id']}", maker_b).json()
    assert sorted(progress["manufacturers"]) == sorted([maker_a.id, maker_b.id])
    units = client.get(f"/api/v1/recalls/{opened['id']}/units", client.regulator).json()
    assert sorted(u["code"] for u in units["units"]) == sorted(a + b)
    assert client.get(f"/api/v1/verify/{a[0]}").json()["open_recalls"][0]["scope"] == [
        "component batch"]
    # the supplier scope alone covers both batches
    assert _open(client, client.regulator, {"component_supplier": supplier.id})["affected"] == 6


def test_production_and_serial_ranges(client: ApiClient) -> None:
    maker = client.org("manufacturer")
    model_id = client.approved_model(maker)
    jan = _made(client, maker, model_id, 2, month="2026-01")
    mar = _made(client, maker, model_id, 3, month="2026-03")
    scope = {"model_id": model_id, "production_from": "2026-02", "production_to": "2026-03"}
    assert _open(client, maker, scope)["affected"] == 3
    opened = _open(client, maker, {"serial_from": mar[0], "serial_to": mar[1]})
    assert opened["affected"] == 2
    progress = client.get(f"/api/v1/recalls/{opened['id']}", maker).json()
    assert progress["scope"]["model_id"] == model_id
    assert _open(client, maker, {"production_to": "2026-01"})["affected"] == len(jan)


def test_bad_scopes_write_nothing(client: ApiClient) -> None:
    maker = client.org("manufacturer")
    model_id = client.approved_model(maker)
    codes = _made(client, maker, model_id, 2)
    other = client.org("manufacturer")
    other_model = client.approved_model(other)
    other_codes = _made(client, other, other_model, 1)
    operator = client.org("operator")
    cases: list[tuple[Org, Any, int, str]] = [
        (maker, {}, 422, "scope"),
        (maker, {"colour": "red"}, 422, "scope.colour"),
        (maker, {"model_id": model_id, "production_from": "2026-05",
                 "production_to": "2026-01"}, 422, "scope.production_from"),
        (maker, {"production_from": "2026-13"}, 422, "scope.production_from"),
        (maker, {"serial_from": codes[0], "serial_to": other_codes[0]}, 422, "scope.serial_to"),
        (maker, {"serial_from": codes[1], "serial_to": codes[0]}, 422, "scope.serial_from"),
        (maker, {"serial_from": "CN-NOT-A-CODE"}, 422, "scope.serial_from"),
        (maker, {"model_id": "mdl_unknown"}, 422, "scope.model_id"),
        (maker, {"model_id": other_model}, 403, ""),
        (maker, {"component_supplier": operator.id}, 422, "scope.component_supplier"),
        (maker, {"production_from": "2030-01"}, 422, "scope"),
        (operator, {"model_id": model_id}, 403, ""),
    ]
    for org, scope, status, field in cases:
        body = _open(client, org, scope, expect=status)
        if field:
            assert body["error"]["field"] == field, (scope, body)
    r = client.post("/api/v1/recalls", {"reason": "  ", "scope": {"model_id": model_id}}, maker)
    assert r.status_code == 422 and r.json()["error"]["field"] == "reason"
    assert client.get("/api/v1/recalls", client.regulator).json() == []
    assert client.get(f"/api/v1/verify/{codes[0]}").json()["open_recalls"] == []


def test_remedy_outside_campaign_is_refused(client: ApiClient) -> None:
    maker = client.org("manufacturer")
    model_id = client.approved_model(maker)
    codes = _made(client, maker, model_id, 2)
    rid = _open(client, maker, {"serial_from": codes[0], "serial_to": codes[0]})["id"]
    before = client.get(f"/api/v1/robots/{codes[1]}/events", maker).json()["events"]
    r = client.post(f"/api/v1/robots/{codes[1]}/events",
                    {"type": "recall_remedied", "details": {"recall_id": rid}}, maker)
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_in_recall"
    r = client.post(f"/api/v1/robots/{codes[1]}/events",
                    {"type": "recall_remedied", "details": {"recall_id": "rcl_nope"}}, maker)
    assert r.status_code == 404
    assert client.get(f"/api/v1/robots/{codes[1]}/events", maker).json()["events"] == before
    # an unauthorised service provider cannot remedy
    provider = client.org("service_provider")
    client.event(provider, codes[0], "recall_remedied", expect=403,
                 details={"recall_id": rid})
    assert client.get(f"/api/v1/recalls/{rid}", maker).json()["remedied"] == 0


def test_correcting_a_remedy_reopens_the_recall(client: ApiClient) -> None:
    maker = client.org("manufacturer")
    model_id = client.approved_model(maker)
    codes = _made(client, maker, model_id, 1)
    rid = _open(client, maker, {"model_id": model_id})["id"]
    remedy = client.event(maker, codes[0], "recall_remedied", details={"recall_id": rid})
    assert client.get(f"/api/v1/recalls/{rid}", maker).json()["remedied"] == 1
    client.event(maker, codes[0], "correction",
                 details={"corrects": remedy["id"], "reason": "the fix was not applied"})
    progress = client.get(f"/api/v1/recalls/{rid}", maker).json()
    assert (progress["remedied"], progress["open"]) == (0, 1)
    assert [r["id"] for r in client.get(f"/api/v1/verify/{codes[0]}").json()[
        "open_recalls"]] == [rid]
    assert client.get(f"/api/v1/robots/{codes[0]}", maker).json()["open_recalls"] == 1
    # and it can be remedied again
    client.event(maker, codes[0], "recall_remedied", details={"recall_id": rid})
    assert client.get(f"/api/v1/recalls/{rid}", maker).json()["open"] == 0


def test_provincial_regulator_recalls_its_province_only(client: ApiClient) -> None:
    maker = client.org("manufacturer")
    model_id = client.approved_model(maker)
    codes = client.codes(maker, model_id, 2)
    for code, province in zip(codes, ("110000", "310000"), strict=True):
        client.event(maker, code, "manufactured", at="2026-03-10T08:00:00Z",
                     details={"province": province})
    beijing = client.org("regulator", scope_province="110000")
    r = client.post("/api/v1/recalls", {"reason": "r", "scope": {"model_id": model_id}},
                    beijing)
    assert r.status_code == 201, r.text
    assert r.json()["affected"] == 1
    units = client.get(f"/api/v1/recalls/{r.json()['id']}/units", beijing).json()["units"]
    assert [u["code"] for u in units] == [codes[0]]


def test_an_operator_assigned_after_the_recall_opened_is_told(client: ApiClient) -> None:
    maker = client.org("manufacturer")
    owner = client.org("operator")
    operator = client.org("operator")
    model_id = client.approved_model(maker)
    codes = _made(client, maker, model_id, 2)
    client.event(maker, codes[0], "sold", to_organization=owner.id, at="2026-03-11T08:00:00Z")
    client.event(maker, codes[1], "sold", to_organization=owner.id, at="2026-03-11T08:00:00Z")
    rid = _open(client, maker, {"model_id": model_id})["id"]
    before = client.get("/api/v1/notifications", operator).json()["notifications"]
    assert before == []
    # recalls block sale and transfer, not deployment: the owner hands one unit to an operator
    client.event(owner, codes[0], "deployed", to_organization=operator.id, details=DEPLOYMENT)
    notes = client.get("/api/v1/notifications", operator).json()["notifications"]
    assert len(notes) == 1 and notes[0]["topic"] == "recall"
    payload = notes[0]["payload"]
    assert payload["recall_id"] == rid and payload["codes"] == [codes[0]]
    assert payload["joined_after_opening"] is True and payload["reason"] == "battery may overheat"
    units = client.get(f"/api/v1/recalls/{rid}/units", operator).json()["units"]
    assert [u["code"] for u in units] == [codes[0]]
    # the owner deploying its own unit (no new party) and units without recalls tell nobody
    owner_notes = len(client.get("/api/v1/notifications", owner).json()["notifications"])
    client.event(owner, codes[1], "deployed", details=DEPLOYMENT)
    assert len(client.get("/api/v1/notifications", owner).json()["notifications"]) == owner_notes
    client.event(maker, codes[0], "recall_remedied", details={"recall_id": rid})
    other = client.org("operator")
    client.event(owner, codes[0], "deployed", to_organization=other.id,  # remedied: nothing
                 details=DEPLOYMENT)
    assert client.get("/api/v1/notifications", other).json()["notifications"] == []


def test_every_maker_of_a_shared_recall_reads_its_decisions(client: ApiClient) -> None:
    """A regulator's campaign over two makers' units is recorded once, yet both makers (and
    nobody else) read its close decision in the decision history."""
    supplier = client.org("component_supplier")
    maker_a = client.org("manufacturer", province="440000")
    maker_b = client.org("manufacturer", province="420000")
    stranger = client.org("manufacturer")
    pack = {"serial": "BP", "type": "battery_pack", "supplier_id": supplier.id, "batch": "B-9"}
    _made(client, maker_a, client.approved_model(maker_a), 1, components=[pack])
    _made(client, maker_b, client.approved_model(maker_b), 1, components=[pack])
    rid = _open(client, client.regulator,
                {"component_supplier": supplier.id, "component_batch": "B-9"})["id"]
    r = client.post(f"/api/v1/recalls/{rid}/close", {"reason": "supplier fix verified"},
                    client.regulator)
    assert r.status_code == 200, r.text
    for org in (maker_a, maker_b):
        seen = client.get(f"/api/v1/decisions?object_id={rid}", org).json()
        assert [d["action"] for d in seen] == ["recall.close"], org
    assert client.get(f"/api/v1/decisions?object_id={rid}", stranger).json() == []
    assert client.get(f"/api/v1/decisions?object_id={rid}", supplier).json() == []
    # the recall is recorded under the first maker's province, yet Hubei's pilot centre (the
    # second maker's) reads it too; a province with neither maker does not
    hubei = client.org("regulator", scope_province="420000")
    xinjiang = client.org("regulator", scope_province="650000")
    assert len(client.get(f"/api/v1/decisions?object_id={rid}", hubei).json()) == 1
    assert client.get(f"/api/v1/decisions?object_id={rid}", xinjiang).json() == []
