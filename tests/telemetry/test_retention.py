"""Downsampling and retention on both backends, with ingest going on (SPEC §7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from robopass.db import reading as read_tx
from robopass.db import write_session
from robopass.telemetry import retention, service
from tests.telemetry.conftest import make_fleet


def hourly(url: str, code: str, start: datetime, end: datetime) -> list[dict]:
    with read_tx(url) as session:
        return service.series(session, code=code, start=start, end=end,
                              resolution="hour")["points"]


def test_downsample_then_retain_keeps_hourly_history(client):
    fleet = make_fleet(client, 2)
    url = client.registry.url
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(minutes=30)
    start = now - timedelta(days=3)
    readings = [{"code": code, "at": start + timedelta(minutes=10 * i),
                 "metrics": {"battery_soh": 90.0 - i * 0.01, "accuracy": 97.0,
                             "joint_wear": {"knee": 10.0 + i * 0.01},
                             "fault_codes": ["E1"] if i % 50 == 0 else []}}
                for code in fleet.codes for i in range(3 * 144)]
    with write_session(url) as session, session.begin():
        assert service.store_readings(session, readings)["stored"] == len(readings)
    code = fleet.codes[0]
    before = hourly(url, code, start, now)
    assert sum(p["count"] for p in before) == 3 * 144

    report = retention.downsample(url)
    assert report.units == 2 and report.hours_written >= 2 * 72
    assert hourly(url, code, start, now) == before  # same answer, now from the aggregates
    assert retention.downsample(url).units == 0      # nothing changed since

    report = retention.retain(url, raw_days=1)
    assert report.raw_deleted > 2 * 2 * 144 - 20
    assert hourly(url, code, start, now) == before   # hourly history survives
    with read_tx(url) as session:
        raw = service.readings_between(session, code=code, start=start, end=now)
        assert raw and raw[0]["at"] >= now - timedelta(days=1, hours=1)
        assert service.health(session, code)["metrics"]["battery_soh"] == readings[431][
            "metrics"]["battery_soh"]

    # a late reading into an already downsampled hour makes that hour dirty again
    late_at = now - timedelta(hours=5, minutes=1)
    with write_session(url) as session, session.begin():
        result = service.store_readings(session, [{"code": code, "at": late_at,
                                                   "metrics": {"battery_soh": 10.0}}])
        assert result["stored"] == 1
    hour_start = late_at.replace(minute=0)
    point = [p for p in hourly(url, code, start, now)
             if p["at"] == hour_start.strftime("%Y-%m-%dT%H:%M:%SZ")][0]
    assert point["count"] == 7 and point["battery_soh"]["min"] == 10.0
    assert retention.downsample(url).units == 1
    point2 = [p for p in hourly(url, code, start, now) if p["at"] == point["at"]][0]
    assert point2 == point

    # hourly retention
    report = retention.retain(url, raw_days=1, hourly_days=2)
    assert report.hourly_deleted >= 2 * 20
    assert min(p["at"] for p in hourly(url, code, start, now)) >= (
        now - timedelta(days=2, hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
