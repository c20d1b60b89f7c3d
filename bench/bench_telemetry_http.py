"""Benchmark: telemetry over HTTP batches (SPEC §11: >= 200,000 readings/s on SQLite,
>= 100,000 on PostgreSQL), against a real uvicorn server on 127.0.0.1.

A fresh registry gets ``--units`` units owned by one organisation; the client pre-builds every
request body (so the client's JSON encoding is not measured), then posts them over
``--connections`` keep-alive connections and counts the readings the server acknowledges as
stored. Shape of a batch (``--per-unit``): each unit uploads that many buffered readings at
10 s intervals (60 = ten minutes, the default — a robot or gateway uploading its buffer), and a
request carries ``--batch`` readings; ``--per-unit 1`` is the harder "one live reading from
each of many units" shape. Readings carry every metric (8 joints). Prints one JSON object.

    python bench/bench_telemetry_http.py --backend sqlite [--readings 600000] [--workers 2]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "src"))

from common import (  # noqa: E402
    RssSampler,
    free_port,
    group_pss_bytes,
    group_rss_bytes,
    new_registry,
    process_rss_bytes,
    server_cpu_by_role,
    server_cpu_seconds,
    units_and_key,
)

TARGETS = {"sqlite": 200_000, "postgresql": 100_000}


def build_bodies(codes: list[str], *, readings: int, batch: int, per_unit: int,
                 end: datetime) -> list[bytes]:
    import orjson

    from robopass.telemetry.simulator import UnitModel

    units_per_batch = max(1, batch // per_unit)
    rounds = max(1, readings // (len(codes) * per_unit))
    start = end - timedelta(seconds=10 * per_unit * rounds)
    models = {c: UnitModel.for_unit(c, seed=1, epoch=start) for c in codes}
    bodies = []
    for r in range(rounds):
        t0 = start + timedelta(seconds=10 * per_unit * r)
        for u in range(0, len(codes), units_per_batch):
            items = [models[c].reading(t0 + timedelta(seconds=10 * k), [])
                     for c in codes[u:u + units_per_batch] for k in range(per_unit)]
            bodies.append(orjson.dumps(items))
    return bodies


def wait_up(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/openapi.json")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--readings", type=int, default=600_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--per-unit", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    # 8: the kernel spreads connections over the workers' sockets by address hash, and with
    # 4 connections all 4 land on one of 2 workers in 1 run of 8 (2 x 1/16; seen: 1 of 6)
    parser.add_argument("--connections", type=int, default=8)
    # rounds posted before the clock starts: the first readings of a unit create its
    # snapshot (and open the alerts its robot starts with), a one-time cost of a new fleet
    parser.add_argument("--warmup-rounds", type=int, default=0)
    args = parser.parse_args()


    reg = new_registry(args.backend)
    server = None
    try:
        codes, key = units_and_key(reg, args.units)
        warm_readings = args.warmup_rounds * args.units * args.per_unit
        bodies = build_bodies(codes, readings=args.readings + warm_readings, batch=args.batch,
                              per_unit=args.per_unit,
                              end=datetime.now(UTC) - timedelta(minutes=1))
        warm_bodies = bodies[:warm_readings // args.batch] if warm_readings else []
        bodies = bodies[len(warm_bodies):]
        total = sum(b.count(b'"metrics"') for b in bodies)
        port = free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        server = subprocess.Popen(
            [sys.executable, "-m", "robopass.cli", "serve", "--db", reg.url, "--host",
             "127.0.0.1", "--port", str(port), "--workers", str(args.workers)],
            env=env, start_new_session=True)
        wait_up(port)
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        queue = list(enumerate(bodies))
        lock = threading.Lock()
        stored = [0]
        errors: list[str] = []

        def worker(queue: list[tuple[int, bytes]] = queue) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            while True:
                with lock:
                    if not queue:
                        return
                    _, body = queue.pop(0)
                conn.request("POST", "/api/v1/telemetry", body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                if resp.status != 200:
                    errors.append(f"{resp.status} {data[:200]!r}")
                    continue
                with lock:
                    stored[0] += json.loads(data)["stored"]

        # warm-up: one small request per connection so workers import and connect first
        warm = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        warm.request("POST", "/api/v1/telemetry", body=b"[]", headers=headers)
        warm.getresponse().read()
        rss_idle = group_rss_bytes(server.pid)
        pss_idle = group_pss_bytes(server.pid)
        idle_by_role = RssSampler.by_role_mb(process_rss_bytes(server.pid))
        warm_queue = list(enumerate(warm_bodies))
        warm_threads = [threading.Thread(target=worker, args=(warm_queue,))
                        for _ in range(args.connections)]
        for t in warm_threads:
            t.start()
        for t in warm_threads:
            t.join()
        stored[0] = 0
        threads = [threading.Thread(target=worker) for _ in range(args.connections)]
        rss = RssSampler(server.pid)
        cpu_before = server_cpu_seconds(server.pid)
        roles_before = server_cpu_by_role(server.pid)
        client_before = resource.getrusage(resource.RUSAGE_SELF)
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        server_cpu = server_cpu_seconds(server.pid) - cpu_before
        roles_after = server_cpu_by_role(server.pid)
        rss.stop()
        client_after = resource.getrusage(resource.RUSAGE_SELF)
        client_cpu = (client_after.ru_utime - client_before.ru_utime
                      + client_after.ru_stime - client_before.ru_stime)
        print(json.dumps({
            "benchmark": "telemetry_http",
            "backend": args.backend,
            "readings_per_s": round(stored[0] / elapsed),
            "readings": total, "stored": stored[0], "seconds": round(elapsed, 2),
            "requests": len(bodies), "batch": args.batch, "per_unit": args.per_unit,
            "units": args.units, "workers": args.workers, "connections": args.connections,
            "errors": errors[:3],
            # what the server spent per reading, and so what one core of it could take: the
            # wall figure is bounded by everything else running on the machine (load below)
            "server_cpu_us_per_reading": round(server_cpu / max(1, stored[0]) * 1e6, 2),
            "capacity_per_core_readings_per_s": round(stored[0] / server_cpu) if server_cpu
            else None,
            "server_cores_busy": round(server_cpu / elapsed, 2),
            # the same, by role: the workers decode and store, the supervisor folds
            "server_cpu_us_per_reading_by_role": {
                role: round((cpu - roles_before.get(role, 0.0)) / max(1, stored[0]) * 1e6, 2)
                for role, cpu in sorted(roles_after.items())},
            # every process of the server (supervisor, workers), summed, sampled every 50 ms
            "server_rss_peak_mb": rss.peak_mb,
            "server_rss_idle_mb": round(rss_idle / 2**20, 1),
            # each process's own peak (they need not peak together), by role
            "server_rss_peak_by_role_mb": rss.peaks_by_role_mb(),
            "server_rss_idle_by_role_mb": idle_by_role,
            # the same processes' proportional set size: pages the workers share with their
            # fork server (the imported application) counted once, not once per process
            "server_pss_peak_mb": rss.peak_pss_mb,
            "server_pss_idle_mb": round(pss_idle / 2**20, 1),
            "warmup_rounds": args.warmup_rounds,
            "client_cores_busy": round(client_cpu / elapsed, 2),
            "load_average_before": round(load_before, 2),
            "target": {"readings_per_s": TARGETS[args.backend]},
            "cores": os.cpu_count(),
            "command": "python " + " ".join([f"bench/{Path(__file__).name}", *sys.argv[1:]]),
        }))
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
        reg.close()


if __name__ == "__main__":
    main()
