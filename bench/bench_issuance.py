"""Issue 1,000,000 codes for one model, persisted and ledgered (SPEC §11).

    python bench/bench_issuance.py [--backend sqlite|postgresql] [--count 1000000]

Calls ``robots.service.issue_codes`` (the API's code path) in batches of 100,000 (the per-request
limit), each batch its own transaction with units, ledger leaves, nodes and a signed head.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from common import new_registry

from robopass.db import writing
from robopass.robots.service import issue_codes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=100_000)
    args = parser.parse_args()
    reg = new_registry(args.backend)
    try:
        issued = 0
        start = time.perf_counter()
        month = 1
        while issued < args.count:
            n = min(args.batch, args.count - issued)
            with writing(reg.url) as session:
                codes = issue_codes(session, actor=reg.maker, model_id=reg.model_id, count=n,
                                    plant="A1", production_month=f"2025-{month:02d}",
                                    max_count=args.batch)
            issued += len(codes)
            month = month % 12 + 1
        elapsed = time.perf_counter() - start
    finally:
        reg.close()
    target = 20 if args.backend == "sqlite" else 40
    print(json.dumps({"benchmark": "code_issuance", "backend": args.backend, "codes": issued,
                      "seconds": round(elapsed, 2), "codes_per_s": round(issued / elapsed),
                      "target_seconds": target, "meets_target": elapsed <= target,
                      "cores": os.cpu_count(),
                      "command": f"python bench/bench_issuance.py --backend {args.backend} "
                                 f"--count {args.count}"}))


if __name__ == "__main__":
    main()
