"""Benchmark: identity-code validation in process (SPEC §11, target >= 300,000 codes/s).

Validates 1,000,000 generated valid codes (100 prefixes x 10,000 sequences, shuffled) with
robopass.idcode.validate, best of 3 runs, and prints one JSON object. For reference it also
times python-stdnum's own iso7064.mod_37_36.is_valid (the check character alone) and
idcode.build_many (the issuance helper).

    python bench/bench_idcode.py [--count N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

try:
    from robopass import idcode
except ImportError:  # running from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from robopass import idcode

from stdnum.iso7064 import mod_37_36

TARGET = 300_000
COMPONENT_ALPHABET = "".join(c for c in idcode.ALPHABET if c not in "IOQ")


def generate(count: int, rng: random.Random) -> list[str]:
    per_prefix = max(1, count // 100)
    countries = sorted(idcode.COUNTRIES)
    codes: list[str] = []
    while len(codes) < count:
        head = idcode.prefix(
            country=rng.choice(countries),
            company="".join(rng.choices(COMPONENT_ALPHABET, k=4)),
            model="".join(rng.choices(COMPONENT_ALPHABET, k=6)),
            year=rng.randint(2024, 2035),
            month=rng.randint(1, 12),
            plant="".join(rng.choices(COMPONENT_ALPHABET, k=2)),
            intelligence_level=rng.randint(0, 5),
            hardware_class=rng.choice("BWUSX"),
        )
        start = rng.randint(1, 1_000_000)
        codes.extend(idcode.build_many(head, range(start, start + per_prefix)))
    del codes[count:]
    rng.shuffle(codes)
    return codes


def best_rate(func: Callable[[str], object], codes: list[str], runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        for code in codes:
            func(code)
        best = min(best, time.perf_counter() - start)
    return len(codes) / best


def build_rate(count: int, runs: int = 3) -> float:
    head = idcode.prefix(
        country="CN",
        company="H7K2",
        model="A3B5C7",
        year=2026,
        month=3,
        plant="P1",
        intelligence_level=3,
        hardware_class="B",
    )
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        idcode.build_many(head, range(1, count + 1))
        best = min(best, time.perf_counter() - start)
    return count / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]  # other work on the machine skews the figure
    codes = generate(args.count, random.Random(2026))
    assert all(idcode.is_valid(c) for c in codes[:1000])
    validate_rate = best_rate(idcode.validate, codes)
    stdnum_rate = best_rate(mod_37_36.is_valid, codes[: max(1, len(codes) // 5)])
    command = "python bench/bench_idcode.py"
    if args.count != 1_000_000:
        command += f" --count {args.count}"
    print(
        json.dumps(
            {
                "benchmark": "code_validation",
                "codes_per_s": round(validate_rate),
                "target": TARGET,
                "cores": os.cpu_count(),
                "command": command,
                "codes": len(codes),
                "runs": 3,
                "reference_stdnum_mod_37_36_is_valid_per_s": round(stdnum_rate),
                "build_many_codes_per_s": round(build_rate(len(codes))),
                "python": sys.version.split()[0],
                "loadavg_1m_before": round(load_before, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
