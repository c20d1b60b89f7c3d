"""Recall campaigns close; remedy_by and overdue (SPEC §13), both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.utils.api import ApiClient


def _made(client: ApiClient, maker, model_id: str, n: int) -> list[str]:  # type: ignore[no-untyped-def]
    codes = client.codes(maker, model_id, n)
    for code in codes:
        client.event(maker, code, "manufactured", at="2026-03-10T08:00:00Z")
    return codes


def test_manufacturer_closes_when_every_unit_is_remedied(client: ApiClient) -> None:
    maker, buyer = client.org("manufacturer"), client.org("operator")
    model_id = client.approved_model(maker)
    codes = _made(client, maker, model_id, 2)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    r = client.post("/api/v1/recalls", {"reason": "loose bolt", "scope": {"model_id": model_id},
                                        "remedy_by": tomorrow}, maker)
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    progress = client.get(f"/api/v1/recalls/{rid}", maker).json()
    assert progress["remedy_by"] == tomorrow and progress["overdue"] == 0
    r = client.post(f"/api/v1/recalls/{rid}/close", {"reason": "done"}, maker)
    assert r.status_code == 409 and r.json()["error"]["code"] == "recall_units_open"
    assert r.json()["error"]["open"] == 2
    for code in codes:
        client.event(maker, code, "recall_remedied", details={"recall_id": rid})
    r = client.post(f"/api/v1/recalls/{rid}/close", {"reason": "all remedied"}, buyer)
    assert r.status_code == 403
    r = client.post(f"/api/v1/recalls/{rid}/close", {"reason": "all remedied"}, maker)
    assert r.status_code == 200 and r.json()["status"] == "closed"
    r = client.post(f"/api/v1/recalls/{rid}/close", {"reason": "again"}, maker)
    assert r.status_code == 409 and r.json()["error"]["code"] == "recall_closed"
    decisions = client.get(f"/api/v1/decisions?object_id={rid}", maker).json()
    assert [d["action"] for d in decisions] == ["recall.close"]


def test_regulator_closes_any_time_and_the_campaign_blocks_nothing(client: ApiClient) -> None:
    maker, buyer = client.org("manufacturer"), client.org("operator")
    model_id = client.approved_model(maker)
    code = _made(client, maker, model_id, 1)[0]
    rid = client.post("/api/v1/recalls", {"reason": "opened in error",
                                          "scope": {"model_id": model_id}},
                      client.regulator).json()["id"]
    r = client.post(f"/api/v1/robots/{code}/events", {"type": "sold",
                                                      "to_organization": buyer.id}, maker)
    assert r.status_code == 409  # blocked while open
    assert client.get(f"/api/v1/verify/{code}").json()["open_recalls"]
    r = client.post(f"/api/v1/recalls/{rid}/close", {"reason": "opened in error"},
                    client.regulator)
    assert r.status_code == 200 and r.json()["close_reason"] == "opened in error"
    assert client.get(f"/api/v1/verify/{code}").json()["open_recalls"] == []
    assert "opened in error" not in client.get(f"/r/{code}").text
    client.event(maker, code, "sold", to_organization=buyer.id)  # no longer blocked
    r = client.post(f"/api/v1/robots/{code}/events",
                    {"type": "recall_remedied", "details": {"recall_id": rid}}, maker)
    assert r.status_code == 409 and r.json()["error"]["code"] == "recall_closed"


def test_remedy_by_and_overdue(client: ApiClient) -> None:
    from datetime import date

    from robopass.db import writing
    from robopass.recalls.models import Recall

    maker = client.org("manufacturer")
    model_id = client.approved_model(maker)
    codes = _made(client, maker, model_id, 3)
    r = client.post("/api/v1/recalls", {"reason": "x", "scope": {"model_id": model_id},
                                        "remedy_by": "2001-01-01"}, maker)
    assert r.status_code == 422 and r.json()["error"]["field"] == "remedy_by"
    rid = client.post("/api/v1/recalls", {"reason": "x", "scope": {"model_id": model_id},
                                          "remedy_by": "2099-01-01"}, maker).json()["id"]
    client.event(maker, codes[0], "recall_remedied", details={"recall_id": rid})
    with writing(client.registry.url) as session:  # the deadline passes
        recall = session.get(Recall, rid)
        assert recall is not None
        recall.remedy_by = date(2024, 1, 1)
    assert client.get(f"/api/v1/recalls/{rid}", maker).json()["overdue"] == 2
    listed = client.get("/api/v1/recalls", maker).json()
    assert next(x for x in listed if x["id"] == rid)["overdue"] == 2
