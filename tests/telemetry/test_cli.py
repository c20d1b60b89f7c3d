"""CLI: simulate (against the app), telemetry downsample/retain, ingest mqtt errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import orjson
from typer.testing import CliRunner

from robopass.cli import app
from robopass.db import write_session
from robopass.telemetry import service, simulator
from tests.telemetry.conftest import make_fleet

runner = CliRunner()


def test_simulator_run_drives_units_through_the_api(client):
    fleet = make_fleet(client, 3)
    clock = [datetime.now(UTC).timestamp() - 120]

    def send(batch):  # type: ignore[no-untyped-def]
        r = client.raw.post("/api/v1/telemetry", content=orjson.dumps(batch),
                            headers={**fleet.operator.auth, "Content-Type": "application/json"})
        assert r.status_code == 200, r.text
        return r.json()

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    stats = simulator.run(fleet.codes, interval_s=10, send=send, seed=5, duration_s=60,
                          clock=lambda: clock[0], sleep=sleep)
    assert stats.rejected == 0 and stats.duplicates == 0
    assert 3 * 5 <= stats.stored <= 3 * 6 + 3 * simulator.BURST_S
    health = client.get(f"/api/v1/robots/{fleet.codes[0]}/health", fleet.operator).json()
    assert set(health["metrics"]["joint_wear"]) == set(simulator.JOINTS)


def test_simulate_command_needs_a_key():
    result = runner.invoke(app, ["simulate", "--robots", "1"], env={"ROBOPASS_API_KEY": ""})
    assert result.exit_code == 2


def test_simulate_command_reports_an_unreachable_registry():
    result = runner.invoke(app, ["simulate", "--robots", "1", "--api-key", "rp_x_y",
                                 "--url", "http://127.0.0.1:9", "--duration", "1"])
    assert result.exit_code == 1


def test_downsample_and_retain_commands(client):
    fleet = make_fleet(client, 1)
    url = client.registry.url
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with write_session(url) as session, session.begin():
        service.store_readings(session, simulator.generate_history(
            fleet.codes, start=end - timedelta(days=2), end=end, interval_s=600, seed=2))
    result = runner.invoke(app, ["telemetry", "downsample", "--db", url])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["units"] == 1
    result = runner.invoke(app, ["telemetry", "retain", "--db", url, "--raw-days", "1"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["raw_deleted"] > 100


def test_ingest_mqtt_reports_an_unreachable_broker(sqlite_registry):
    result = runner.invoke(app, ["ingest", "mqtt", "--broker", "mqtt://127.0.0.1:9",
                                 "--db", sqlite_registry.url, "--duration", "1"])
    assert result.exit_code == 1
