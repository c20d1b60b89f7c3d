"""kill -9 of a server ingesting live-shaped batches loses no acknowledged reading and stores
none twice, while a folder moves staged readings into chunks (SPEC §7, §12)."""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx

from robopass.db import dispose_engine, reading
from robopass.telemetry import service, staging
from tests.conftest import Registry
from tests.telemetry.conftest import make_fleet
from tests.utils.api import ApiClient
from tests.utils.server import server_process


def test_kill_minus_nine_loses_no_acknowledged_reading(client: ApiClient,
                                                       registry: Registry) -> None:
    fleet = make_fleet(client, 20)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    acked: list[tuple[str, datetime]] = []
    stop = threading.Event()
    step = [0]

    def writer(base: str) -> None:
        with httpx.Client(timeout=30) as http:
            while not stop.is_set():
                at = start + timedelta(seconds=step[0])
                step[0] += 1
                body = [{"code": c, "at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                         "metrics": {"battery_soh": 90.0 - step[0] % 30}} for c in fleet.codes]
                try:
                    r = http.post(f"{base}/api/v1/telemetry", headers=fleet.operator.auth,
                                  json=body)
                except httpx.HTTPError:
                    return  # the server died under us
                if r.status_code == 200:
                    assert r.json() == {"stored": len(body), "duplicates": 0, "rejected": []}
                    acked.extend((c, at) for c in fleet.codes)

    folder = staging.start_background_folder(registry.url, interval=0.05)
    try:
        for round_ in range(2):
            with server_process(registry.url) as (base, proc):
                thread = threading.Thread(target=writer, args=(base,))
                thread.start()
                time.sleep(1.0 + 0.7 * round_)
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                stop.set()
                thread.join()
                stop.clear()
    finally:
        folder.set()
    dispose_engine(registry.url)
    assert acked
    with reading(registry.url) as session:
        for code in fleet.codes:
            rows = service.readings_between(session, code=code, start=start,
                                            end=start + timedelta(hours=1), limit=100_000)
            times = [r["at"] for r in rows]
            assert len(times) == len(set(times))  # none twice, folded or staged
            assert {at for c, at in acked if c == code} <= set(times)
