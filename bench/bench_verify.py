"""Benchmark: public verification under load (SPEC §11: >= 5,000 req/s, p99 <= 20 ms).

Builds (once, then reuses) a SQLite registry with N registered units issued through
``robots.service.issue_codes`` in batches, serves it with ``robopass serve --workers N`` as
deployed (one ``SO_REUSEPORT`` socket per worker, workers forked from the supervisor, the
background jobs running) on 127.0.0.1, and drives ``GET /api/v1/verify/{code}``,
``GET /r/{code}`` and the trivial ``GET /healthz`` (the ceiling) with wrk from a separate
process, each for a bounded time. Prints one JSON object.

    python bench/bench_verify.py [--units 1000000] [--db /tmp/robopass-bench/verify-UNITS.db]
        [--workers 2] [--duration 10] [--connections 32,64] [--build-only]

First, right after the server starts and without warm-up, each endpoint is measured once at
the first connection level ("cold": what a restarted worker, or one added under load, serves);
then, after a warm-up, each endpoint is measured at every connection level given (wrk keeps
that many requests in flight: with a closed loop, latency grows with the level once the cores
are saturated). Last, a verify run during which one worker is killed with SIGKILL a quarter
into it (``verify_with_a_worker_killed``): a replacement is forked on the same socket (from a
fork server started for the first replacement), and the figures show what clients saw
meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
try:
    import robopass  # noqa: F401
except ImportError:  # running from a checkout without installing
    sys.path.insert(0, str(ROOT / "src"))

from common import (  # noqa: E402
    approved_model,
    process_group,
    process_role,
    server_cpu_seconds,
)

TARGET = {"requests_per_s": 5000, "p99_ms": 20}
BATCH = 100_000


def build(db: Path, units: int) -> None:
    """Issue ``units`` codes through the service (100,000 per transaction), once."""
    from robopass.db import writing
    from robopass.registry.service import initialise
    from robopass.robots import service as robot_service

    url = f"sqlite:///{db}"
    db.parent.mkdir(parents=True, exist_ok=True)
    initialise(url, country="CN")
    with writing(url) as session:
        actor, model_id = approved_model(session)
    done = 0
    month = 0
    started = time.perf_counter()
    while done < units:
        count = min(BATCH, units - done)
        with writing(url) as session:
            robot_service.issue_codes(session, actor=actor, model_id=model_id, count=count,
                                      plant="A1", production_month=f"2025-{month % 12 + 1:02d}",
                                      max_count=BATCH)
        done += count
        month += 1
        print(f"issued {done}/{units} in {time.perf_counter() - started:.1f} s",
              file=sys.stderr, flush=True)


def schema_current(db: Path) -> bool:
    """The bench database was built once; migrate it when the schema has grown since."""
    import sqlite3

    from robopass.models import metadata

    con = sqlite3.connect(db)
    have = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    con.close()
    return set(metadata.tables) <= have


def sample_codes(db: Path, n: int) -> list[str]:
    """Up to 200 codes spread over the table (by rowid: OFFSET read the table up to each
    offset, minutes at 10,000,000 units)."""
    import sqlite3

    con = sqlite3.connect(db)
    top = con.execute("SELECT max(rowid) FROM units").fetchone()[0]
    rng = random.Random(7)
    picks = sorted(rng.randrange(1, top + 1) for _ in range(min(n, 200)))
    codes = [con.execute("SELECT code FROM units WHERE rowid >= ? ORDER BY rowid LIMIT 1",
                         (p,)).fetchone()[0] for p in picks]
    con.close()
    return codes


LUA = """
codes = {%s}
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", "%s" .. codes[(counter %% #codes) + 1])
end
"""


def wrk(url_base: str, path_prefix: str, codes: list[str] | None, duration: int,
        connections: int, threads: int) -> dict[str, float]:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
    script = None
    if codes is not None:
        script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
        script.write(LUA % (",".join(f'"{c}"' for c in codes), path_prefix))
        script.close()
        cmd += ["-s", script.name]
        target = url_base + path_prefix
    else:
        target = url_base + path_prefix
    out = subprocess.run(cmd + [target], capture_output=True, text=True, timeout=duration + 30)
    if script:
        os.unlink(script.name)
    text = out.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]

    def pct(p: str) -> float:
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)", text, re.M)
        assert m, text
        value, unit = float(m.group(1)), m.group(2)
        return round(value / 1000 if unit == "us" else value * 1000 if unit == "s" else value, 3)

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {"requests_per_s": round(rps), "p50_ms": pct("50"), "p99_ms": pct("99"),
            "non_2xx": int(errors.group(1)) if errors else 0}


#: Measured first, right after the server starts (verify first: the figure #12.9 is about).
ENDPOINTS_COLD = (("verify", "/api/v1/verify/", True), ("public_page", "/r/", True),
                  ("healthz", "/healthz", False))


def measure(pid: int, base: str, name: str, prefix: str, codes: list[str] | None,
            duration: int, connections: int) -> dict[str, float]:
    """One wrk run with the server CPU it cost per request."""
    cpu = server_cpu_seconds(pid)
    result: dict[str, float] = wrk(base, prefix, codes, duration, connections, 2)
    served = result["requests_per_s"] * duration
    # CPU the server spent per request: robust to other load on the machine, and 2 cores /
    # this = the rate the server could reach with the cores to itself.
    result["server_cpu_us_per_request"] = round(
        (server_cpu_seconds(pid) - cpu) / max(served, 1) * 1e6, 1)
    result["meets_target"] = (name == "healthz" or (
        result["requests_per_s"] >= TARGET["requests_per_s"]
        and result["p99_ms"] <= TARGET["p99_ms"]))
    return result


def regulator_key(db: Path) -> str:
    """A new API key of the registry's regulator (for ``--dashboard``)."""
    from sqlalchemy import select

    from robopass.auth.service import create_key
    from robopass.db import writing
    from robopass.organizations.models import Organization

    with writing(f"sqlite:///{db}") as session:
        regulators = [o for o in session.scalars(select(Organization))
                      if "regulator" in (o.roles or [])]
        return create_key(session, organization_id=regulators[0].id, name="bench")


