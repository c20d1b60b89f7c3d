"""Benchmark: the telemetry fold in process — how long it holds the SQLite write lock per
reading, folding in one transaction (``staging.fold``, what health reads and retention do)
against the folder thread's two phases (``folding.fold_once``: plan in a read transaction,
guarded write in a short write transaction). Live shape: ``--units`` robots, one reading each
per batch; each fold takes ``staging.FOLD_ROWS`` staged batches. The modes alternate, on the
same database, so the machine's load hits both alike. Prints one JSON object.

    python bench/bench_telemetry_fold.py [--units 10000] [--folds 6] [--backend postgresql]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "src"))

from bench_telemetry_http import build_bodies  # noqa: E402
from common import new_registry, units_and_key  # noqa: E402

from robopass.db import reading, transaction, write_session  # noqa: E402
from robopass.telemetry import folding, service, staging  # noqa: E402


def _stage(url: str, bodies: list[bytes]) -> None:
    for body in bodies:
        with write_session(url) as session, transaction(session, ledger=False):
            service.store_body(session, body, actor=None)


def _timed(fn: Any) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.thread_time()
    out = fn()
    return out, time.perf_counter() - wall, time.thread_time() - cpu


def _fold_in_lock(url: str) -> dict[str, float]:
    with write_session(url) as session, transaction(session, ledger=False):
        moved, wall, cpu = _timed(lambda: staging.fold(session))
    return {"moved": moved, "locked_wall": wall, "cpu": cpu, "wall": wall}


def _fold_two_phase(url: str) -> dict[str, float]:
    with reading(url) as session:
        prepared, wall1, cpu1 = _timed(lambda: folding.prepare(session))
    with write_session(url) as session, transaction(session, ledger=False):
        moved, wall2, cpu2 = _timed(lambda: folding.commit(session, prepared))
    return {"moved": moved, "locked_wall": wall2, "cpu": cpu1 + cpu2,
            "wall": wall1 + wall2}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--folds", type=int, default=6, help="folds per mode")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    rows = staging.FOLD_ROWS
    reg = new_registry(args.backend)
    try:
        codes, _key = units_and_key(reg, args.units)
        rounds = 1 + 2 * args.folds * rows
        bodies = build_bodies(codes, readings=rounds * args.units, batch=args.units,
                              per_unit=1, end=datetime.now(UTC) - timedelta(minutes=1))
        _stage(reg.url, bodies[:1])  # a fleet's first readings: snapshots created, alerts
        service_fold = _fold_in_lock(reg.url)
        assert service_fold["moved"] == args.units
        results: dict[str, list[dict[str, float]]] = {"in_lock": [], "two_phase": []}
        at = 1
        for k in range(2 * args.folds):
            _stage(reg.url, bodies[at:at + rows])
            at += rows
            mode = "in_lock" if k % 2 == 0 else "two_phase"
            fold = _fold_in_lock if mode == "in_lock" else _fold_two_phase
            results[mode].append(fold(reg.url))
        out: dict[str, Any] = {"benchmark": "telemetry_fold", "units": args.units,
                               "readings_per_fold": rows * args.units, "folds": args.folds}
        for mode, runs in results.items():
            n = [r["moved"] for r in runs]
            assert all(m == rows * args.units for m in n), n
            out[mode] = {
                "write_lock_us_per_reading": round(median(
                    r["locked_wall"] / r["moved"] * 1e6 for r in runs), 2),
                "cpu_us_per_reading": round(median(r["cpu"] / r["moved"] * 1e6 for r in runs), 2),
                # this process's CPU plus the database's (PostgreSQL's own is not CPU here)
                "wall_us_per_reading": round(median(r["wall"] / r["moved"] * 1e6
                                                    for r in runs), 2)}
        out["backend"] = args.backend
        out["load_average"] = round(os.getloadavg()[0], 2)
        out["command"] = "python bench/bench_telemetry_fold.py " + " ".join(sys.argv[1:])
        print(json.dumps(out))
    finally:
        reg.close()


if __name__ == "__main__":
    main()
