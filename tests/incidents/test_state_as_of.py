"""The trace report's fast fold equals lifecycle's replay_state at every instant."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from robopass.db import reading
from robopass.incidents import trace
from robopass.incidents.trace import state_as_of
from robopass.lifecycle.service import replay_state
from robopass.robots.models import Unit
from robopass.timeutil import parse_rfc3339
from tests.utils.api import DEPLOYMENT, ApiClient


def test_fast_fold_matches_replay_state(client: ApiClient,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    maker = client.org("manufacturer")
    seller, buyer, other = client.org("seller"), client.org("operator"), client.org("operator")
    model_id = client.approved_model(maker)
    code = client.codes(maker, model_id, 1)[0]
    t = datetime(2026, 3, 10, 8, 0)

    def at(hours: int) -> str:
        return (t + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")

    steps = [
        (maker, "manufactured", {"details": {"province": "110000"}}),
        (maker, "firmware_updated", {"details": {"firmware": "1.0"}}),
        (maker, "shipped", {"to_organization": seller.id}),
        (seller, "sold", {"to_organization": buyer.id, "details": {"city": "110100"}}),
        (buyer, "deployed", {"details": DEPLOYMENT}),
        (buyer, "maintenance_started", {}),
        (buyer, "firmware_updated", {"details": {"firmware": "1.1"}}),
        (buyer, "maintenance_completed", {}),
        (buyer, "maintenance_started", {}),
        (client.regulator, "suspended", {}),
        (client.regulator, "reinstated", {}),
        (buyer, "maintenance_completed", {}),
        (buyer, "firmware_updated", {"details": {"firmware": "1.2"}}),
        (buyer, "transferred", {"to_organization": other.id}),
        (other, "deployed", {"details": DEPLOYMENT}),
        (other, "suspended", {}),
    ]
    recorded = []
    for i, (org, etype, body) in enumerate(steps):
        recorded.append(client.event(org, code, etype, at=at(i), **body))
    # a correction of the 1.2 firmware update
    client.event(buyer, code, "correction", at=at(len(steps)),
                 details={"corrects": recorded[12]["id"], "reason": "wrong version"})
    with reading(client.registry.url) as session:
        unit = session.get(Unit, code)
        assert unit is not None
        instants = [parse_rfc3339(e["at"]) for e in recorded]
        instants += [i + timedelta(minutes=30) for i in instants]
        instants.append(parse_rfc3339(at(len(steps) + 5)))
        for instant, max_gaps in [(i, g) for i in instants for g in (100, 0)]:
            monkeypatch.setattr(trace, "_MAX_GAPS", max_gaps)  # both ways of folding
            expected = replay_state(session, code, instant)
            got = state_as_of(session, unit, instant)
            assert got.__class__ is expected.__class__
            for field in ("status", "owner_id", "operator_id", "status_before_suspension",
                          "suspended_by_authority", "recycler_id", "firmware", "province",
                          "city", "manufacturer_id"):
                assert getattr(got, field) == getattr(expected, field), (instant, field)
