"""An incremental scan finds exactly what a full scan finds (SPEC §14): random change sets —
events, readings, firmware, policy versions, a pilot ending, time passing past expiries —
each followed by both scans of the same state at the same instant."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from robopass.compliance import scan, service
from robopass.db import writing
from tests.pilots.test_pilots import open_pilot
from tests.utils.api import ApiClient, Org
from tests.utils.regulation import FACTORY, WUHAN, put_policy

PLACES = (FACTORY, {"scenario": "logistics", "province": "110000", "city": "110100"},
          {"scenario": "commercial_service", "province": "440000", "city": "440300"})
SOFTWARE = {"name": "MotionOS", "version": "2.4.1", "ai_stack": "VLA-7B",
            "builds": [{"version": "2.4.1"}, {"version": "2.5.0"}]}


def both_scans(client: ApiClient, now: datetime) -> scan.Scan:
    """Judge incrementally and fully at ``now``; they must agree; keep the incremental one."""
    with writing(client.registry.url) as session:
        incremental = scan.judge(session, now, full_every=timedelta(days=3650))
        full = scan.judge(session, now, full=True)
        assert incremental.desired == full.desired
        service.apply_findings(session, incremental, now=now)
    return incremental


def fleet(client: ApiClient, n: int) -> tuple[Org, Org, str, list[str]]:
    maker, operator = client.org("manufacturer"), client.org("operator")
    model_id = client.approved_model(maker, software=SOFTWARE, certifications=[
        {"name": "ISO 10218-1:2011", "valid_until": "2027-03-31"}])
    codes = client.codes(maker, model_id, n)
    for code in codes:
        client.event(maker, code, "manufactured", at="2026-03-10T08:00:00Z")
        client.event(maker, code, "sold", to_organization=operator.id, at="2026-03-11T08:00:00Z")
    return maker, operator, model_id, codes


def reading(client: ApiClient, org: Org, code: str, age_s: float, firmware: str | None) -> None:
    at = datetime.now(UTC) - timedelta(seconds=age_s)
    item = {"code": code, "at": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z",
            "metrics": {"battery_soh": 90.0}}
    if firmware:
        item["firmware"] = firmware
    r = client.post("/api/v1/telemetry", [item], org)
    assert r.status_code == 200, r.text


def fresh_readings(client: ApiClient, operator: Org, codes: list[str], rng: random.Random
                   ) -> None:
    """Every unit but the first (which never reports) reports now, mostly approved firmware:
    nothing is a stale-reading candidate, so only what changed is judged."""
    for code in codes[1:]:
        reading(client, operator, code, 1, rng.choice([None, "2.4.1", "2.4.1", "2.4.1",
                                                       "2.4.1", "9.9-dev"]))


def change(client: ApiClient, rng: random.Random, maker: Org, operator: Org, code: str,
           action: str, pilot: str) -> None:
    status = client.get(f"/api/v1/robots/{code}", client.regulator).json().get("status")
    if action == "deploy" and status in ("sold", "in_service"):
        place = WUHAN if rng.random() < 0.3 else rng.choice(PLACES)
        client.post(f"/api/v1/robots/{code}/events", {"type": "deployed", "details": place},
                    operator)
    elif action == "firmware":
        client.post(f"/api/v1/robots/{code}/events", {
            "type": "firmware_updated",
            "details": {"firmware": rng.choice(["2.5.0", "2.5.0", "3.0-beta"])}}, maker)
    elif action == "policy":
        put_policy(client, "industrial", rng.choice([
            {"max_telemetry_interval_s": rng.choice([60, 600])},
            {"min_level": rng.choice([1, 4]), "max_telemetry_interval_s": 600},
            {"required_certifications": ["ISO 10218-1"], "max_telemetry_interval_s": 600},
            {"requires_evaluation_within_days": 365, "max_telemetry_interval_s": 600}]))
    elif action == "leave" and status == "in_service":
        client.post(f"/api/v1/robots/{code}/events",
                    {"type": "transferred", "to_organization": operator.id}, operator)
    elif action == "pilot":
        client.post(f"/api/v1/pilots/{pilot}/end", {"reason": "over"}, client.regulator)


@pytest.mark.parametrize("seed", [1, 2])
def test_incremental_scans_agree_with_full_scans(client: ApiClient, seed: int) -> None:
    rng = random.Random(seed)
    maker, operator, _model_id, codes = fleet(client, 8)
    pilot = open_pilot(client, [operator.id], rules={"max_telemetry_interval_s": 300})
    incrementals = found = 0
    # Phase 1: units report as they should; deployments, firmware, policies, a pilot ending.
    for step in range(22):
        action = "deploy" if step < len(codes) else rng.choice(
            ["deploy", "firmware", "policy", "policy", "leave", "pilot" if step > 16 else ""])
        change(client, rng, maker, operator, codes[step % len(codes)] if step < len(codes)
               else rng.choice(codes), action, pilot["id"])
        fresh_readings(client, operator, codes, rng)
        result = both_scans(client, datetime.now(UTC) + timedelta(seconds=2))
        incrementals += not result.full
        found += bool(result.desired)
    # Phase 2: time passes (past the certification's and the evaluation's expiry) under
    # policies that ask for a reading only every 115 days, so no reading goes stale.
    for scenario in ("industrial", "logistics", "commercial_service"):
        put_policy(client, scenario, {"max_telemetry_interval_s": 10_000_000,
                                      "required_certifications": ["ISO 10218-1"],
                                      "requires_evaluation_within_days": 365})
    client.post(f"/api/v1/pilots/{pilot['id']}/end", {"reason": "over"}, client.regulator)
    now = datetime.now(UTC) + timedelta(seconds=2)
    for _step in range(8):
        now += rng.choice([timedelta(days=30), timedelta(days=45)])
        result = both_scans(client, now)
        incrementals += not result.full
        found += bool(result.desired)
    assert incrementals >= 25 and found >= 10  # incremental scans, and findings to agree on


def test_the_first_scan_is_full_and_later_ones_incremental(client: ApiClient) -> None:
    _maker, operator, _model_id, codes = fleet(client, 2)
    client.event(operator, codes[0], "deployed", details=FACTORY)

    def scan_now() -> dict[str, object]:
        r = client.post("/api/v1/compliance/scan", None, client.regulator)
        assert r.status_code == 200, r.text
        return dict(r.json())

    first, second = scan_now(), scan_now()
    assert first["full"] is True and second["full"] is False
    client.event(operator, codes[1], "deployed", details=FACTORY)
    third = scan_now()  # the unit with an event is judged one by one
    assert third["full"] is False and third["judged_units"] >= 1
    with writing(client.registry.url) as session:
        assert service.run_scan(session, full=True).full is True