def dashboard_views(base: str, key: str, n: int, out: list[float]) -> None:
    """``n`` regulator views of ``/api/v1/stats/overview``, each on a new connection (so they
    reach the workers the kernel spreads connections over); their times in ms into ``out``."""
    for _ in range(n):
        request = urllib.request.Request(f"{base}/api/v1/stats/overview",
                                         headers={"Authorization": f"Bearer {key}"})
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=600) as response:
            response.read()
        out.append(round((time.perf_counter() - started) * 1000, 1))


def serve(db: Path, port: int, workers: int) -> subprocess.Popen[str]:
    """``robopass serve --workers N`` as deployed (its background jobs included), returned once
    it says every worker accepts connections."""
    env = dict(os.environ, ROBOPASS_PUBLIC_RATE_LIMIT="0",  # the endpoint, not the limiter
               PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-m", "robopass", "serve", "--db", f"sqlite:///{db}", "--host",
         "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        env=env, start_new_session=True, stderr=subprocess.PIPE, text=True)
    ready = threading.Event()

    def relay() -> None:  # the server's messages go on to ours; "Ready:" is the signal
        for line in proc.stderr:  # type: ignore[union-attr]
            sys.stderr.write(line)
            if line.startswith("Ready:"):
                ready.set()

    threading.Thread(target=relay, daemon=True).start()
    if not ready.wait(120):
        os.killpg(proc.pid, signal.SIGKILL)
        raise SystemExit("server did not start")
    return proc


def workers_of(pid: int) -> list[int]:
    """The server's worker processes (in its process group: forked by the supervisor ``pid``,
    or by the fork server that replaces dead ones)."""
    return sorted(int(p) for p, _fields in process_group(pid) if process_role(p) == "worker")


def measure_with_restart(proc: subprocess.Popen[str], base: str, codes: list[str],
                         duration: int, connections: int) -> dict[str, Any]:
    """A verify run during which one worker is killed (SIGKILL) a quarter into it: a
    replacement is forked on the same socket; what the clients see meanwhile."""
    victims = workers_of(proc.pid)

    def kill() -> None:
        time.sleep(duration / 4)
        os.kill(victims[0], signal.SIGKILL)

    killer = threading.Thread(target=kill)
    killer.start()
    result: dict[str, Any] = measure(proc.pid, base, "verify", "/api/v1/verify/", codes,
                                     duration, connections)
    killer.join()
    result["killed_worker"] = victims[0]
    # the killed worker's CPU left the process group's total with it: no per-request figure
    result["server_cpu_us_per_request"] = None
    result["workers_after"] = workers_of(proc.pid)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=None,
                        help="default /tmp/robopass-bench/verify-UNITS.db (one per size)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", default="32,64",
                        help="wrk connections; a comma list measures each level in turn")
    parser.add_argument("--port", type=int, default=18231)
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--dashboard", type=int, default=0, metavar="N",
                        help="during the cold verify run, a regulator opens the dashboard "
                             "overview N times (new connections: fresh workers' first views)")
    args = parser.parse_args()
    args.db = args.db or Path(f"/tmp/robopass-bench/verify-{args.units}.db")
    if args.db.exists() and not schema_current(args.db):
        from robopass.registry.service import initialise

        started = time.perf_counter()
        initialise(f"sqlite:///{args.db}", country="CN")  # Alembic: the migrations fill it
        print(f"{args.db} migrated to the current schema in "
              f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
    if not args.db.exists():
        build(args.db, args.units)
    if args.build_only:
        return
    codes = sample_codes(args.db, 200)
    key = regulator_key(args.db) if args.dashboard else ""
    views: list[float] = []
    levels = [int(c) for c in str(args.connections).split(",")]
    proc = serve(args.db, args.port, args.workers)
    base = f"http://127.0.0.1:{args.port}"
    by_level: dict[str, dict[str, dict[str, float]]] = {}
    cold: dict[str, dict[str, float]] = {}
    try:
        # Cold: right after the start, no warm-up — what a restarted or added worker serves.
        for name, prefix, sample in ENDPOINTS_COLD:
            viewer = threading.Thread(target=dashboard_views,
                                      args=(base, key, args.dashboard, views))
            if name == "verify" and args.dashboard:
                viewer.start()
            cold[name] = measure(proc.pid, base, name, prefix, codes if sample else None,
                                 args.duration, levels[0])
            if viewer.is_alive():
                viewer.join()
        for connections in levels:
            results = by_level[str(connections)] = {}
            for name, prefix, sample in (("healthz", "/healthz", None),
                                         ("verify", "/api/v1/verify/", codes),
                                         ("public_page", "/r/", codes)):
                wrk(base, prefix, sample, 2, connections, 2)  # warm-up
                results[name] = measure(proc.pid, base, name, prefix, sample, args.duration,
                                        connections)
        # A worker killed under load: the replacement must serve at once (issue #12.9).
        restart = measure_with_restart(proc, base, codes, args.duration, levels[0])
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    import sqlite3

    units = sqlite3.connect(args.db).execute("SELECT count(*) FROM units").fetchone()[0]
    print(json.dumps({
        "benchmark": "public_verify",
        "units": units,
        "load_average_1m": os.getloadavg()[0],
        "workers": args.workers,
        "duration_s": args.duration,
        "cold_connections": levels[0],
        "cold": cold,
        "dashboard_overview_ms_during_cold_verify": views,
        "by_connections": by_level,
        "verify_with_a_worker_killed": restart,
        "target": TARGET,
        "cores": os.cpu_count(),
        "command": "python " + " ".join(sys.argv),
    }))


if __name__ == "__main__":
    main()
