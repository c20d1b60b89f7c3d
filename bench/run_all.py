"""Run every benchmark with its default arguments and print one JSON list of their results.

    python bench/run_all.py [--quick]

Each benchmark prints one JSON object (figure, target, cores, command). ``--quick`` uses smaller
sizes for a smoke run; the numbers in docs/performance.md come from the full run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

FULL = [
    ["bench_idcode.py"],
    ["bench_merkle_pure.py"],
    ["bench_issuance.py", "--backend", "sqlite"],
    ["bench_issuance.py", "--backend", "postgresql"],
    ["bench_events.py", "--backend", "sqlite"],
    ["bench_events.py", "--backend", "postgresql"],
    ["bench_ledger.py"],
]
QUICK = [
    ["bench_idcode.py"],
    ["bench_issuance.py", "--count", "100000"],
    ["bench_events.py", "--events", "20000"],
    ["bench_ledger.py", "--sizes", "100000"],
]


def main() -> None:
    plan = QUICK if "--quick" in sys.argv else FULL
    extra = sorted(p.name for p in HERE.glob("bench_*.py")
                   if p.name not in {args[0] for args in FULL})
    if "--quick" not in sys.argv:
        plan = plan + [[name] for name in extra]
    results = []
    for args in plan:
        proc = subprocess.run([sys.executable, str(HERE / args[0]), *args[1:]], cwd=HERE.parent,
                              capture_output=True, text=True)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if proc.returncode != 0 or not lines:
            results.append({"benchmark": args[0], "error": proc.stderr[-2000:]})
        else:
            results.extend(json.loads(line) for line in lines)
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
