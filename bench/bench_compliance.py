"""The compliance scan at a million units in service (SPEC §14: target < 30 s on SQLite).

    python bench/bench_compliance.py [--backend sqlite|postgresql] [--units 1000000]

Setup (not timed): issues the codes through the issuance service, then puts every unit in
service with one set-based UPDATE (eight scenarios, four provinces, one operator, policy
version 1) and writes every unit's telemetry snapshot row (a reading seconds ago; 0.5 % of
the units silent for two hours, 0.2 % running a firmware that is not an approved build). The
scan reads exactly these columns, so this is the state a registry with a million deployed
units is in, without replaying three million lifecycle events first.

Timed, wall clock and process CPU, through the same ``compliance.service.run_scan`` that
``robopass compliance scan`` and the server's background thread call:

1. the first scan — a full one (no marks yet): opens every finding;
2. an incremental scan after a small change set (not timed): 100 ``firmware_updated`` events
   recorded through the lifecycle service (half of them an unapproved build, which the
   readings' firmware overrides), 1,000 readings (the first 1,000 silent units report again),
   100 units reporting an unapproved build, a new version of the logistics policy
   (a reading every 300 s: every logistics unit is judged again, set-based);
3. an incremental scan with nothing changed (steady state);
4. a full scan of the same state (``--full``), for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import timedelta

from common import new_registry
from sqlalchemy import bindparam, text

from robopass.compliance import service as compliance
from robopass.db import bulk_insert, db_timestamp, writing
from robopass.organizations import service as org_service
from robopass.robots.service import issue_codes
from robopass.timeutil import utcnow

PLACES = (("440000", "440300"), ("420000", "420100"), ("110000", "110100"),
          ("310000", "310100"))
SCENARIOS = ("industrial", "logistics", "commercial_service", "public_space", "healthcare",
             "eldercare", "household", "education_research")


def setup(url: str, maker, model_id: str, units: int,  # type: ignore[no-untyped-def]
          regulator_id: str) -> tuple[list[str], object]:
    from robopass.auth.service import Actor
    from robopass.organizations.models import Organization

    codes: list[str] = []
    with writing(url) as session:
        while len(codes) < units:
            codes += issue_codes(session, actor=maker, model_id=model_id,
                                 count=min(100_000, units - len(codes)), plant="A1",
                                 production_month="2026-03")
        regulator = Actor.of(session.get(Organization, regulator_id))
        operator, _ = org_service.create(session, actor=regulator, name="Bench Operator",
                                         roles=["operator"], country="DE",
                                         registration_number="HRB 9")
        build = '{"name": "OS", "version": "1", "builds": [{"version": "1.0"}]}'
        for table, key in (("product_models", "id"), ("model_versions", "model_id")):
            session.execute(text(f"UPDATE {table} SET software = :s WHERE {key} = :m"),
                            {"s": build, "m": model_id})
        seq = "CAST(substr(code, 21, 8) AS INTEGER)"
        scenario = "CASE " + " ".join(f"WHEN {seq} % 8 = {i} THEN '{s}'"
                                      for i, s in enumerate(SCENARIOS)) + " END"
        province = "CASE " + " ".join(f"WHEN {seq} % 4 = {i} THEN '{p}'"
                                      for i, (p, _c) in enumerate(PLACES)) + " END"
        city = "CASE " + " ".join(f"WHEN {seq} % 4 = {i} THEN '{c}'"
                                  for i, (_p, c) in enumerate(PLACES)) + " END"
        deployed = utcnow() - timedelta(hours=1)
        session.execute(text(
            f"UPDATE units SET status = 'in_service', scenario = {scenario}, "
            f"province = {province}, city = {city}, owner_id = :op, operator_id = :op, "
            f"policy_version = 1, firmware = '1.0', last_event_at = :at, event_count = 3"),
            {"op": operator.id, "at": db_timestamp(session, deployed)})
    now = utcnow()
    fresh = int((now - timedelta(seconds=5)).timestamp() * 1000)
    silent = int((now - timedelta(hours=2)).timestamp() * 1000)
    with writing(url) as session:
        for start in range(0, len(codes), 100_000):
            bulk_insert(session, "telemetry_units", ("code", "at", "firmware"), [
                (c, silent if i % 200 == 7 else fresh, "9.9-dev" if i % 500 == 3 else "1.0")
                for i, c in enumerate(codes[start:start + 100_000], start=start)])
    return codes, now


def change_set(url: str, maker, regulator_id: str,  # type: ignore[no-untyped-def]
               codes: list[str], now) -> None:
    from robopass.auth.service import Actor
    from robopass.lifecycle.plan import EventRequest
    from robopass.lifecycle.service import record_events
    from robopass.organizations.models import Organization
    from robopass.policies.service import set_policy

    with writing(url) as session:
        record_events(session, actor=maker, requests=[
            EventRequest(code=c, type="firmware_updated",
                         details={"firmware": "9.9-dev" if i % 2 else "1.0"})
            for i, c in enumerate(codes[1:20_000:200])])
        set_policy(session, actor=Actor.of(session.get(Organization, regulator_id)),
                   scenario="logistics", rules={"max_telemetry_interval_s": 300},
                   reason="bench: logistics robots report every 5 minutes")
    fresh = int(now.timestamp() * 1000)
    silent = [c for i, c in enumerate(codes) if i % 200 == 7][:1000]
    unapproved = [c for i, c in enumerate(codes) if i % 200 == 11][:100]
    with writing(url) as session:
        session.execute(text("UPDATE telemetry_units SET firmware = '9.9-dev' WHERE code IN "
                             ":codes").bindparams(bindparam("codes", expanding=True)),
                        {"codes": unapproved})
        for start in range(0, len(silent), 500):
            session.execute(text("UPDATE telemetry_units SET at = :at WHERE code IN :codes")
                            .bindparams(bindparam("codes", expanding=True)),
                            {"at": fresh, "codes": silent[start:start + 500]})


def _backend_cpu(session) -> float | None:  # type: ignore[no-untyped-def]
    """CPU seconds the PostgreSQL backend serving ``session`` has used (same host; parallel
    query workers not included). None on SQLite: the work is this process's."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_scan(url: str, now, full: bool = False) -> dict[str, object]:  # type: ignore[no-untyped-def]
    wall, cpu = time.perf_counter(), time.process_time()
    with writing(url) as session:  # wall and CPU include the commit
        server = _backend_cpu(session)
        report = compliance.run_scan(session, now=now, full=full)
        after = _backend_cpu(session)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    out = {**report.as_dict(), "wall_s": round(wall, 2), "cpu_s": round(cpu, 2)}
    if server is not None and after is not None:
        out["server_cpu_s"] = round(after - server, 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--units", type=int, default=1_000_000)
    args = parser.parse_args()
    reg = new_registry(args.backend)
    try:
        with writing(reg.url) as session:
            regulator_id = session.execute(text(
                "SELECT id FROM organizations WHERE registration_number = 'REGISTRY'"
            )).scalar_one()
        t0 = time.perf_counter()
        codes, now = setup(reg.url, reg.maker, reg.model_id, args.units, regulator_id)
        setup_s = time.perf_counter() - t0
        load_before = os.getloadavg()[0]
        first = timed_scan(reg.url, now + timedelta(seconds=1))
        change_set(reg.url, reg.maker, regulator_id, codes, now + timedelta(seconds=2))
        changed = timed_scan(reg.url, now + timedelta(seconds=3))
        steady = timed_scan(reg.url, now + timedelta(seconds=4))
        full = timed_scan(reg.url, now + timedelta(seconds=5), full=True)
    finally:
        reg.close()
    walls = [first["wall_s"], changed["wall_s"], steady["wall_s"], full["wall_s"]]
    print(json.dumps({
        "benchmark": "compliance_scan", "backend": args.backend, "units_in_service": args.units,
        "setup_s": round(setup_s, 1), "first_scan": first, "incremental_after_changes": changed,
        "incremental_steady": steady, "full_scan_again": full,
        "target_s": 30, "meets_target": max(walls) < 30,  # type: ignore[type-var]
        "cores": os.cpu_count(), "load_avg_before": load_before,
        "load_avg": os.getloadavg()[0],
        "command": f"python bench/bench_compliance.py --backend {args.backend} "
                   f"--units {args.units}"}))


if __name__ == "__main__":
    main()
