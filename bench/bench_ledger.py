"""Inclusion and consistency proofs at 1,000,000 and 10,000,000 ledger entries (≤ 1 ms).

    python bench/bench_ledger.py [--sizes 1000000,10000000] [--backend sqlite|postgresql]

Builds a ledger through ``ledger.service.append`` (the path issuance and events use) in batches
of 100,000 synthetic event leaves, once per size (cached under var/bench/ for SQLite), then
times ``ledger.service.inclusion_proof`` / ``consistency_proof`` — what the public endpoints
call — for 2,000 random indexes, and verifies a sample of the proofs against the signed head.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from pathlib import Path

from common import PG_ADMIN  # noqa: F401  (puts src/ on sys.path)

from robopass.db import dispose_engine, reading, writing
from robopass.ledger import merkle
from robopass.ledger import service as ledger_service
from robopass.registry.service import initialise

BATCH = 100_000


def build(url: str, size: int) -> None:
    initialise(url)
    with reading(url) as session:
        have = ledger_service.size(session)
    start = time.perf_counter()
    while have < size:
        n = min(BATCH, size - have)
        with writing(url) as session:
            ledger_service.append(session, [
                ledger_service.LeafInput(kind="event", code=f"CN1000000001250101A3B{i:08d}X",
                                         type="manufactured", at="2025-01-01T00:00:00Z",
                                         id=f"evt_{i:012d}", record={"i": i})
                for i in range(have, have + n)])
        have += n
        if have % 1_000_000 == 0:
            print(f"  built {have:,} leaves in {time.perf_counter() - start:.0f} s", flush=True)


def measure(url: str, size: int, samples: int = 2000) -> dict[str, float]:
    rng = random.Random(size)
    inclusion, consistency = [], []
    with reading(url) as session:
        head = ledger_service.latest_head(session)
        assert head["size"] == size
        root = bytes.fromhex(head["root_hash"])
        for k in range(samples):
            index = rng.randrange(size)
            t = time.perf_counter()
            proof = ledger_service.inclusion_proof(session, index=index, tree_size=size)
            inclusion.append(time.perf_counter() - t)
            if k < 50:
                merkle.verify_inclusion(index, size, bytes.fromhex(proof["leaf_hash"]),
                                        [bytes.fromhex(h) for h in proof["hashes"]], root)
            first = rng.randrange(1, size)
            t = time.perf_counter()
            ledger_service.consistency_proof(session, first=first, second=size)
            consistency.append(time.perf_counter() - t)

    def q(values: list[float], p: float) -> float:
        return round(sorted(values)[int(p * (len(values) - 1))] * 1000, 3)

    return {"inclusion_p50_ms": q(inclusion, 0.5), "inclusion_p99_ms": q(inclusion, 0.99),
            "inclusion_mean_ms": round(statistics.mean(inclusion) * 1000, 3),
            "consistency_p50_ms": q(consistency, 0.5), "consistency_p99_ms": q(consistency, 0.99)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    results = {}
    for size in [int(s) for s in args.sizes.split(",")]:
        if args.backend == "sqlite":
            path = Path("var/bench") / f"ledger-{size}.db"
            path.parent.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{path}"
        else:
            import psycopg

            name = f"robopass_bench_ledger_{size}"
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                    (name,)).fetchone():
                    conn.execute(f'CREATE DATABASE "{name}"')
            url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
        t = time.perf_counter()
        build(url, size)
        built = time.perf_counter() - t
        results[str(size)] = {**measure(url, size), "build_seconds_this_run": round(built, 1)}
        dispose_engine(url)
    print(json.dumps({"benchmark": "ledger_proofs", "backend": args.backend, "results": results,
                      "target_ms": 1.0, "cores": os.cpu_count(),
                      "command": f"python bench/bench_ledger.py --sizes {args.sizes} "
                                 f"--backend {args.backend}"}))


if __name__ == "__main__":
    main()
