"""Lifecycle events through the batch API, rules checked and ledgered (SPEC §11: ≥ 20,000/s).

    python bench/bench_events.py [--backend sqlite|postgresql] [--events 100000] [--batch 5000]

Issues codes, starts a real uvicorn server on 127.0.0.1, and POSTs ``manufactured`` events for
every unit to ``/api/v1/events`` in batches from one client; reports events/s end to end.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson
from common import new_registry

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.utils.server import running_server  # noqa: E402

from robopass.auth import service as auth_service  # noqa: E402
from robopass.db import writing  # noqa: E402
from robopass.robots.service import issue_codes  # noqa: E402
from robopass.timeutil import rfc3339, utcnow  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--workers", type=int, default=1,
                        help="server worker processes (SQLite has one writer: 1 is fastest)")
    parser.add_argument("--clients", type=int, default=1, help="concurrent client connections")
    args = parser.parse_args()
    reg = new_registry(args.backend)
    try:
        codes: list[str] = []
        with writing(reg.url) as session:
            while len(codes) < args.events:
                codes += issue_codes(session, actor=reg.maker, model_id=reg.model_id,
                                     count=min(100_000, args.events - len(codes)), plant="A1",
                                     production_month="2025-06")
            key = auth_service.create_key(session, organization_id=reg.maker.id)
        headers = {"Authorization": f"Bearer {key}"}
        # The load generator pre-serialises its bodies so the figure is the server's. The
        # events are dated just after issuance (an event may not precede its code's issuance).
        at = rfc3339(utcnow())
        bodies = [orjson.dumps({"events": [{"code": c, "type": "manufactured", "at": at,
                                            "details": {"line": "L3", "shift": "A"}}
                                           for c in codes[i:i + args.batch]]})
                  for i in range(0, len(codes), args.batch)]
        headers["Content-Type"] = "application/json"
        with running_server(reg.url, workers=args.workers) as base:
            def send(mine: list[bytes]) -> None:
                with httpx.Client(timeout=300) as http:
                    for body in mine:
                        r = http.post(f"{base}/api/v1/events", content=body, headers=headers)
                        if r.status_code != 201:
                            raise SystemExit(f"batch failed: {r.status_code} {r.text[:500]}")

            start = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                list(pool.map(send, [bodies[i::args.clients] for i in range(args.clients)]))
            elapsed = time.perf_counter() - start
            http = httpx.Client(timeout=30)
            size = http.get(f"{base}/api/v1/ledger/head").json()["size"]
            http.close()
        # codes + events, plus the bench model's decisions (accreditation, approval)
        assert size == 2 * len(codes) + 2, size
    finally:
        reg.close()
    print(json.dumps({"benchmark": "lifecycle_events_batch_api", "backend": args.backend,
                      "events": len(codes), "batch": args.batch, "workers": args.workers,
                      "clients": args.clients, "seconds": round(elapsed, 2),
                      "events_per_s": round(len(codes) / elapsed), "target_per_s": 20_000,
                      "meets_target": len(codes) / elapsed >= 20_000, "cores": os.cpu_count(),
                      "command": f"python bench/bench_events.py --backend {args.backend} "
                                 f"--events {args.events} --batch {args.batch} "
                                 f"--workers {args.workers} --clients {args.clients}"}))


if __name__ == "__main__":
    main()
