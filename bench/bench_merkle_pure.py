"""Benchmark the pure ledger core (no database): appending leaves and assembling proofs.

Run from the repository root:  PYTHONPATH=src python bench/bench_merkle_pure.py [--leaves N]

Prints one JSON object: append throughput for one batch of N leaves (best of --repeat runs),
and the time to work out which nodes an inclusion / consistency proof needs and assemble it from
an in-memory dict of nodes, at tree size 10,000,000 (the dict holds random bytes for the nodes
the sampled proofs need: assembly cost does not depend on the values). Verification time of the
assembled proof is reported too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shlex
import statistics
import sys
import time

from robopass.ledger.merkle import (
    append_leaves,
    consistency_proof,
    consistency_proof_keys,
    frontier_keys,
    inclusion_proof,
    inclusion_proof_keys,
    root_from_inclusion_proof,
    verify_inclusion,
)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def bench_append(leaves: int, repeat: int, start: int) -> dict[str, float]:
    rng = random.Random(1)
    leaf_hashes = [rng.randbytes(32) for _ in range(leaves)]
    frontier = {key: rng.randbytes(32) for key in frontier_keys(start)}
    best = float("inf")
    nodes = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        new = append_leaves(start, frontier, leaf_hashes)
        best = min(best, time.perf_counter() - t0)
        nodes = len(new)
        del new
    return {"seconds": round(best, 4), "leaves_per_s": round(leaves / best), "nodes": nodes}


def _percentiles(samples: list[float]) -> dict[str, float]:
    samples = sorted(samples)
    return {
        "median_us": round(statistics.median(samples) * 1e6, 2),
        "p99_us": round(samples[int(len(samples) * 0.99) - 1] * 1e6, 2),
        "max_us": round(samples[-1] * 1e6, 2),
    }


def bench_proofs(size: int, samples: int) -> dict[str, object]:
    rng = random.Random(2)
    indexes = [rng.randrange(size) for _ in range(samples)]
    firsts = [rng.randint(1, size) for _ in range(samples)]
    # The store: random values for every node the sampled proofs read.
    nodes: dict[tuple[int, int], bytes] = {}
    for index in indexes:
        for key in inclusion_proof_keys(index, size) | {(0, index)}:
            nodes.setdefault(key, rng.randbytes(32))
    for first in firsts:
        for key in consistency_proof_keys(first, size):
            nodes.setdefault(key, rng.randbytes(32))

    inclusion, consistency, verify = [], [], []
    hashes = 0
    for index, first in zip(indexes, firsts, strict=True):
        t0 = time.perf_counter()
        keys = inclusion_proof_keys(index, size)
        fetched = {key: nodes[key] for key in keys}  # what storage would return
        proof = inclusion_proof(index, size, fetched)
        t1 = time.perf_counter()
        keys = consistency_proof_keys(first, size)
        consistency_proof(first, size, {key: nodes[key] for key in keys})
        t2 = time.perf_counter()
        inclusion.append(t1 - t0)
        consistency.append(t2 - t1)
        hashes += len(proof)
        root = root_from_inclusion_proof(index, size, nodes[(0, index)], proof)
        t3 = time.perf_counter()
        verify_inclusion(index, size, nodes[(0, index)], proof, root)
        verify.append(time.perf_counter() - t3)
    return {
        "tree_size": size,
        "samples": samples,
        "mean_proof_hashes": round(hashes / samples, 1),
        "inclusion_proof_assembly": _percentiles(inclusion),
        "consistency_proof_assembly": _percentiles(consistency),
        "inclusion_verify": _percentiles(verify),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--start", type=int, default=0, help="tree size before the append")
    parser.add_argument("--proof-size", type=int, default=10_000_000)
    parser.add_argument("--proof-samples", type=int, default=20_000)
    args = parser.parse_args()

    append = bench_append(args.leaves, args.repeat, args.start)
    proofs = bench_proofs(args.proof_size, args.proof_samples)
    print(
        json.dumps(
            {
                "benchmark": "merkle_append_pure",
                "leaves": args.leaves,
                "start_size": args.start,
                "leaves_per_s": append["leaves_per_s"],
                "append_seconds": append["seconds"],
                "nodes_written": append["nodes"],
                "proofs": proofs,
                "cores": _cores(),
                "python": platform.python_version(),
                "command": shlex.join([sys.executable, *sys.argv]),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
