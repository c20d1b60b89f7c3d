"""C2SP tiles at 10,000,000 ledger entries: tile serving time (≤ 1 ms p50) and tile reads per
proof (≤ 5).

    python bench/bench_tiles.py [--size 10000000] [--backend sqlite|postgresql] [--http]

How the large ledger is built cheaply: directly through the storage layer,
``ledger.service.append`` (the path issuance and events use: leaf rows, perfect-subtree nodes
from level 4 up, one signed head per batch) in batches of 100,000 synthetic well-formed event
leaves — no units, no API — once per size, cached under var/bench/ for SQLite.

Measures, on that ledger:
* tile serving: ``ledger.transparency.tile_data`` (what ``GET /api/v1/ledger/tile/...`` calls)
  for 2,000 random full level-0 tiles, 2,000 level-1 tiles, the partial edge tiles and 500
  entry bundles — p50/p99 in ms; with ``--http`` also over HTTP against a real server
  (client-side latency, and server CPU per request from /proc);
* tile reads per proof: for 2,000 random leaves, the distinct tiles an inclusion proof at the
  current size needs, fetched through ``tiles.TileNodes`` and each proof verified against the
  signed head's root; also for 2,000 random consistency proofs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import PG_ADMIN, server_cpu_seconds

from robopass.db import dispose_engine, reading, writing
from robopass.ledger import merkle, tiles, transparency
from robopass.ledger import service as ledger_service
from robopass.registry.service import initialise

BATCH = 100_000


def build(url: str, size: int) -> None:
    initialise(url, origin="bench.robopass.example/ledger")
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
            print(f"  built {have:,} leaves in {time.perf_counter() - start:.0f} s", flush=True,
                  file=sys.stderr)


def q(values: list[float], p: float) -> float:
    return round(sorted(values)[int(p * (len(values) - 1))] * 1000, 3)


def serving(url: str, size: int, rng: random.Random) -> dict[str, object]:
    kinds = {
        "level0_full": [tiles.Tile(0, rng.randrange(size // 256)) for _ in range(2000)],
        "level1_full": [tiles.Tile(1, rng.randrange(size // 65536)) for _ in range(2000)],
        "entries_full": [tiles.Tile(tiles.ENTRIES, rng.randrange(size // 256))
                         for _ in range(500)],
        "edge_partial": [tiles.Tile(lv, size // 256 ** (lv + 1), tiles.width_at(
            lv, size // 256 ** (lv + 1), size)) for lv in range(3)
            if tiles.width_at(lv, size // 256 ** (lv + 1), size)] * 200,
    }
    out: dict[str, object] = {}
    with reading(url) as session:
        for name, wanted in kinds.items():
            times = []
            for tile in wanted:
                t = time.perf_counter()
                data = transparency.tile_data(session, tile)
                times.append(time.perf_counter() - t)
                assert data
            out[name] = {"p50_ms": q(times, 0.5), "p99_ms": q(times, 0.99), "n": len(times)}
    return out


def reads_per_proof(url: str, size: int, rng: random.Random) -> dict[str, object]:
    inclusion, consistency = [], []
    with reading(url) as session:
        head = ledger_service.latest_head(session)
        assert head["size"] == size
        root = bytes.fromhex(head["root_hash"])

        def fetch(tile: tiles.Tile) -> bytes:
            return transparency.tile_data(session, tile)

        for _ in range(2000):
            index = rng.randrange(size)
            reader = tiles.TileNodes(size, fetch)
            proof = reader.inclusion_proof(index)
            leaf = reader[(0, index)]
            merkle.verify_inclusion(index, size, leaf, proof, root)
            inclusion.append(reader.fetched)
            reader = tiles.TileNodes(size, fetch)
            first = rng.randrange(1, size)
            first_root = tiles.TileNodes(first, fetch).root()
            merkle.verify_consistency(first, size, first_root, root,
                                      reader.consistency_proof(first))
            consistency.append(reader.fetched)
    return {"inclusion_tiles_max": max(inclusion),
            "inclusion_tiles_mean": round(statistics.mean(inclusion), 2),
            "consistency_tiles_max": max(consistency),
            "consistency_tiles_mean": round(statistics.mean(consistency), 2),
            "proofs_verified": 2 * len(inclusion)}


def over_http(url: str, size: int, rng: random.Random) -> dict[str, object]:
    import httpx

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.utils.server import free_port

    port = free_port()
    env = {**os.environ, "ROBOPASS_DATABASE_URL": url, "ROBOPASS_PUBLIC_RATE_LIMIT": "0",
           "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "robopass.asgi:app", "--port",
                             str(port), "--log-level", "warning"], env=env,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}/api/v1/ledger/tile/"
    try:
        with httpx.Client() as client:
            for _ in range(300):
                try:
                    client.get(base + "0/000")
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            paths = [tiles.Tile(0, rng.randrange(size // 256)).path() for _ in range(2000)]
            cpu0 = server_cpu_seconds(proc.pid)
            times = []
            for path in paths:
                t = time.perf_counter()
                r = client.get(base + path)
                times.append(time.perf_counter() - t)
                assert r.status_code == 200 and len(r.content) == 8192
            cpu = server_cpu_seconds(proc.pid) - cpu0
    finally:
        proc.terminate()
        proc.wait()
    return {"level0_full_http_p50_ms": q(times, 0.5), "level0_full_http_p99_ms": q(times, 0.99),
            "server_cpu_ms_per_tile": round(cpu / len(paths) * 1000, 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=10_000_000)
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--http", action="store_true")
    args = parser.parse_args()
    if args.backend == "sqlite":
        path = Path("var/bench") / f"tiles-{args.size}.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{path.resolve()}"
    else:
        import psycopg

        name = f"robopass_bench_tiles_{args.size}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                (name,)).fetchone():
                conn.execute(f'CREATE DATABASE "{name}"')
        url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    t = time.perf_counter()
    build(url, args.size)
    built = time.perf_counter() - t
    rng = random.Random(args.size)
    result: dict[str, object] = {"serving": serving(url, args.size, rng),
                                 "reads_per_proof": reads_per_proof(url, args.size, rng)}
    if args.http:
        result["http"] = over_http(url, args.size, rng)
    dispose_engine(url)
    print(json.dumps({"benchmark": "ledger_tiles", "backend": args.backend, "size": args.size,
                      **result, "build_seconds_this_run": round(built, 1),
                      "targets": {"tile_p50_ms": 1.0, "tile_reads_per_proof": 5},
                      "cores": os.cpu_count(), "load_avg": os.getloadavg()[0],
                      "command": f"python bench/bench_tiles.py --size {args.size} "
                                 f"--backend {args.backend}" + (" --http" if args.http else "")}))


if __name__ == "__main__":
    main()
