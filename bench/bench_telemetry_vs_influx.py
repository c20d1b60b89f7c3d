"""Benchmark: robopass and InfluxDB 1.6 side by side on the same live telemetry shape.

The live shape (SPEC §10's design load): ``--units`` robots each send one reading per batch,
``--batch`` readings per request (default 10,000 robots, one reading each, batches of 10,000),
every metric present (8 joints). Both servers run on 127.0.0.1 only, one after the other in
this run, each posted the same number of pre-built bodies over ``--connections`` keep-alive
connections:

* robopass: ``bench/bench_telemetry_http.py`` (a fresh registry, ``robopass serve --workers
  N``), which prints its own JSON (rate, server CPU per reading, peak server RSS);
* InfluxDB: Debian's ``influxd`` (1.6), started by this script with a temporary data directory
  and a config bound to 127.0.0.1 on free ports, stopped afterwards; the same readings as
  line protocol (one point per reading: tag ``code``, a field per metric and per joint,
  millisecond timestamps) posted to ``/write``.

Prints one JSON object: both rates, the ratio, server CPU per reading and peak server RSS of
each, the machine's cores and load, and the exact command.

    python bench/bench_telemetry_vs_influx.py [--readings 300000] [--workers 2]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "src"))

from bench_telemetry_http import free_port  # noqa: E402
from common import RssSampler, server_cpu_seconds  # noqa: E402

INFLUX_CONF = """reporting-disabled = true
bind-address = "127.0.0.1:{rpc}"
[meta]
  dir = "{dir}/meta"
[data]
  dir = "{dir}/data"
  wal-dir = "{dir}/wal"
  query-log-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:{port}"
  log-enabled = false
  max-body-size = 0
[coordinator]
  write-timeout = "300s"
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[subscriber]
  enabled = false
