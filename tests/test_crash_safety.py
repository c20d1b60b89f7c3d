"""kill -9 at any moment loses no acknowledged write and leaves no duplicate or orphan
(SPEC §12), on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx
from sqlalchemy import func, select
from typer.testing import CliRunner

from robopass.cli import app
from robopass.db import dispose_engine, reading
from robopass.lifecycle.models import Event
from robopass.robots.models import Unit
from tests.conftest import Registry
from tests.utils.api import ApiClient
from tests.utils.server import server_process


def test_kill_minus_nine_loses_no_acknowledged_write(client: ApiClient,
                                                     registry: Registry) -> None:
    maker = client.org("manufacturer")
    model_id = client.approved_model(maker)
    acked_codes: list[str] = []
    acked_events: list[str] = []
    stop = threading.Event()

    def writer(base: str) -> None:
        with httpx.Client(timeout=30) as http:
            while not stop.is_set():
                try:
                    r = http.post(f"{base}/api/v1/models/{model_id}/codes", headers=maker.auth,
                                  json={"count": 200, "plant": "K9",
                                        "production_month": "2026-05"})
                    if r.status_code != 201:
                        continue
                    codes = r.json()["codes"]
                    acked_codes.extend(codes)
                    r = http.post(f"{base}/api/v1/events", headers=maker.auth, json={
                        "events": [{"code": c, "type": "manufactured"} for c in codes]})
                    if r.status_code == 201:
                        acked_events.extend(e["id"] for e in r.json()["events"])
                except httpx.HTTPError:
                    return  # the server died under us

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
    dispose_engine(registry.url)
    assert acked_codes and acked_events
    with reading(registry.url) as session:
        stored_codes = set(session.scalars(select(Unit.code).where(
            Unit.model_id == model_id)))
        stored_events = set(session.scalars(select(Event.id)))
        n_units = session.scalar(select(func.count()).select_from(Unit))
    assert set(acked_codes) <= stored_codes
    assert set(acked_events) <= stored_events
    assert n_units == len(stored_codes)  # no duplicates (the primary key would refuse them)
    result = CliRunner().invoke(app, ["ledger", "verify", "--db", registry.url])
    assert result.exit_code == 0, result.output  # no orphan: every record has its leaf
