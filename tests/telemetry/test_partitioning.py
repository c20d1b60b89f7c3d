"""Monthly partitions of telemetry_chunks on PostgreSQL: ingest, reads and retention work
the same on the partitioned table."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from robopass.cli import app
from robopass.db import reading as read_tx
from robopass.db import write_session
from robopass.telemetry import partitioning, retention, service
from tests.telemetry.conftest import make_fleet, reading, ts


def test_partitioned_readings(client):
    url = client.registry.url
    if client.registry.backend == "sqlite":
        result = CliRunner().invoke(app, ["telemetry", "partition", "--db", url])
        assert result.exit_code == 2  # partitioning is PostgreSQL's: refused on SQLite
        return
    fleet = make_fleet(client, 1)
    code = fleet.codes[0]
    now = datetime.now(UTC).replace(microsecond=0)
    old = [{"code": code, "at": now - timedelta(days=d), "metrics": {"battery_soh": 90.0}}
           for d in (70, 40, 10, 1)]
    with write_session(url) as session, session.begin():
        assert service.store_readings(session, old)["stored"] == 4

    result = CliRunner().invoke(app, ["telemetry", "partition", "--db", url,
                                      "--months-back", "3", "--months-ahead", "2"])
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)["created"]
    assert len(created) == 7 and created[-1] == "telemetry_chunks_default"
    with write_session(url) as session, session.begin():
        assert partitioning.is_partitioned(session)
        assert partitioning.ensure_partitions(session, months_ahead=2) == []

    # ingest through the API: duplicates are still found through the partitioned key
    batch = [reading(code, ts(3), battery_soh=89.0),
             {"code": code, "at": old[-1]["at"].strftime("%Y-%m-%dT%H:%M:%SZ"),
              "metrics": {"battery_soh": 1.0}}]
    r = client.post("/api/v1/telemetry", batch, fleet.operator)
    assert r.json() == {"stored": 1, "duplicates": 1, "rejected": []}
    with read_tx(url) as session:
        rows = service.readings_between(session, code=code, start=now - timedelta(days=80),
                                        end=now)
        assert [r["battery_soh"] for r in rows] == [90.0, 90.0, 90.0, 90.0, 89.0]

    report = retention.retain(url, raw_days=30)
    assert report.partitions_dropped >= 1
    with read_tx(url) as session:
        rows = service.readings_between(session, code=code, start=now - timedelta(days=80),
                                        end=now)
        assert len(rows) == 3  # the 40- and 70-day-old readings are gone
        hourly = service.series(session, code=code, start=now - timedelta(days=80), end=now,
                                resolution="day")["points"]
        assert sum(p["count"] for p in hourly) == 5  # their aggregates are not
