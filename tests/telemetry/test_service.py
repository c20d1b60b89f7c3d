"""Service interfaces other domains call: store_readings (seeder), readings_between,
health, fleet_health_distribution, latest_battery_soh; and the pure simulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import islice

import pytest
from sqlalchemy import select

from robopass.db import reading as read_tx
from robopass.db import write_session
from robopass.robots.models import Unit
from robopass.telemetry import service, simulator
from tests.telemetry.conftest import make_fleet

START = datetime(2026, 1, 1, tzinfo=UTC)


def test_generate_history_is_deterministic_and_realistic():
    codes = ["CN" + "1" * 27, "CN" + "2" * 27]
    end = START + timedelta(days=30)
    one = list(simulator.generate_history(codes, start=START, end=end, interval_s=3600, seed=7))
    two = list(simulator.generate_history(codes, start=START, end=end, interval_s=3600, seed=7))
    assert one == two
    other = list(simulator.generate_history(codes, start=START, end=end, interval_s=3600,
                                            seed=8))
    assert one != other
    for code in codes:
        mine = [r for r in one if r["code"] == code]
        assert 720 <= len(mine) <= 720 + 40
        ats = [r["at"] for r in mine]
        assert ats == sorted(ats) and START <= ats[0] and ats[-1] < end
        first, last = mine[0]["metrics"], mine[-1]["metrics"]
        assert last["battery_soh"] < first["battery_soh"]           # batteries fade
        assert last["operating_hours"] > first["operating_hours"]
        assert sum(last["joint_wear"].values()) > sum(first["joint_wear"].values())
        for r in mine:
            m = r["metrics"]
            assert 0 <= m["battery_soh"] <= 100 and 0 <= m["accuracy"] <= 100
            assert all(0 <= w <= 100 for w in m["joint_wear"].values())


def test_fault_bursts_report_every_second():
    codes = [f"CN{i:027d}" for i in range(40)]
    rows = list(simulator.generate_history(codes, start=START, end=START + timedelta(days=2),
                                           interval_s=30, seed=1))
    faulty = [r for r in rows if r["metrics"]["fault_codes"]]
    assert faulty, "some unit should fault in 2 days x 40 units"
    code = faulty[0]["code"]
    burst = [r["at"] for r in faulty if r["code"] == code][:simulator.BURST_S]
    assert all((b - a) == timedelta(seconds=1) for a, b in zip(burst, burst[1:], strict=False))


def test_store_readings_bulk_for_the_seeder(client):
    fleet = make_fleet(client, 3)
    now = datetime.now(UTC).replace(microsecond=0)
    history = simulator.generate_history(fleet.codes, start=now - timedelta(days=2), end=now,
                                         interval_s=300, seed=3)
    with write_session(client.registry.url) as session, session.begin():
        result = service.store_readings(session, history)  # actor None: the system
    assert result["stored"] > 3 * 2 * 288 - 1 and result["rejected"] == []
    with write_session(client.registry.url) as session, session.begin():
        again = service.store_readings(session, islice(simulator.generate_history(
            fleet.codes, start=now - timedelta(days=2), end=now, interval_s=300, seed=3), 10))
    assert again == {"stored": 0, "duplicates": 10, "rejected": []}
    # unknown units are rejected for the system too
    with write_session(client.registry.url) as session, session.begin():
        bad = service.store_readings(session, [{"code": "CN" + "9" * 27, "at": now,
                                                "metrics": {"battery_soh": 90}}])
    assert bad["stored"] == 0 and "unknown" in bad["rejected"][0]["reason"]

    code = fleet.codes[0]
    with read_tx(client.registry.url) as session:
        body = service.health(session, code)
        assert body is not None and body["code"] == code
        assert set(body["metrics"]) == {"battery_soh", "cycle_count", "joint_wear", "accuracy",
                                        "operating_hours", "fault_codes", "firmware"}
        assert service.latest_battery_soh(session, code) == body["metrics"]["battery_soh"]
        assert service.health(session, "CN" + "9" * 27) is None
        rows = service.readings_between(session, code=code, start=now - timedelta(hours=1),
                                        end=now)
        assert 11 <= len(rows) <= 13
        assert set(rows[0]) == {"at", "battery_soh", "cycle_count", "joint_wear", "accuracy",
                                "operating_hours", "fault_codes", "firmware"}
        assert isinstance(rows[0]["at"], datetime) and rows[0]["at"].tzinfo is not None
        assert [r["at"] for r in rows] == sorted(r["at"] for r in rows)
        assert len(service.readings_between(session, code=code, start=now - timedelta(days=3),
                                            end=now, limit=5)) == 5

        dist = service.fleet_health_distribution(session)
        assert dist["units"] == 3
        assert sum(b["count"] for b in dist["battery_soh"]["buckets"]) == 3
        assert [b["from"] for b in dist["max_joint_wear"]["buckets"]] == list(range(0, 100, 10))
        assert set(dist["open_alerts"]) >= {"battery_soh_low", "joint_wear_high",
                                            "accuracy_low", "new_fault_code"}
        narrowed = service.fleet_health_distribution(
            session, unit_codes_query=select(Unit.code).where(Unit.code == code))
        assert narrowed["units"] == 1
        assert sum(b["count"] for b in narrowed["battery_soh"]["buckets"]) == 1


def test_gc_pauses_of_overlapping_batches_leave_the_collector_as_found() -> None:
    import gc
    import threading

    from robopass.telemetry.service import _no_gc

    assert gc.isenabled()
    entered, release = threading.Barrier(3), threading.Event()

    def batch() -> None:
        with _no_gc():
            entered.wait()
            release.wait(10)

    threads = [threading.Thread(target=batch) for _ in range(2)]
    for t in threads:
        t.start()
    entered.wait()
    assert not gc.isenabled()
    release.set()
    for t in threads:
        t.join()
    assert gc.isenabled()
    gc.disable()
    try:
        with _no_gc():
            pass
        assert not gc.isenabled()  # it was off before: left off
    finally:
        gc.enable()


def test_decoding_needs_no_database_and_stores_the_same() -> None:
    from robopass.telemetry import service
    from robopass.telemetry.readings import BadBody

    decoded = service.decode_body(b'[{"code": "X", "at": "2026-01-01T00:00:00Z", '
                                  b'"metrics": {"battery_soh": 250}}]', actor=None)
    assert decoded.batch is None and decoded.items is not None  # the exact path will say why
    good = service.decode_body(b'{"code": "X", "at": "2026-01-01T00:00:00Z", '
                               b'"metrics": {"battery_soh": 90}}\n', actor=None)
    assert good.batch is not None and len(good.batch) == 1
    with pytest.raises(BadBody):
        service.decode_body(b"not json", actor=None)
