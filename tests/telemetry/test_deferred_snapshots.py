"""Large live batches leave their units' snapshots and alerts to the folder
(``service.DEFER_SNAPSHOTS_FROM``). With that threshold at one reading, every staged batch
defers, and the event-time, health and ingest tests must hold unchanged: health reads fold
first when the unit has such readings (exact), the fold applies late readings, ``since`` and
the trend in event time, and the duplicate check (``telemetry_heads``) sees staged readings."""

from __future__ import annotations

from typing import Any

import pytest

from robopass.telemetry import service
from tests.telemetry.conftest import leased_unit, reading, rerun_live_suites, ts

rerun_live_suites(globals())


@pytest.fixture(autouse=True)
def _defer_every_staged_batch(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(service, "DEFER_SNAPSHOTS_FROM", 1)


def test_a_deferred_batch_waits_in_staging_until_a_health_read_folds_it(client, fleet):
    from robopass.db import reading as read_session
    a, b = fleet.codes[0], fleet.codes[1]
    r = client.post("/api/v1/telemetry", [reading(a, ts(3), battery_soh=40.0),
                                          reading(b, ts(3), battery_soh=90.0)], fleet.operator)
    assert r.json()["stored"] == 2
    with read_session(client.registry.url) as session:
        assert service.snapshot_pending(session, a)
    body = client.get(f"/api/v1/robots/{a}/health", fleet.operator).json()
    assert body["metrics"]["battery_soh"] == 40.0 and body["at"] == ts(3)
    assert [x["rule"] for x in body["alerts"]] == ["battery_soh_low"]
    with read_session(client.registry.url) as session:
        assert not service.snapshot_pending(session, a)
        assert not service.snapshot_pending(session, b)
    # the same readings again (now folded into chunks) are duplicates, not stored twice
    r = client.post("/api/v1/telemetry", [reading(a, ts(3), battery_soh=40.0)], fleet.operator)
    assert r.json()["stored"] == 0 and r.json()["duplicates"] == 1


def test_the_fold_notifies_an_alert_the_deferred_readings_opened(client):
    from robopass.db import transaction, write_session

    unit = leased_unit(client)
    owner, operator, code = unit.owner, unit.operator, unit.code
    for minutes in (2, 1):
        r = client.post("/api/v1/telemetry", [reading(code, ts(minutes), battery_soh=60.0)],
                        operator)
        assert r.json()["stored"] == 1
    notes = client.get("/api/v1/notifications?topic=health_alert", operator).json()
    assert notes["notifications"] == []  # not applied yet
    with write_session(client.registry.url) as session, transaction(session, ledger=False):
        assert service.fold_staged(session) == 2  # what the serve folder thread does
    for org in (owner, operator):
        notes = client.get("/api/v1/notifications?topic=health_alert", org).json()
        assert len(notes["notifications"]) == 1, notes
        assert notes["notifications"][0]["payload"]["since"] == ts(2)


def _five_units(client, monkeypatch, limit: str, socs: list[float]):  # type: ignore[no-untyped-def]
    """Five units, one reading each with ``socs``, stored with ``snapshots.<limit>`` at 2."""
    from robopass.telemetry import snapshots
    from tests.telemetry.conftest import make_fleet

    monkeypatch.setattr(snapshots, limit, 2)
    fleet = make_fleet(client, count=5)
    r = client.post("/api/v1/telemetry", [reading(code, ts(2), battery_soh=soc)
                                          for code, soc in zip(fleet.codes, socs, strict=True)],
                    fleet.operator)
    assert r.json()["stored"] == 5
    return fleet


def test_a_fold_writes_the_snapshots_a_few_rows_per_statement(client, monkeypatch):
    """On PostgreSQL the snapshots are written ``PG_METRIC_ROWS`` at a time (no megabyte
    message): with 2 a time, every one of 5 units gets its own newest values."""
    socs = [90.0 - k for k in range(5)]
    fleet = _five_units(client, monkeypatch, "PG_METRIC_ROWS", socs)
    for code, soc in zip(fleet.codes, socs, strict=True):
        body = client.get(f"/api/v1/robots/{code}/health", fleet.operator).json()
        assert body["metrics"]["battery_soh"] == soc and body["at"] == ts(2)


def test_alerts_are_evaluated_a_few_units_at_a_time(client, monkeypatch):
    """``ALERT_UNITS`` at a time (a new fleet's first fold checks every unit): with 2, each
    of 5 units still gets exactly the alerts its own values break."""
    socs = [40.0, 90.0, 40.0, 90.0, 40.0]
    fleet = _five_units(client, monkeypatch, "ALERT_UNITS", socs)
    for code, soc in zip(fleet.codes, socs, strict=True):
        body = client.get(f"/api/v1/robots/{code}/health", fleet.operator).json()
        want = ["battery_soh_low"] if soc < 50 else []
        assert [x["rule"] for x in body["alerts"]] == want, code
