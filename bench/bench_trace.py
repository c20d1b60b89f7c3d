"""Benchmark: incident trace report for a unit with 10,000 events, 1,000,000 readings in the
database (SPEC §11: <= 100 ms).

Builds a fresh registry per backend: 100 units of one model in service with an operator; the
traced unit carries a battery pack of a recalled batch and has 10,000 lifecycle events
(maintenance started/completed by the operator and, at the end, an authorised service provider;
a firmware update every 50 events), recorded through ``lifecycle.service.record_events``; every
unit has 10,000 readings every 10 s from ``telemetry.simulator.generate_history`` stored through
``telemetry.service.store_readings`` (1,000,000 in all). An incident is reported after the last
event. Then times ``incidents.trace.trace_incident`` in a read session (the route's work) and
``GET /api/v1/incidents/{id}/trace`` through the ASGI app in process, each repeated.
Prints one JSON object.

    python bench/bench_trace.py [--backend sqlite|postgresql|both] [--events 10000]
        [--readings 1000000] [--repeat 30]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import new_registry  # noqa: E402

from robopass.auth.service import Actor  # noqa: E402
from robopass.db import reading, writing  # noqa: E402

TARGET_MS = 100.0
UNITS = 100
START = datetime(2026, 3, 13, tzinfo=UTC)


def _org(session, regulator: Actor, name: str, role: str) -> Actor:  # type: ignore[no-untyped-def]
    from robopass.organizations import service as org_service

    org, _ = org_service.create(session, actor=regulator, name=name, roles=[role],
                                country="DE", registration_number=f"HRB {name}")
    return Actor.of(org)


def _regulator(url: str) -> Actor:
    from sqlalchemy import select

    from robopass.notifications.service import regulator_ids
    from robopass.organizations.models import Organization

    with reading(url) as session:
        org = session.scalar(select(Organization).where(
            Organization.id == regulator_ids(session)[0]))
        assert org is not None
        return Actor.of(org)


def build(url: str, maker: Actor, model_id: str, events: int, readings: int
          ) -> tuple[str, str]:
    from robopass.lifecycle.service import EventRequest, record_events
    from robopass.organizations import service as org_service
    from robopass.recalls import service as recall_service
    from robopass.robots import service as robot_service
    from robopass.telemetry import service as telemetry_service
    from robopass.telemetry.simulator import generate_history

    regulator = _regulator(url)
    with writing(url) as session:
        supplier = _org(session, regulator, "Bench Cells", "component_supplier")
        operator = _org(session, regulator, "Bench Operator", "operator")
        provider = _org(session, regulator, "Bench Service", "service_provider")
        codes = robot_service.issue_codes(session, actor=maker, model_id=model_id,
                                          count=UNITS, plant="A1", production_month="2026-03")
    traced = codes[0]
    at0 = START - timedelta(days=2)
    with writing(url) as session:
        record_events(session, actor=maker, batch=True, requests=[
            EventRequest(code=c, type="manufactured", at=at0, details={"components": [
                {"serial": f"BP-{c}", "type": "battery_pack", "supplier_id": supplier.id,
                 "batch": "B-7"}]}) for c in codes] + [
            EventRequest(code=c, type="sold", at=at0 + timedelta(hours=1),
                         to_organization=operator.id) for c in codes])
    with writing(url) as session:
        record_events(session, actor=operator, batch=True, requests=[
            EventRequest(code=c, type="deployed", at=at0 + timedelta(hours=2),
                         details={"scenario": "industrial", "province": "110000",
                                  "city": "110100"}) for c in codes])
        org_service.authorize_service(session, actor=operator, provider_id=provider.id,
                                      code=traced)
    step = timedelta(seconds=10)
    n = events - 3  # manufactured, sold, deployed
    reqs: list[tuple[Actor, EventRequest]] = []
    open_order = 0
    for i in range(n):
        at = START + i * step
        who = provider if i >= n - 100 else operator
        if i % 50 == 48:
            reqs.append((who, EventRequest(code=traced, type="firmware_updated", at=at,
                                           details={"firmware": f"2.{i // 50}.0"})))
        elif open_order:
            reqs.append((who, EventRequest(code=traced, type="maintenance_completed", at=at,
                                           details={"work_order": f"WO-{open_order}",
                                                    "parts": ["filter"]})))
            open_order = 0
        else:
            open_order = i + 1
            reqs.append((who, EventRequest(code=traced, type="maintenance_started", at=at,
                                           details={"work_order": f"WO-{open_order}",
                                                    "description": "routine service"})))
    for start in range(0, len(reqs), 2000):
        chunk = reqs[start:start + 2000]
        groups: list[tuple[Actor, list[EventRequest]]] = []
        for actor, req in chunk:
            if groups and groups[-1][0] is actor:
                groups[-1][1].append(req)
            else:
                groups.append((actor, [req]))
        with writing(url) as session:
            for actor, group in groups:
                record_events(session, actor=actor, requests=group, batch=True)
    last_event = START + (n - 1) * step
    per_unit = max(1, readings // UNITS)
    end = START + per_unit * timedelta(seconds=10)
    history = generate_history(codes, start=START, end=end, interval_s=10.0, seed=7)
    batch: list[dict[str, object]] = []
    for reading_ in history:
        batch.append(reading_)
        if len(batch) >= 50_000:
            with writing(url) as session:
                telemetry_service.store_readings(session, batch, actor=None, notify=False)
            batch = []
    if batch:
        with writing(url) as session:
            telemetry_service.store_readings(session, batch, actor=None, notify=False)
    with writing(url) as session:
        recall_service.open_recall(session, actor=regulator, reason="cells may overheat",
                                   scope={"component_supplier": supplier.id,
                                          "component_batch": "B-7"},
                                   now=START + timedelta(hours=1))
    from robopass.incidents import service as incident_service

    with writing(url) as session:
        incident = incident_service.report(
            session, actor=operator, code=traced, at=max(last_event, end - timedelta(hours=1)),
            type="malfunction", severity="major", description="bench")
        incident_id = incident.id
        # a historical incident: the state must be folded from 99 % of the events
        historical = incident_service.report(
            session, actor=operator, code=traced, at=START + (n * 99 // 100) * step
            + timedelta(seconds=5), type="safety_accident", severity="critical",
            description="bench, historical")
        historical_id = historical.id
    from sqlalchemy import text

    with writing(url) as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("ANALYZE"))
    return incident_id, historical_id


def measure(url: str, incident_id: str, repeat: int) -> dict[str, object]:
    from fastapi.testclient import TestClient
    from sqlalchemy import func, select

    from robopass.api import create_app
    from robopass.auth.service import create_key
    from robopass.config import Settings
    from robopass.incidents import trace
    from robopass.incidents.models import Incident
    from robopass.lifecycle.models import Event
    from robopass.telemetry.models import TelemetryChunk

    regulator = _regulator(url)
    with reading(url) as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None
        n_events = session.scalar(select(func.count()).select_from(Event).where(
            Event.code == incident.code))
        n_readings = session.scalar(select(func.coalesce(func.sum(TelemetryChunk.n), 0)))
    service_ms = []
    report: dict[str, object] = {}
    for _ in range(repeat):
        t0 = time.perf_counter()
        with reading(url) as session:
            report = trace.trace_incident(session, actor=regulator, incident_id=incident_id)
        service_ms.append((time.perf_counter() - t0) * 1000)
    with writing(url) as session:
        key = create_key(session, organization_id=regulator.id, name="bench")
    http_ms = []
    with TestClient(create_app(Settings(database_url=url))) as client:
        for _ in range(repeat):
            t0 = time.perf_counter()
            r = client.get(f"/api/v1/incidents/{incident_id}/trace",
                           headers={"Authorization": f"Bearer {key}"})
            http_ms.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200, r.text
    telemetry = report["telemetry"]
    assert isinstance(telemetry, dict)
    return {"events_of_unit": n_events, "readings_in_db": n_readings,
            "readings_in_window": (telemetry.get("summary") or {}).get("count"),
            "parties": [c["party"] for c in report["responsibility"]],  # type: ignore[attr-defined]
            "service_ms": {"median": round(statistics.median(service_ms), 1),
                           "p95": round(sorted(service_ms)[int(0.95 * (len(service_ms) - 1))],
                                        1)},
            "http_ms": {"median": round(statistics.median(http_ms), 1),
                        "p95": round(sorted(http_ms)[int(0.95 * (len(http_ms) - 1))], 1)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--readings", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = {}
    for backend in backends:
        reg = new_registry(backend)
        try:
            t0 = time.perf_counter()
            latest, historical = build(reg.url, reg.maker, reg.model_id, args.events,
                                       args.readings)
            build_s = time.perf_counter() - t0
            results[backend] = {"incident_after_last_event": measure(reg.url, latest,
                                                                     args.repeat),
                                "incident_at_99_percent_of_history": measure(
                                    reg.url, historical, args.repeat),
                                "build_s": round(build_s, 1)}
        finally:
            reg.close()
    print(json.dumps({"benchmark": "incident_trace", "results": results,
                      "target": {"ms_max": TARGET_MS, "events": 10_000,
                                 "readings": 1_000_000},
                      "cores": os.cpu_count(), "command": "python " + " ".join(sys.argv)}))


if __name__ == "__main__":
    main()
