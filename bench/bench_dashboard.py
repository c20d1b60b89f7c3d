"""Regulator dashboard page: server time through a real uvicorn server (SPEC §9 web UI).

    python bench/bench_dashboard.py --units 1000000            # synthetic registry
    python bench/bench_dashboard.py --db sqlite:////tmp/ui-demo.db --keys /tmp/ui-demo-keys.json
    python bench/bench_dashboard.py --supply-first-view --units 1000000 \
        --baseline-src /tmp/main/src       # git archive main src | tar -x -C /tmp/main

Synthetic mode issues ``--units`` codes through ``robots.service.issue_codes`` (the API's path),
then spreads them over 20 manufacturers, 16 provinces and all ten statuses, and fits two key
components (from 12 suppliers in 4 countries) to each unit, with bulk SQL (this benchmark
measures reading, not writing). Demo mode uses an existing seeded registry (``robopass seed``).

Measured, per page (``/app/dashboard``, ``/app/supply-chain``) with a signed-in session:
``cold_ms`` (first request: every aggregate computed), ``warm_*`` (repeat requests: cached
aggregates, fingerprint checked), ``after_write_ms`` (the request right after a write that
changes the units, i.e. a lifecycle event: cached figures must be recomputed or, on a large
registry, are served from the previous computation while it is at most
``stats.service.STALE_SECONDS`` old — see docs/web-ui.md).

``--supply-first-view`` (no server) times what a freshly started worker does on its first
supply-chain view, national then provincial, in a new interpreter per code base: this
checkout's (``after``) and, with ``--baseline-src``, another's (``before``) on the same
database; ``same_views`` says whether both produced the same views (a digest of each). The
synthetic registry's components are written with bulk SQL, so the build ends with
``counts.rebuild`` and ``supply.rebuild`` — the recounts ``robopass stats rebuild`` and
migration 0011 run, which ``tests/stats/test_supply.py`` checks equal to the maintained counts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import new_registry  # noqa: E402
from tests.utils.server import running_server  # noqa: E402

from robopass import regions  # noqa: E402
from robopass.auth.service import create_key  # noqa: E402
from robopass.db import writing  # noqa: E402
from robopass.robots.service import issue_codes  # noqa: E402

STATUSES = ["in_service"] * 10 + ["sold"] * 2 + ["manufactured", "coded", "in_distribution",
                                                  "under_maintenance", "suspended",
                                                  "decommissioned", "recycled", "scrapped"]


def build_synthetic(units: int) -> tuple[Any, str]:
    reg = new_registry("sqlite")
    issued, month = 0, 1
    while issued < units:
        n = min(100_000, units - issued)
        with writing(reg.url) as s:
            issued += len(issue_codes(s, actor=reg.maker, model_id=reg.model_id, count=n,
                                      plant="A1", production_month=f"2025-{month:02d}"))
        month = month % 12 + 1
    from sqlalchemy import text

    from robopass.auth.service import Actor
    from robopass.organizations import service as org_service
    from robopass.organizations.models import Organization
    rng = random.Random(7)
    with writing(reg.url) as s:
        regulator = s.query(Organization).filter(
            Organization.name.like("National Robot Registry%")).one()
        reg_actor = Actor.of(regulator)
        makers = [reg.maker.id]
        for i in range(19):
            org, _ = org_service.create(s, actor=reg_actor, name=f"Maker {i}",
                                        roles=["manufacturer"], country="DE",
                                        registration_number=f"M{i}")
            makers.append(org.id)
        suppliers = []
        for i in range(12):
            org, _ = org_service.create(s, actor=reg_actor, name=f"Supplier {i}",
                                        roles=["component_supplier"],
                                        country=["JP", "DE", "KR", "US"][i % 4],
                                        registration_number=f"S{i}")
            suppliers.append(org.id)
        provinces = list(regions.PROVINCES)
        conn = s.connection()
        codes = [r[0] for r in conn.execute(text("SELECT code FROM units"))]
        rows = [{"c": c, "m": makers[i % 20], "p": provinces[rng.randrange(16)],
                 "s": STATUSES[rng.randrange(len(STATUSES))]} for i, c in enumerate(codes)]
        conn.execute(text("UPDATE units SET manufacturer_id = :m, province = :p, status = :s "
                          "WHERE code = :c"), rows)
        now = "2026-01-01 00:00:00"
        comps = []
        for i, c in enumerate(codes):
            comps.append({"id": f"cb{i}", "serial": f"B{i}", "t": "battery_pack",
                          "s": suppliers[min(int(rng.expovariate(0.6)), 11)], "u": c, "at": now})
            comps.append({"id": f"cj{i}", "serial": f"J{i}", "t": "joint_actuator",
                          "s": suppliers[rng.randrange(12)], "u": c, "at": now})
        conn.execute(text("INSERT INTO components (id, serial, component_type, supplier_id, "
                          "unit_code, created_at) VALUES (:id, :serial, :t, :s, :u, :at)"),
                     comps)
        # the bulk SQL above bypassed the services that keep the dashboard's unit and
        # supply-chain counts: recount both, as ``robopass stats rebuild`` does
        from robopass.stats import counts, supply

        counts.rebuild(s)
        supply.rebuild(s)
        key = create_key(s, organization_id=regulator.id)
    return reg, key


def sign_in(base: str, key: str) -> httpx.Client:
    c = httpx.Client(base_url=base, timeout=600)
    page = c.get("/app/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore
    r = c.post("/app/login", data={"api_key": key, "csrf_token": token})
    assert r.status_code == 303, r.text
    return c


def timed(c: httpx.Client, path: str) -> float:
    t = time.perf_counter()
    r = c.get(path)
    assert r.status_code == 200, (path, r.status_code, r.text[:300])
    return (time.perf_counter() - t) * 1000


def write_one_event(c: httpx.Client, base: str, key: str) -> None:
    """Suspend then reinstate one in-service unit (regulator): two ledgered events."""
    page = c.get("/app/units?status=in_service")
    code = re.search(r"/app/units/([A-Z0-9]{29})", page.text).group(1)  # type: ignore
    for etype in ("suspended",):
        r = httpx.post(f"{base}/api/v1/robots/{code}/events", json={"type": etype},
                       headers={"Authorization": f"Bearer {key}"}, timeout=60)
        assert r.status_code == 201, r.text


def measure(base: str, key: str, repeats: int) -> dict[str, Any]:
    c = sign_in(base, key)
    out: dict[str, Any] = {}
    for name, path in (("dashboard", "/app/dashboard"), ("supply_chain", "/app/supply-chain")):
        cold = timed(c, path)
        warm = sorted(timed(c, path) for _ in range(repeats))
        out[name] = {"cold_ms": round(cold, 1), "warm_p50_ms": round(statistics.median(warm), 1),
                     "warm_p95_ms": round(warm[int(0.95 * (len(warm) - 1))], 1)}
    write_one_event(c, base, key)
    out["dashboard"]["after_write_ms"] = round(timed(c, "/app/dashboard"), 1)
    out["dashboard"]["warm_after_write_ms"] = round(timed(c, "/app/dashboard"), 1)
    return out


def overview_in_process(url: str, repeats: int) -> dict[str, Any]:
    """``stats.service.overview`` as a fresh worker's first dashboard view computes it: wall
    and CPU time of the first call in this process, then the median of repeats."""
    from robopass.auth.service import Actor
    from robopass.db import reading
    from robopass.stats import service as stats

    regulator = Actor(id="bench", name="bench", roles=frozenset({"regulator"}), country="CN")
    times = []
    for _ in range(1 + repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        with reading(url) as session:
            stats.overview(session, actor=regulator)
        times.append(((time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000))
    rest = sorted(times[1:])
    return {"first_ms": round(times[0][0], 1), "first_cpu_ms": round(times[0][1], 1),
            "repeat_p50_ms": round(rest[len(rest) // 2][0], 1) if rest else None}


def supply_in_process(url: str, repeats: int) -> dict[str, Any]:
    """``stats.service.supply_chain`` as a fresh worker's first supply-chain view computes it,
    national then provincial (the province holding most units): wall and CPU time of the
    first call of each scope in this process, then the median of national repeats."""
    from robopass.auth.service import Actor
    from robopass.db import reading
    from robopass.stats import service as stats

    regulator = Actor(id="bench", name="bench", roles=frozenset({"regulator"}), country="CN")
    out: dict[str, Any] = {"code": str(Path(stats.__file__).resolve().parents[2])}
    for scope, province in (("national", None), ("provincial", "110000")):
        wall, cpu = time.perf_counter(), time.process_time()
        with reading(url) as session:
            view = stats.supply_chain(session, actor=regulator, province=province)
        out[scope] = {"first_ms": round((time.perf_counter() - wall) * 1000, 1),
                      "first_cpu_ms": round((time.process_time() - cpu) * 1000, 1),
                      "units_with_components": view["units_with_components"],
                      "view_sha256": hashlib.sha256(json.dumps(view, sort_keys=True).encode()
                                                    ).hexdigest()[:16]}
    times = []
    for _ in range(repeats):
        wall = time.perf_counter()
        with reading(url) as session:
            stats.supply_chain(session, actor=regulator)
        times.append((time.perf_counter() - wall) * 1000)
    out["national"]["repeat_p50_ms"] = round(statistics.median(times), 1) if times else None
    return out


def supply_first_views(url: str, repeats: int, baseline_src: str | None) -> dict[str, Any]:
    """A fresh process's first supply-chain view, with this checkout's code and (``before``)
    with the code under ``baseline_src`` (e.g. ``git archive main src | tar -x -C DIR``), each
    in a new interpreter on the same database."""
    import subprocess

    runs = {"after": None, "before": baseline_src} if baseline_src else {"after": None}
    figures: dict[str, Any] = {}
    for name, src in runs.items():
        boot = ("import runpy, sys\n"
                f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
                # import the package from there first: bench/common.py puts ours on the path
                + (f"sys.path.insert(0, {src!r})\nimport robopass\n" if src else "")
                + f"sys.argv = ['bench_dashboard.py', '--db', {url!r}, '--supply-only', "
                  f"'--repeats', '{repeats}']\n"
                  f"runpy.run_path({__file__!r}, run_name='__main__')\n")
        done = subprocess.run([sys.executable, "-c", boot], capture_output=True, text=True,
                              env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
        if done.returncode:
            raise SystemExit(f"{name}: {done.stderr}")
        figures[name] = json.loads(done.stdout.strip().splitlines()[-1])
    if baseline_src:  # the same figures, from the maintained counts and from the scan
        figures["same_views"] = all(
            figures["before"][scope]["view_sha256"] == figures["after"][scope]["view_sha256"]
            for scope in ("national", "provincial"))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=1_000_000)
    parser.add_argument("--db", help="an existing seeded registry instead of a synthetic one")
    parser.add_argument("--keys", help="keys file of the seeded registry (robopass seed)")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--overview-only", action="store_true",
                        help="with --db: time the overview aggregates in process, no server")
    parser.add_argument("--supply-only", action="store_true",
                        help="with --db: time the supply-chain view in process, no server")
    parser.add_argument("--supply-first-view", action="store_true",
                        help="a fresh process's first supply-chain view (no server), on --db "
                             "or a synthetic registry of --units")
    parser.add_argument("--baseline-src", help="with --supply-first-view: the src directory "
                        "of the code to compare with (measured as 'before')")
    args = parser.parse_args()
    if args.supply_only:
        print(json.dumps(supply_in_process(args.db, args.repeats)))
        return
    if args.supply_first_view:
        supply_bench(args)
        return
    if args.overview_only:
        figures = overview_in_process(args.db, args.repeats)
        print(json.dumps({"benchmark": "dashboard_overview_in_process", **figures,
                          "load_average_1m": os.getloadavg()[0], "command":
                          f"python bench/bench_dashboard.py --db {args.db} --overview-only"}))
        return
    reg = None
    build_s = 0.0
    if args.db:
        url = args.db
        key = json.loads(Path(args.keys).read_text())["regulator_api_key"]
        from sqlalchemy import func, select

        from robopass.db import reading
        from robopass.robots.models import Unit
        with reading(url) as s:
            units = int(s.scalar(select(func.count()).select_from(Unit)) or 0)
        command = f"python bench/bench_dashboard.py --db {args.db} --keys {args.keys}"
    else:
        t = time.perf_counter()
        reg, key = build_synthetic(args.units)
        build_s = time.perf_counter() - t
        url, units = reg.url, args.units
        command = f"python bench/bench_dashboard.py --units {args.units}"
    try:
        with running_server(url) as base:
            figures = measure(base, key, args.repeats)
    finally:
        if reg is not None:
            reg.close()
    worst_warm = max(figures["dashboard"]["warm_p95_ms"], figures["supply_chain"]["warm_p95_ms"])
    print(json.dumps({"benchmark": "dashboard_page", "backend": url.split(":")[0],
                      "units": units, "build_seconds": round(build_s, 1), **figures,
                      "target": "dashboard page server time <= 300 ms",
                      "meets_target_warm": worst_warm <= 300,
                      "meets_target_after_write": figures["dashboard"]["after_write_ms"] <= 300,
                      "cores": os.cpu_count(), "command": command}))


def supply_bench(args: argparse.Namespace) -> None:
    reg, build_s = None, 0.0
    url = args.db
    if url is None:
        t = time.perf_counter()
        reg, _key = build_synthetic(args.units)
        build_s, url = time.perf_counter() - t, reg.url
    command = ("python bench/bench_dashboard.py --supply-first-view "
               + (f"--db {args.db}" if args.db else f"--units {args.units}")
               + (f" --baseline-src {args.baseline_src}" if args.baseline_src else ""))
    try:
        figures = supply_first_views(url, args.repeats, args.baseline_src)
    finally:
        if reg is not None:
            reg.close()
    print(json.dumps({"benchmark": "supply_chain_first_view_in_fresh_process",
                      "backend": url.split(":")[0], "units": args.units if reg else None,
                      "build_seconds": round(build_s, 1), **figures,
                      "load_average_1m": os.getloadavg()[0], "cores": os.cpu_count(),
                      "command": command}))


if __name__ == "__main__":
    main()
