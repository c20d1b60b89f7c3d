"""Benchmark: the status list (SPEC §16) — size and build time, up to 10,000,000 codes.

How it is built (``robopass.statuslist.service``): never from a scan of every unit, only from
the units whose value is not 0 (suspended, scrapped, recycled, open recall: a partial index;
units of suspended/revoked models: the model/status index), packed into a zeroed array of
``registry.next_status_index`` 2-bit entries, then zlib-compressed. So the cost is one
allocation of n/4 bytes, the compression of mostly zero bytes, and work per *listed* unit.

Two parts, one JSON object:

* ``pure``: pack + compress + sign for ``--codes`` entries (default 10,000,000) with 0.1 %,
  1 % and 5 % listed at random positions — the whole build minus the database reads;
* ``db``: a real registry (``--backend sqlite|postgresql``) with ``--db-codes`` issued codes
  (default 200,000) of which 1 % are listed: the full ``statuslist.service.signed`` (both
  indexed reads included), best of 3, and the query plan of the listed-units read.

    python bench/bench_status_list.py [--codes N] [--db-codes N] [--backend sqlite]

Figures on the shared 2-core machine are pessimistic (other sessions load it).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from robopass.statuslist import token  # noqa: E402


def pure(codes: int, fraction: float, rng: random.Random) -> dict[str, object]:
    listed = int(codes * fraction)
    entries = [(i, rng.randint(1, 3)) for i in rng.sample(range(codes), listed)]
    private = Ed25519PrivateKey.generate()
    t0 = time.perf_counter()
    array = token.pack(codes, entries)
    t1 = time.perf_counter()
    lst = token.compress(array)
    t2 = time.perf_counter()
    jws = token.sign(private, "kid", {"sub": "https://r/api/v1/status-list", "iss": "r",
                                      "iat": 0, "ttl": 3600,
                                      "status_list": {"bits": 2, "lst": lst}})
    t3 = time.perf_counter()
    return {"codes": codes, "listed": listed, "raw_bytes": len(array),
            "token_bytes": len(jws), "pack_s": round(t1 - t0, 3),
            "compress_s": round(t2 - t1, 3), "sign_s": round(t3 - t2, 3),
            "total_s": round(t3 - t0, 3)}


def db_part(backend: str, count: int, rng: random.Random) -> dict[str, object]:
    from common import new_registry
    from sqlalchemy import text

    from robopass.db import reading, writing
    from robopass.robots import service as robot_service
    from robopass.statuslist import service

    reg = new_registry(backend)
    try:
        t0 = time.perf_counter()
        for start in range(0, count, 100_000):
            with writing(reg.url) as session:
                robot_service.issue_codes(session, actor=reg.maker, model_id=reg.model_id,
                                          count=min(100_000, count - start), plant="A1",
                                          production_month="2026-01")
        issued_s = time.perf_counter() - t0
        listed = count // 100
        with writing(reg.url) as session:
            picks = rng.sample(range(count), listed)
            for i, idx in enumerate(picks):
                column = "status = 'suspended'" if i % 2 else "open_recalls = 1"
                session.execute(text(f"UPDATE units SET {column} WHERE status_index = :i"),
                                {"i": idx})
        best = float("inf")
        size = 0
        for _ in range(3):
            with reading(reg.url) as session:
                t = time.perf_counter()
                jws = service.signed(session, public_url="https://robopass.cn")
                best = min(best, time.perf_counter() - t)
                size = len(jws)
        with reading(reg.url) as session:
            prefix = "EXPLAIN QUERY PLAN " if backend == "sqlite" else "EXPLAIN "
            plan = [" ".join(str(c) for c in row)
                    for row in session.execute(text(prefix + str(service._UNIT_SQL)))]
        return {"backend": backend, "codes": count, "listed": listed,
                "issue_s": round(issued_s, 1), "build_best_s": round(best, 4),
                "token_bytes": size, "listed_query_plan": plan}
    finally:
        reg.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--codes", type=int, default=10_000_000)
    parser.add_argument("--db-codes", type=int, default=200_000)
    parser.add_argument("--backend", default="sqlite", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    rng = random.Random(7)
    result = {"pure": [pure(args.codes, f, rng) for f in (0.001, 0.01, 0.05)]}
    if args.db_codes:
        result["db"] = [db_part(args.backend, args.db_codes, rng)]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
