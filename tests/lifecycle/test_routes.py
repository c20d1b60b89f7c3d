from __future__ import annotations

from tests.utils.api import ApiClient


def test_full_lifecycle_through_the_api(client: ApiClient) -> None:
    maker, code = client.manufactured_unit()
    seller, buyer, recycler = client.org("seller"), client.org("operator"), client.org("recycler")
    shipped = client.event(maker, code, "shipped", to_organization=seller.id,
                           at="2026-03-12T08:00:00Z")
    assert set(shipped) >= {"id", "code", "type", "at", "organization", "to_organization",
                            "details", "ledger_index"}
    assert shipped["organization"] == maker.id and shipped["to_organization"] == seller.id
    client.event(seller, code, "sold", to_organization=buyer.id, at="2026-04-01T08:00:00Z")
    client.event(buyer, code, "deployed", details={"scenario": "industrial", "province": "440000",
                                                 "city": "440300"})
    robot = client.get(f"/api/v1/robots/{code}", buyer).json()
    assert robot["status"] == "in_service" and robot["owner"] == buyer.id
    assert robot["operator"] == buyer.id and robot["city"] == "440300"
    client.event(buyer, code, "decommissioned", to_organization=recycler.id)
    client.event(recycler, code, "scrapped")
    assert client.get(f"/api/v1/robots/{code}").json()["status"] == "scrapped"
    history = client.get(f"/api/v1/robots/{code}/events", buyer)
    assert history.status_code == 200
    assert [e["type"] for e in history.json()["events"]] == [
        "manufactured", "shipped", "sold", "deployed", "decommissioned", "scrapped"]


def test_refusals_are_recorded_and_fraud_raised(client: ApiClient) -> None:
    maker, code = client.manufactured_unit()
    before = client.ledger_size()
    buyer, recycler = client.org("operator"), client.org("recycler")
    client.event(maker, code, "sold", to_organization=buyer.id)
    client.event(buyer, code, "decommissioned")
    client.event(recycler, code, "scrapped")
    r = client.post(f"/api/v1/robots/{code}/events", {"type": "refurbished"}, buyer)
    assert r.status_code == 409 and r.json()["error"]["code"] == "terminal_unit"
    r = client.post(f"/api/v1/robots/{code}/events",
                    {"type": "sold", "to_organization": maker.id}, buyer)
    assert r.status_code == 409
    alerts = client.get("/api/v1/fraud-alerts", client.regulator).json()["alerts"]
    assert len(alerts) == 2 and {a["kind"] for a in alerts} == {"scrapped_unit_resale"}
    attempts = client.get("/api/v1/refused-attempts", client.regulator).json()["attempts"]
    assert {a["type"] for a in attempts} == {"refurbished", "sold"}
    assert client.get("/api/v1/fraud-alerts", buyer).status_code == 403
    head = client.get("/api/v1/ledger/head").json()
    assert head["size"] == before + 3  # refusals never reach the ledger


def test_no_code_no_market_access(client: ApiClient) -> None:
    maker = client.org("manufacturer")
    model_id = client.approved_model(maker)
    code = client.codes(maker, model_id, 1)[0]
    buyer = client.org("operator")
    r = client.post(f"/api/v1/robots/{code}/events", {"type": "sold",
                                                       "to_organization": buyer.id}, maker)
    assert r.status_code == 409 and r.json()["error"]["code"] == "no_market_access"
    forged = code[:20] + "99999999"
    from robopass import idcode

    forged += idcode.calc_check_char(forged)
    r = client.post(f"/api/v1/robots/{forged}/events", {"type": "sold",
                                                         "to_organization": buyer.id}, maker)
    assert r.status_code == 409 and r.json()["error"]["code"] == "no_market_access"
    r = client.post("/api/v1/robots/NOT-A-CODE/events", {"type": "sold",
                                                          "to_organization": buyer.id}, maker)
    assert r.status_code == 409
    kinds = [a["kind"] for a in client.get("/api/v1/fraud-alerts",
                                           client.regulator).json()["alerts"]]
    assert kinds.count("invalid_code_market_event") == 2


def test_time_rules(client: ApiClient) -> None:
    maker, code = client.manufactured_unit()
    buyer = client.org("operator")
    r = client.post(f"/api/v1/robots/{code}/events", {"type": "sold", "to_organization":
                                                       buyer.id, "at": "2099-01-01T00:00:00Z"},
                    maker)
    assert r.status_code == 422 and r.json()["error"]["code"] == "time_in_future"
    r = client.post(f"/api/v1/robots/{code}/events", {"type": "sold", "to_organization":
                                                       buyer.id, "at": "2026-03-01T00:00:00Z"},
                    maker)
    assert r.status_code == 422 and r.json()["error"]["code"] == "time_before_previous_event"
    r = client.post(f"/api/v1/robots/{code}/events", {"type": "sold", "to_organization":
                                                       buyer.id, "at": "yesterday"}, maker)
    assert r.status_code == 422 and r.json()["error"]["field"] == "at"


