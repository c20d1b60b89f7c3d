"""Benchmark: two versions of the code side by side on the live telemetry shape, for A/B.

On this 2-core machine the CPU a server needs per reading swings ±15 % and more from run to
run (other work, the host), so alternating runs of two versions need many runs to show a
10 % difference. Here two ``robopass serve --workers 2`` — one from ``--a`` (a ``src``
directory), one from ``--b`` — each get a fresh SQLite registry of ``--units`` robots and are
loaded **at the same time** with one live reading per robot per batch; whatever the machine
does hits both. After the load each waits until its folder has folded everything staged, so
the fold's CPU counts in full. Prints one JSON object: each side's server CPU per reading, in
all and by role (the workers decode and store, the supervisor folds), its rate (which, sharing
the cores, is not the rate either reaches alone) and its peak resident memory while loaded.
``--backend postgresql``: each side gets a database of its own in the same PostgreSQL server.

    python bench/bench_telemetry_ab.py --a src --b /tmp/base/src [--readings 300000] [--flip]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "src"))

from bench_telemetry_http import build_bodies, wait_up  # noqa: E402
from common import (  # noqa: E402
    RssSampler,
    free_port,
    new_registry,
    server_cpu_by_role,
    units_and_key,
)


def _post_all(side: dict[str, Any], bodies: list[bytes], connections: int) -> None:
    queue, lock = list(bodies), threading.Lock()
    headers = {"Authorization": f"Bearer {side['key']}", "Content-Type": "application/json"}

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", side["port"], timeout=300)
        while True:
            with lock:
                if not queue:
                    return
                body = queue.pop(0)
            conn.request("POST", "/api/v1/telemetry", body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            with lock:
                if resp.status != 200:
                    side["errors"].append(f"{resp.status} {data[:200]!r}")
                else:
                    side["stored"] += json.loads(data)["stored"]

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _staged(side: dict[str, Any]) -> int:
    if side["reg"].pg_name is not None:
        import psycopg

        with psycopg.connect(side["reg"].url) as pg:
            row = pg.execute("SELECT count(*) FROM telemetry_staging").fetchone()
            return int(row[0]) if row else 0
    conn = sqlite3.connect(side["reg"].url.split("///", 1)[1])
    try:
        return int(conn.execute("SELECT count(*) FROM telemetry_staging").fetchone()[0])
    finally:
        conn.close()


def _start(src: str, args: argparse.Namespace) -> dict[str, Any]:
    reg = new_registry(args.backend)
    codes, key = units_and_key(reg, args.units)
    bodies = build_bodies(codes, readings=args.readings + args.units, batch=args.units,
                          per_unit=1, end=datetime.now(UTC) - timedelta(minutes=1))
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "robopass.cli", "serve", "--db", reg.url, "--host",
         "127.0.0.1", "--port", str(port), "--workers", "2"],
        env={**os.environ, "PYTHONPATH": str(Path(src).resolve())}, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return {"src": src, "reg": reg, "key": key, "bodies": bodies, "port": port,
            "server": server, "stored": 0, "errors": []}


def _run(side: dict[str, Any], connections: int) -> None:
    rss = RssSampler(side["server"].pid)
    side["cpu0"], side["t0"] = server_cpu_by_role(side["server"].pid), time.perf_counter()
    _post_all(side, side["bodies"][1:], connections)
    side["t1"], side["left"] = time.perf_counter(), _staged(side)
    rss.stop()
    side["rss_peak_mb"], side["rss_peak_by_role_mb"] = rss.peak_mb, rss.peaks_by_role_mb()
    while _staged(side):  # the fold of what this run staged counts too
        time.sleep(0.1)
    side["cpu1"] = server_cpu_by_role(side["server"].pid)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--a", required=True, help="src directory of version A")
    parser.add_argument("--b", required=True, help="src directory of version B")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--readings", type=int, default=300_000)
    parser.add_argument("--connections", type=int, default=8, help="per server")
    parser.add_argument("--flip", action="store_true", help="start B's load first")
    args = parser.parse_args()
    sides: dict[str, dict[str, Any]] = {}
    try:
        for name, src in (("a", args.a), ("b", args.b)):
            sides[name] = _start(src, args)
        for side in sides.values():
            wait_up(side["port"])
            _post_all(side, side["bodies"][:1], args.connections)  # first readings: snapshots
            side["stored"] = 0
        time.sleep(3)  # both folders catch up
        load = os.getloadavg()[0]
        order = [sides["b"], sides["a"]] if args.flip else [sides["a"], sides["b"]]
        threads = [threading.Thread(target=_run, args=(side, args.connections))
                   for side in order]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        out: dict[str, Any] = {"benchmark": "telemetry_ab", "load_average_before": round(load, 2)}
        for name, side in sides.items():
            n = max(1, side["stored"])
            roles = {role: round((cpu - side["cpu0"].get(role, 0.0)) / n * 1e6, 2)
                     for role, cpu in side["cpu1"].items() if role in ("worker", "supervisor")}
            out[name] = {"src": side["src"], "server_cpu_us_per_reading": round(
                sum(roles.values()), 2), "by_role": roles, "stored": side["stored"],
                "readings_per_s": round(side["stored"] / (side["t1"] - side["t0"])),
                "staged_at_end": side["left"], "errors": side["errors"][:3],
                "server_rss_peak_mb": side["rss_peak_mb"],
                "server_rss_peak_by_role_mb": side["rss_peak_by_role_mb"]}
        out["command"] = "python bench/bench_telemetry_ab.py " + " ".join(sys.argv[1:])
        print(json.dumps(out))
    finally:
        for side in sides.values():
            os.killpg(side["server"].pid, signal.SIGTERM)
            side["server"].wait(30)
            side["reg"].close()


if __name__ == "__main__":
    main()
