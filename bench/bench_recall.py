"""Benchmark: opening a recall over 100,000 affected units (target <= 5 s).

Builds a fresh registry per backend (SQLite file, PostgreSQL database) with 2 x N units
issued through ``robots.service.issue_codes`` and owned round-robin by 200 operators: N of one
model, N of a second model each carrying a battery pack of one supplier batch. Then opens, each
in its own write transaction through ``recalls.service.open_recall`` (what
``POST /api/v1/recalls`` runs), a recall of the first model and a recall of the battery batch
(each affects N units), and times each including the commit. The owners' notices go to
the outbox in the same transaction. Prints one JSON object.

    python bench/bench_recall.py [--units 100000] [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import file_approved, new_registry  # noqa: E402

from robopass.auth.service import Actor  # noqa: E402
from robopass.db import writing  # noqa: E402

TARGET_S = 5.0


def _setup(url: str, maker: Actor, model_id: str, units: int) -> tuple[str, str, int]:
    """``units`` units of the bench model, and ``units`` more of a second model that each
    carry a battery pack of one supplier batch; owners round-robin over 200 operators."""
    from sqlalchemy import bindparam, insert, text, update

    from robopass.components.models import Component
    from robopass.db import dialect_name
    from robopass.ids import new_id
    from robopass.organizations import service as org_service
    from robopass.robots import service as robot_service
    from robopass.robots.models import Unit
    from robopass.timeutil import utcnow

    regulator = _regulator(url)
    with writing(url) as session:
        second_id = file_approved(session, maker, regulator, name="Bench B2",
                                  hardware_class="W", intelligence_level=2, height_cm=150,
                                  mass_kg=50, dof=30)
    with writing(url) as session:
        codes_a = robot_service.issue_codes(session, actor=maker, model_id=model_id,
                                            count=units, plant="A1",
                                            production_month="2026-03")
    with writing(url) as session:
        codes_b = robot_service.issue_codes(session, actor=maker, model_id=second_id,
                                            count=units, plant="A1",
                                            production_month="2026-03")
    with writing(url) as session:
        supplier, _ = org_service.create(session, actor=regulator, name="Bench Cells Co",
                                         roles=["component_supplier"], country="DE",
                                         registration_number="HRB 2")
        operators = [org_service.create(session, actor=regulator, name=f"Bench Operator {i}",
                                        roles=["operator"], country="DE",
                                        registration_number=f"HRB 1{i:03d}")[0].id
                     for i in range(200)]
        table = Unit.__table__
        session.execute(update(table).where(table.c.code == bindparam("b_code")).values(
            status="in_service", owner_id=bindparam("b_owner"),
            operator_id=bindparam("b_owner")),
            [{"b_code": c, "b_owner": operators[i % 200]}
             for i, c in enumerate(codes_a + codes_b)])
        now = utcnow()
        session.execute(insert(Component), [
            {"id": new_id("cmp"), "serial": f"BP-{i:07d}", "component_type": "battery_pack",
             "supplier_id": supplier.id, "batch": "B-1", "unit_code": c, "created_at": now}
            for i, c in enumerate(codes_b)])
    with writing(url) as session:
        if dialect_name(session) == "postgresql":
            # what autovacuum does on a live database after a bulk load
            session.execute(text("ANALYZE"))
    return supplier.id, second_id, len(codes_a)


def _regulator(url: str) -> Actor:
    from sqlalchemy import select

    from robopass.db import reading
    from robopass.notifications.service import regulator_ids
    from robopass.organizations.models import Organization

    with reading(url) as session:
        org = session.scalar(select(Organization).where(
            Organization.id == regulator_ids(session)[0]))
        assert org is not None
        return Actor.of(org)


def _timed_recall(url: str, actor: Actor, scope: dict[str, str]) -> tuple[float, int]:
    from robopass.recalls import service as recall_service

    t0 = time.perf_counter()
    with writing(url) as session:
        recall = recall_service.open_recall(session, actor=actor, reason="bench", scope=scope)
        affected = recall.affected
    return time.perf_counter() - t0, affected


def run(backend: str, units: int) -> dict[str, object]:
    reg = new_registry(backend)
    try:
        t0 = time.perf_counter()
        supplier_id, _second_model, n = _setup(reg.url, reg.maker, reg.model_id, units)
        setup_s = time.perf_counter() - t0
        model_s, affected = _timed_recall(reg.url, reg.maker, {"model_id": reg.model_id})
        batch_s, affected_b = _timed_recall(reg.url, _regulator(reg.url), {
            "component_supplier": supplier_id, "component_batch": "B-1"})
        assert affected == affected_b == n, (affected, affected_b, n)
        return {"affected": affected, "model_scope_s": round(model_s, 3),
                "component_batch_scope_s": round(batch_s, 3), "setup_s": round(setup_s, 1),
                "owners_notified": 200}
    finally:
        reg.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = {b: run(b, args.units) for b in backends}
    print(json.dumps({"benchmark": "recall_open", "units": args.units, "results": results,
                      "target": {"seconds_max": TARGET_S, "units": 100_000},
                      "cores": os.cpu_count(),
                      "command": "python " + " ".join(sys.argv)}))


if __name__ == "__main__":
    main()
