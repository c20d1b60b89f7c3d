"""The scheduled scan: `robopass signals scan` and the server's background scanner."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

from typer.testing import CliRunner

from robopass.cli import app
from robopass.signals.watch import run_scanner
from robopass.timeutil import rfc3339, utcnow
from tests.conftest import Registry
from tests.signals.test_signals import _fleet
from tests.utils.api import ApiClient


def _three_faults(client: ApiClient) -> None:
    supplier, maker = client.org("component_supplier"), client.org("manufacturer")
    codes = _fleet(client, maker, supplier, 30, "B-5")
    now = utcnow()
    readings = [{"code": c, "at": rfc3339(now - timedelta(minutes=3 - i)),
                 "metrics": {"fault_codes": ["E77"]}} for i, c in enumerate(codes[:3])]
    assert client.post("/api/v1/telemetry", readings, maker).json()["stored"] == 3


def test_cli_scan_raises_signals_from_fault_codes(client: ApiClient, registry: Registry) -> None:
    _three_faults(client)
    result = CliRunner().invoke(app, ["signals", "scan", "--db", registry.url])
    assert result.exit_code == 0, result.output
    raised = [json.loads(line) for line in result.output.splitlines() if line.strip()]
    assert {s["trigger"]["value"] for s in raised} == {"E77"} and len(raised) == 3
    again = CliRunner().invoke(app, ["signals", "scan", "--db", registry.url])
    assert again.output.strip() == ""


def test_background_scanner(sqlite_client: ApiClient, sqlite_registry: Registry) -> None:
    _three_faults(sqlite_client)
    stop = threading.Event()
    thread = threading.Thread(target=run_scanner, args=(sqlite_registry.url,),
                              kwargs={"stop": stop, "interval": 0.2})
    thread.start()
    try:
        for _ in range(100):
            signals = sqlite_client.get("/api/v1/signals",
                                        sqlite_client.regulator).json()["signals"]
            if signals:
                break
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join()
    assert len(signals) == 3
