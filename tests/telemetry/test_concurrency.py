"""Parallel batches for the same units: every reading stored once, snapshot and alerts
consistent, no deadlock (PostgreSQL row locks; SQLite's single writer)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from robopass.auth.service import Actor
from robopass.db import reading as read_tx
from robopass.db import write_session
from robopass.telemetry import service
from tests.telemetry.conftest import make_fleet


def test_parallel_overlapping_batches(client):
    fleet = make_fleet(client, 4)
    url = client.registry.url
    with read_tx(url) as session:
        from robopass.organizations.models import Organization

        actor = Actor.of(session.get(Organization, fleet.operator.id))
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    readings = [{"code": code, "at": now - timedelta(seconds=10 * i),
                 "metrics": {"battery_soh": 60.0 + i * 0.01, "fault_codes": [f"E{i % 3}"]}}
                for code in fleet.codes for i in range(300)]
    # four threads, each sending every reading in a different order: heavy overlap
    orders = [readings, readings[::-1], readings[1::2] + readings[::2],
              sorted(readings, key=lambda r: r["at"])]
    results: list[dict] = []
    errors: list[BaseException] = []

    def work(batch: list[dict]) -> None:
        try:
            for start in range(0, len(batch), 200):
                with write_session(url) as session, session.begin():
                    results.append(service.store_readings(session, batch[start:start + 200],
                                                          actor=actor))
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(o,)) for o in orders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert sum(r["stored"] for r in results) == len(readings)
    assert sum(r["duplicates"] for r in results) == 3 * len(readings)
    with read_tx(url) as session:
        for code in fleet.codes:
            body = service.health(session, code)
            assert body["at"] == now.strftime("%Y-%m-%dT%H:%M:%SZ")
            assert body["metrics"]["battery_soh"] == 60.0
            # one open alert per broken rule, however the batches interleaved (the message
            # keeps the value that opened it)
            rules = sorted(a["rule"] for a in body["alerts"])
            assert rules == ["battery_soh_low", "new_fault_code"]
            assert [a["message"] for a in body["alerts"] if a["rule"] == "new_fault_code"] \
                == ["new fault code E0"]
