"""Organisation update, suspension, reinstatement, deregistration (SPEC §13), both databases."""

from __future__ import annotations

from tests.utils.api import ApiClient, model_body


def test_update_names_and_location_with_a_decision(client: ApiClient) -> None:
    org = client.org("operator", province="110000", city="110100")
    r = client.raw.patch(f"/api/v1/organizations/{org.id}",
                         json={"name_zh": "北京示例物流有限公司", "province": "420000",
                               "city": "420100", "reason": "moved to Wuhan"},
                         headers={**client.regulator.auth, "X-Request-ID": "ticket-4711"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["name_zh"] == "北京示例物流有限公司" and body["city"] == "420100"
    history = client.get(f"/api/v1/decisions?object_id={org.id}", org).json()
    assert [d["action"] for d in history] == ["organization.update"]
    assert history[0]["before"]["city"] == "110100" and history[0]["after"]["city"] == "420100"
    assert history[0]["reason"] == "moved to Wuhan" and history[0]["ledger_index"] >= 0
    assert history[0]["request_id"] == "ticket-4711"
    cases = {"city": {"city": "310100"},  # Shanghai is not in Hubei
             "province": {"province": "990000"}, "body": {}}
    for field, change in cases.items():
        r = client.patch(f"/api/v1/organizations/{org.id}", change, client.regulator)
        assert r.status_code == 422 and r.json()["error"]["field"] == field, (field, r.text)
    r = client.patch(f"/api/v1/organizations/{org.id}", {"name": "X"}, org)
    assert r.status_code == 403


def test_provincial_regulator_acts_within_its_province(client: ApiClient) -> None:
    provincial = client.org("regulator", province="110000", scope_province="110000")
    inside = client.org("operator", province="110000", city="110100")
    outside = client.org("operator", province="310000", city="310100")
    r = client.patch(f"/api/v1/organizations/{inside.id}", {"name_zh": "内"}, provincial)
    assert r.status_code == 200, r.text
    r = client.patch(f"/api/v1/organizations/{outside.id}", {"name_zh": "外"}, provincial)
    assert r.status_code == 403 and r.json()["error"]["code"] == "outside_province"
    r = client.patch(f"/api/v1/organizations/{inside.id}", {"province": "310000",
                                                           "city": "310100"}, provincial)
    assert r.status_code == 403  # cannot move it out of its scope
    r = client.post(f"/api/v1/organizations/{outside.id}/suspend", {"reason": "x"}, provincial)
    assert r.status_code == 403
    seen = client.get("/api/v1/decisions", provincial).json()
    assert {d["object_id"] for d in seen} == {inside.id}


def test_suspended_organisation_reads_but_never_writes(client: ApiClient) -> None:
    maker = client.org("manufacturer")
    model_id = client.approved_model(maker)
    code = client.codes(maker, model_id, 1)[0]
    reg = client.regulator
    r = client.post(f"/api/v1/organizations/{maker.id}/suspend", {}, reg)
    assert r.status_code == 422  # a reason is required
    r = client.post(f"/api/v1/organizations/{maker.id}/suspend",
                    {"reason": "licence under review"}, reg)
    assert r.status_code == 200 and r.json()["status"] == "suspended"
    # reads go on
    assert client.get("/api/v1/organizations/me", maker).status_code == 200
    assert client.get(f"/api/v1/models/{model_id}", maker).status_code == 200
    assert client.get(f"/api/v1/robots/{code}", maker).status_code == 200
    # every write is refused, before any rule
    writes = [("post", "/api/v1/models", model_body()),
              ("post", f"/api/v1/models/{model_id}/codes",
               {"count": 1, "plant": "A1", "production_month": "2026-03"}),
              ("post", f"/api/v1/robots/{code}/events", {"type": "manufactured"}),
              ("post", f"/api/v1/organizations/{maker.id}/keys", None),
              ("post", "/api/v1/recalls", {"reason": "x", "scope": {"model_id": model_id}})]
    before = client.ledger_size()
    for _, url, body in writes:
        r = client.post(url, body, maker)
        assert r.status_code == 403, (url, r.text)
        assert r.json()["error"]["code"] == "organization_suspended"
        assert r.json()["error"]["field"] == "authorization"
    assert client.ledger_size() == before
    r = client.post(f"/api/v1/organizations/{maker.id}/suspend", {"reason": "again"}, reg)
    assert r.status_code == 409 and r.json()["error"]["field"] == "status"
    r = client.post(f"/api/v1/organizations/{maker.id}/reinstate", {"reason": "cleared"}, reg)
    assert r.status_code == 200 and r.json()["status"] == "approved"
    assert len(client.codes(maker, model_id, 1)) == 1
    r = client.post(f"/api/v1/organizations/{maker.id}/deregister", {"reason": "closed"}, reg)
    assert r.status_code == 200 and r.json()["status"] == "deregistered"
    r = client.post(f"/api/v1/organizations/{maker.id}/reinstate", {"reason": "x"}, reg)
    assert r.status_code == 409
    actions = [d["action"] for d in client.get(
        f"/api/v1/decisions?object_id={maker.id}", reg).json()]
    assert actions == ["organization.deregister", "organization.reinstate",
                       "organization.suspend"]


def test_suspended_manufacturers_models_receive_no_codes(client: ApiClient) -> None:
    """Service level too (CLI, seed): the issuance rule refuses, not only the API gate."""
    from robopass.auth.service import Actor
    from robopass.db import writing
    from robopass.errors import Conflict
    from robopass.organizations.models import Organization
    from robopass.robots import service as robot_service

    maker = client.org("manufacturer")
    model_id = client.approved_model(maker)
    client.post(f"/api/v1/organizations/{maker.id}/suspend", {"reason": "audit"},
                client.regulator)
    try:
        with writing(client.registry.url) as session:
            actor = Actor.of(session.get(Organization, maker.id))  # type: ignore[arg-type]
            robot_service.issue_codes(session, actor=actor, model_id=model_id, count=1,
                                      plant="A1", production_month="2026-03")
    except Conflict as exc:
        assert exc.code == "organization_suspended" and exc.extra["field"] == "model_id"
    else:
        raise AssertionError("codes were issued for a suspended manufacturer")
