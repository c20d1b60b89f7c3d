"""The units' facts a server process keeps between batches (telemetry/facts.py): a change
through an event is seen by the next batch, on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from robopass.db import reading as read_session
from robopass.telemetry import facts, service
from tests.telemetry.conftest import reading, ts


def test_a_transfer_after_the_facts_were_kept_is_seen(client, fleet):
    a, b = fleet.codes
    for k in (1, 2):  # the first batch gives the units their sids, the second keeps facts
        r = client.post("/api/v1/telemetry", [reading(a, ts(k)), reading(b, ts(k))],
                        fleet.operator)
        assert r.json()["stored"] == 2
    buyer = client.org("operator")
    client.event(fleet.operator, a, "transferred", at=ts(30), to_organization=buyer.id)
    r = client.post("/api/v1/telemetry", [reading(a, ts(3)), reading(b, ts(3))], fleet.operator)
    body = r.json()
    assert body["stored"] == 1
    assert body["rejected"] == [{"index": 0, "field": "code", "reason":
                                 f"unit {a} is not yours: only its owner or operator reports"}]
    assert client.post("/api/v1/telemetry", [reading(a, ts(4))], buyer).json()["stored"] == 1


def test_a_unit_scrapped_after_the_facts_were_kept_reports_nothing(client, fleet):
    a = fleet.codes[0]
    for k in (1, 2):  # the first batch gives the unit its sid, the second keeps its facts
        assert client.post("/api/v1/telemetry", [reading(a, ts(k))], fleet.operator).json()[
            "stored"] == 1
    recycler = client.org("recycler")
    client.event(fleet.operator, a, "decommissioned", at=ts(30), to_organization=recycler.id)
    client.event(recycler, a, "scrapped", at=ts(20))
    r = client.post("/api/v1/telemetry", [reading(a, ts(3))], fleet.operator)
    assert r.json()["stored"] == 0
    assert "scrapped" in r.json()["rejected"][0]["reason"]


def _counting(calls: list[list[str]]) -> Any:
    def read(session: Session, codes: list[str]) -> facts.Facts:
        calls.append(codes)
        return service.unit_facts(session, codes)
    return read


def test_kept_facts_are_read_again_only_when_the_ledger_grew_or_they_aged(
        client, fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = fleet.codes
    client.post("/api/v1/telemetry", [reading(a, ts(1))], fleet.operator)  # a has a sid now
    url = client.registry.url
    calls: list[list[str]] = []
    unknown = "CN0000000000000000000000000X"
    codes = sorted([a, b, unknown])  # b: no sid yet; one unknown
    with read_session(url) as session:
        first = facts.cached(session, codes, _counting(calls))
        assert facts.cached(session, codes, _counting(calls)) == first
    # a was kept (it has a sid); b (no telemetry yet) and the unknown code are read again
    assert calls == [codes, sorted([b, unknown])]
    assert set(first) == {a, b} and first[a][3] is not None and first[b][3] is None
    client.event(fleet.operator, b, "maintenance_started", at=ts(30))  # the ledger grows
    calls.clear()
    with read_session(url) as session:
        assert facts.cached(session, [a], _counting(calls)) == {a: first[a]}
    assert calls == [[a]]
    monkeypatch.setattr(facts, "MAX_AGE_S", -1.0)  # aged: read again, ledger unchanged
    calls.clear()
    with read_session(url) as session:
        facts.cached(session, [a], _counting(calls))
    assert calls == [[a]]
