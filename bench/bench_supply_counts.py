"""What keeping ``supply_counts`` in step costs the event path (robopass.stats.supply).

    python bench/bench_supply_counts.py [--backend sqlite|postgresql] [--units 50000]
                                        [--batch 1000]

Issues ``--units`` codes, then records ``manufactured`` events that bind two components each
(a battery pack and a compute unit, from 12 suppliers) through
``lifecycle.service.record_events`` — the path of ``POST /api/v1/events`` — in batches of
``--batch``, one transaction per batch, alternating batches with the supply-count step
(reading the units' bound components before the batch, the key-set difference and the upsert
after it) and without it (the step replaced by no-ops in this process only: those batches
leave the table behind, which does not matter here). Reports the median µs per event both
ways and the time spent in the step itself (timed around its two calls), then the same for
batches of ``component_replaced`` events. A batch that binds no
component and moves no unit to another province (the events benchmark) skips the step.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from common import new_registry

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from robopass.auth.service import Actor  # noqa: E402
from robopass.db import writing  # noqa: E402
from robopass.lifecycle import service as lifecycle  # noqa: E402
from robopass.organizations import service as org_service  # noqa: E402
from robopass.organizations.models import Organization  # noqa: E402
from robopass.robots.service import issue_codes  # noqa: E402
from robopass.stats import supply  # noqa: E402


def _suppliers(url: str) -> tuple[Actor, list[str]]:
    with writing(url) as s:
        regulator = s.query(Organization).filter(
            Organization.name.like("National Robot Registry%")).one()
        reg = Actor.of(regulator)
        ids = [org_service.create(s, actor=reg, name=f"Supplier {i}",
                                  roles=["component_supplier"], country="JP",
                                  registration_number=f"S{i}")[0].id for i in range(12)]
    return reg, ids


def _timed_batches(url: str, actor: Actor, batches: list[list[lifecycle.EventRequest]]
                   ) -> dict[str, list[float]]:
    real = (supply.bound, supply.record_changes)
    spent = [0.0]

    def timed(fn: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - t
        return run

    times: dict[str, list[float]] = {"with": [], "without": [], "step": []}
    for i, batch in enumerate(batches):
        mode = "with" if i % 2 == 0 else "without"
        spent[0] = 0.0
        if mode == "without":
            supply.bound = lambda _s, _codes: {}  # type: ignore[assignment]
            supply.record_changes = lambda *_a, **_k: None  # type: ignore[assignment]
        else:
            supply.bound, supply.record_changes = timed(real[0]), timed(real[1])
        try:
            t = time.perf_counter()
            with writing(url) as s:
                lifecycle.record_events(s, actor=actor, requests=batch, batch=True)
            times[mode].append((time.perf_counter() - t) * 1e6 / len(batch))
            if mode == "with":
                times["step"].append(spent[0] * 1e6 / len(batch))
        finally:
            supply.bound, supply.record_changes = real  # type: ignore[assignment]
    return times


def _summary(times: dict[str, list[float]]) -> dict[str, Any]:
    with_, without = statistics.median(times["with"]), statistics.median(times["without"])
    return {"us_per_event_with": round(with_, 1), "us_per_event_without": round(without, 1),
            "us_per_event_supply_step": round(statistics.median(times["step"]), 1),
            "batches_each": len(times["with"])}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--units", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=1_000)
    args = parser.parse_args()
    reg = new_registry(args.backend)
    try:
        _regulator, sids = _suppliers(reg.url)
        codes: list[str] = []
        while len(codes) < args.units:
            with writing(reg.url) as s:
                codes += issue_codes(s, actor=reg.maker, model_id=reg.model_id,
                                     count=min(100_000, args.units - len(codes)),
                                     plant="A1", production_month="2026-01")
        chunks = [codes[i:i + args.batch] for i in range(0, len(codes), args.batch)]
        made = [[lifecycle.EventRequest(code=c, type="manufactured", details={"components": [
            {"serial": f"B{c}", "type": "battery_pack", "supplier_id": sids[n % 12]},
            {"serial": f"C{c}", "type": "compute", "supplier_id": sids[(n * 7) % 12]}]})
            for n, c in enumerate(chunk)] for chunk in chunks]
        manufactured = _summary(_timed_batches(reg.url, reg.maker, made))
        swapped = [[lifecycle.EventRequest(code=c, type="component_replaced", details={
            "removed": f"B{c}", "installed": {"serial": f"B2{c}", "type": "battery_pack",
                                              "supplier_id": sids[(n + 1) % 12]}})
            for n, c in enumerate(chunk)] for chunk in chunks]
        replaced = _summary(_timed_batches(reg.url, reg.maker, swapped))
    finally:
        reg.close()
    print(json.dumps({"benchmark": "supply_counts_event_path", "backend": args.backend,
                      "units": args.units, "batch": args.batch,
                      "manufactured_with_2_components": manufactured,
                      "component_replaced": replaced,
                      "load_average_1m": os.getloadavg()[0], "cores": os.cpu_count(),
                      "command": f"python bench/bench_supply_counts.py --backend {args.backend} "
                                 f"--units {args.units} --batch {args.batch}"}))


if __name__ == "__main__":
    main()