def test_batch_all_or_nothing(client: ApiClient) -> None:
    maker = client.org("manufacturer")
    model_id = client.approved_model(maker)
    before = client.ledger_size()
    codes = client.codes(maker, model_id, 5)
    events = [{"code": c, "type": "manufactured", "at": "2026-03-05T10:00:00Z"} for c in codes]
    bad = events + [{"code": codes[0], "type": "manufactured"}]  # twice: invalid transition
    r = client.post("/api/v1/events", {"events": bad}, maker)
    assert r.status_code == 409 and r.json()["error"]["index"] == 5
    assert client.ledger_size() == before + 5  # only the codes
    assert client.get(f"/api/v1/robots/{codes[0]}").json()["status"] == "coded"
    r = client.post("/api/v1/events", {"events": events}, maker)
    assert r.status_code == 201, r.text
    indexes = [e["ledger_index"] for e in r.json()["events"]]
    assert indexes == [before + i for i in (5, 6, 7, 8, 9)]


def test_correction_and_as_of(client: ApiClient) -> None:
    maker, code = client.manufactured_unit()
    seller, buyer = client.org("seller"), client.org("operator")
    wrong = client.event(maker, code, "sold", to_organization=seller.id,
                         at="2026-03-20T00:00:00Z")
    r = client.post(f"/api/v1/robots/{code}/events",
                    {"type": "correction", "details": {"corrects": wrong["id"]}}, maker)
    assert r.status_code == 422 and r.json()["error"]["field"] == "details.reason"
    other = client.org("manufacturer")
    r = client.post(f"/api/v1/robots/{code}/events", {"type": "correction", "details": {
        "corrects": wrong["id"], "reason": "wrong buyer"}}, other)
    assert r.status_code == 403
    client.event(maker, code, "correction", at="2026-03-21T00:00:00Z",
                 details={"corrects": wrong["id"], "reason": "sold to the wrong organisation"})
    robot = client.get(f"/api/v1/robots/{code}", maker).json()
    assert robot["status"] == "manufactured" and robot["owner"] == maker.id
    client.event(maker, code, "sold", to_organization=buyer.id, at="2026-03-22T00:00:00Z")
    events = client.get(f"/api/v1/robots/{code}/events", client.regulator).json()["events"]
    assert [(e["type"], e["corrected"]) for e in events] == [
        ("manufactured", False), ("sold", True), ("correction", False), ("sold", False)]
    then = client.get(f"/api/v1/robots/{code}?as_of=2026-03-15T00:00:00Z", buyer).json()
    assert then["status"] == "manufactured"
    now = client.get(f"/api/v1/robots/{code}?as_of=2026-03-23T00:00:00Z", buyer).json()
    assert now["status"] == "sold" and now["owner"] == buyer.id
    assert client.get(f"/api/v1/robots/{code}?as_of=2026-03-23T00:00:00Z").status_code == 403


def test_components_bound_at_manufacture_and_swapped(client: ApiClient) -> None:
    maker = client.org("manufacturer")
    supplier = client.org("component_supplier")
    model_id = client.approved_model(maker)
    a, b = client.codes(maker, model_id, 2)
    pack = {"serial": "BP-0001", "type": "battery_pack", "supplier_id": supplier.id,
            "batch": "B2026-03"}
    client.event(maker, a, "manufactured", details={"components": [pack]})
    r = client.post(f"/api/v1/robots/{b}/events", {"type": "manufactured",
                                                    "details": {"components": [pack]}}, maker)
    assert r.status_code == 409 and r.json()["error"]["code"] == "component_already_bound"
    new = {**pack, "serial": "BP-0002"}
    client.event(maker, a, "component_replaced", details={"removed": "BP-0001",
                                                          "installed": new})
    comps = client.get(f"/api/v1/robots/{a}", maker).json()["components"]
    assert [c["serial"] for c in comps] == ["BP-0002"]
    client.event(maker, b, "manufactured", details={"components": [pack]})  # now free
    assert client.get(f"/api/v1/robots/{a}").json().get("components") is None  # public tier


def test_one_component_listed_twice_is_a_422_not_a_500(client: ApiClient) -> None:
    maker = client.org("manufacturer")
    supplier = client.org("component_supplier")
    code = client.codes(maker, client.approved_model(maker), 1)[0]
    pack = {"serial": "BP-0001", "type": "battery_pack", "supplier_id": supplier.id}
    before = client.ledger_size()
    r = client.post(f"/api/v1/robots/{code}/events", {"type": "manufactured",
                                                       "details": {"components": [pack, pack]}},
                    maker)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == "details.components[1].serial"
    assert client.ledger_size() == before


def test_details_that_cannot_be_stored_are_a_422(client: ApiClient) -> None:
    maker, code = client.manufactured_unit()
    before = client.ledger_size()
    body = b'{"type": "firmware_updated", "details": {"firmware": "2.0", "note": "\\ud800"}}'
    r = client.raw.post(f"/api/v1/robots/{code}/events", content=body,
                        headers={**maker.auth, "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "details", r.text
    assert client.ledger_size() == before
