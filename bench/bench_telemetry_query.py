"""Benchmark: one unit's readings over a time range, with 1,000,000 readings stored
(SPEC §11 context: the trace report reads "telemetry around at"; target <= 50 ms).

Stores ``--readings`` readings for ``--units`` units (simulator history at 10 s, through
``store_readings``), then times ``readings_between`` for one random unit over a random
``--hours``-hour window, and the hourly ``series`` over the unit's whole history, ``--queries``
times each. Prints one JSON object with p50/p99 in milliseconds.

    python bench/bench_telemetry_query.py [--backend sqlite] [--readings 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "src"))

from common import new_registry  # noqa: E402

TARGET_MS = 50


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))], 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--readings", type=int, default=1_000_000)
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()

    from robopass.db import reading, write_session, writing
    from robopass.robots import service as robot_service
    from robopass.telemetry import service, simulator

    reg = new_registry(args.backend)
    try:
        with writing(reg.url) as session:
            codes = robot_service.issue_codes(session, actor=reg.maker, model_id=reg.model_id,
                                              count=args.units, plant="A1",
                                              production_month="2026-03")
        per_unit = args.readings // args.units
        end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
        start = end - timedelta(seconds=10 * per_unit)
        load_started = time.perf_counter()
        stored = 0
        for i in range(0, len(codes), 10):
            with write_session(reg.url) as session, session.begin():
                stored += service.store_readings(session, simulator.generate_history(
                    codes[i:i + 10], start=start, end=end, interval_s=10, seed=4),
                    notify=False)["stored"]
        load_s = time.perf_counter() - load_started
        rng = random.Random(1)
        raw_ms: list[float] = []
        rows: list[int] = []
        hourly_ms: list[float] = []
        with reading(reg.url) as session:
            for _ in range(args.queries):
                code = rng.choice(codes)
                t0 = start + timedelta(seconds=rng.uniform(
                    0, (end - start).total_seconds() - args.hours * 3600))
                began = time.perf_counter()
                got = service.readings_between(session, code=code, start=t0,
                                               end=t0 + timedelta(hours=args.hours))
                raw_ms.append((time.perf_counter() - began) * 1000)
                rows.append(len(got))
                began = time.perf_counter()
                service.series(session, code=code, start=start, end=end, resolution="hour")
                hourly_ms.append((time.perf_counter() - began) * 1000)
        print(json.dumps({
            "benchmark": "telemetry_query",
            "backend": args.backend,
            "stored_readings": stored, "units": args.units, "load_seconds": round(load_s, 1),
            "load_readings_per_s": round(stored / load_s),
            "range_hours": args.hours, "rows_per_query": round(statistics.mean(rows)),
            "range_query_ms": {"p50": pct(raw_ms, 0.5), "p99": pct(raw_ms, 0.99)},
            "hourly_series_ms": {"p50": pct(hourly_ms, 0.5), "p99": pct(hourly_ms, 0.99),
                                 "span_hours": round((end - start).total_seconds() / 3600)},
            "target": {"range_query_ms": TARGET_MS},
            "cores": os.cpu_count(),
            "command": "python " + " ".join([f"bench/{Path(__file__).name}", *sys.argv[1:]]),
        }))
    finally:
        reg.close()


if __name__ == "__main__":
    main()