"""


def line_bodies(*, units: int, readings: int, batch: int) -> list[bytes]:
    """The live shape as line protocol: the simulator's readings of ``units`` robots."""
    from robopass.telemetry.simulator import UnitModel

    codes = [f"CNBENCH{n:022d}" for n in range(units)]
    rounds = max(1, readings // units)
    end = datetime.now(UTC) - timedelta(minutes=1)
    start = end - timedelta(seconds=10 * rounds)
    models = [UnitModel.for_unit(c, seed=1, epoch=start) for c in codes]
    bodies: list[bytes] = []
    for r in range(rounds):
        at = start + timedelta(seconds=10 * r)
        ms = int(at.timestamp() * 1000)
        lines = []
        for m in models:
            x = m.reading(at, [])["metrics"]
            joints = ",".join(f"wear_{j}={w}" for j, w in x["joint_wear"].items())
            lines.append(
                f"telemetry,code={m.code} battery_soh={x['battery_soh']},"
                f"cycle_count={x['cycle_count']}i,accuracy={x['accuracy']},"
                f"operating_hours={x['operating_hours']},{joints},"
                f"firmware=\"{x['firmware']}\",fault_codes=\"[]\" {ms}")
        for k in range(0, len(lines), batch):
            bodies.append("\n".join(lines[k:k + batch]).encode())
    return bodies


def _request(port: int, method: str, path: str, body: bytes | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path, body=body)
    resp = conn.getresponse()
    resp.read()
    return resp.status


def run_influx(args: argparse.Namespace) -> dict[str, object]:
    influxd = shutil.which("influxd")
    if influxd is None:
        raise SystemExit("influxd not found: apt-get install influxdb")
    warm_readings = args.warmup_rounds * args.units
    bodies = line_bodies(units=args.units, readings=args.readings + warm_readings,
                         batch=args.batch)
    warm, bodies = bodies[:warm_readings // args.batch], bodies[warm_readings // args.batch:]
    work = tempfile.mkdtemp(prefix="robopass-influx-")
    port, rpc = free_port(), free_port()
    conf = Path(work) / "influxdb.conf"
    conf.write_text(INFLUX_CONF.format(dir=work, port=port, rpc=rpc))
    server = subprocess.Popen([influxd, "-config", str(conf)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _request(port, "GET", "/ping") == 204:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("influxd did not start")
            time.sleep(0.2)
        _request(port, "POST", "/query?q=CREATE+DATABASE+bench")
        for body in warm:  # the same warm-up as robopass gets: each series' first point
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            conn.request("POST", "/write?db=bench&precision=ms", body=body)
            conn.getresponse().read()
        queue = list(bodies)
        lock = threading.Lock()
        stored = [0]
        errors: list[str] = []

        def worker() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            while True:
                with lock:
                    if not queue:
                        return
                    body = queue.pop(0)
                try:
                    conn.request("POST", "/write?db=bench&precision=ms", body=body)
                    resp = conn.getresponse()
                    data = resp.read()
                except OSError as exc:
                    errors.append(repr(exc))
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
                    continue
                if resp.status != 204:
                    errors.append(f"{resp.status} {data[:200]!r}")
                    continue
                with lock:
                    stored[0] += body.count(b"\n") + 1

        threads = [threading.Thread(target=worker) for _ in range(args.connections)]
        rss = RssSampler(server.pid)
        cpu_before = server_cpu_seconds(server.pid)
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        cpu = server_cpu_seconds(server.pid) - cpu_before
        rss.stop()
        return {"points_per_s": round(stored[0] / elapsed), "points": stored[0],
                "seconds": round(elapsed, 2), "errors": errors[:3],
                "server_cpu_us_per_point": round(cpu / max(1, stored[0]) * 1e6, 2),
                "server_cores_busy": round(cpu / elapsed, 2),
                "server_rss_peak_mb": rss.peak_mb, "server_pss_peak_mb": rss.peak_pss_mb}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:  # it flushes its cache on the way out: give up
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(30)
        shutil.rmtree(work, ignore_errors=True)


def run_robopass(args: argparse.Namespace) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_telemetry_http.py"), "--backend",
         args.backend, "--units", str(args.units), "--per-unit", "1", "--batch",
         str(args.batch), "--readings", str(args.readings), "--workers", str(args.workers),
         "--connections", str(args.connections), "--warmup-rounds", str(args.warmup_rounds)],
        check=True, capture_output=True, text=True)
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--readings", type=int, default=300_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--warmup-rounds", type=int, default=0,
                        help="live rounds posted to each server before the clock starts")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    influx = run_influx(args)
    robopass = run_robopass(args)
    rate = robopass["readings_per_s"]
    print(json.dumps({
        "benchmark": "telemetry_vs_influxdb",
        "shape": {"units": args.units, "readings_per_unit_per_batch": 1, "batch": args.batch,
                  "readings": args.readings, "connections": args.connections,
                  "warmup_rounds": args.warmup_rounds},
        "robopass": {k: robopass.get(k) for k in (
            "backend", "readings_per_s", "stored", "seconds", "workers",
            "server_cpu_us_per_reading", "server_cores_busy", "server_rss_peak_mb",
            "server_rss_idle_mb", "server_pss_peak_mb", "server_pss_idle_mb", "errors")},
        "influxdb": {"version": "1.6 (Debian influxdb)", **influx},
        "ratio_robopass_to_influxdb": round(float(rate) / float(influx["points_per_s"]), 2)  # type: ignore[arg-type]
        if influx["points_per_s"] else None,
        "target": {"ratio": 1.2, "server_rss_peak_mb": 500},
        "cores": os.cpu_count(),
        "load_average_before": round(load, 2),
        "note": "shared machine: other sessions' load slows both servers; compare the CPU per "
                "reading as well as the rates",
        "command": "python " + " ".join([f"bench/{Path(__file__).name}", *sys.argv[1:]]),
    }))


if __name__ == "__main__":
    main()
