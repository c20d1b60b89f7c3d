"""A telemetry body of many short tokens is refused before it is parsed (issue #12 item 9):
10⁷ short strings (or numbers, or a reading whose ``fault_codes`` holds millions of them)
in a body under the 64 MB cap would take gigabytes as Python objects. A real server answers
422 with a short error body and stays under 500 MB peak RSS (``VmHWM``, as
tests/test_hostile_bodies.py measures)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Registry
from tests.utils.api import make_uscc
from tests.utils.server import server_process

LIMIT_MB = 500


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def _bodies() -> Iterator[bytes]:
    """About 60 MB each, built one at a time."""
    yield b"[" + b'"ab",' * 12_000_000 + b'"ab"]'
    yield b"[" + b"1.5," * 15_000_000 + b"1.5]"
    yield (b'[{"code":"CN","at":"2026-05-01T08:00:00Z","metrics":{"fault_codes":['
           + b'"E1",' * 12_000_000 + b'"E1"]}}]')
    yield b"12\n" * 20_000_000  # NDJSON lines


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_many_short_tokens_are_refused_before_parsing_and_memory_stays_bounded(
        registry: Registry) -> None:
    with server_process(registry.url) as (base, proc), \
            httpx.Client(base_url=base, timeout=300) as http:
        regulator = {"Authorization": f"Bearer {registry.regulator_key}"}
        r = http.post("/api/v1/organizations", json={
            "name": f"Hostile telemetry {make_uscc()[-6:]}", "roles": ["operator"],
            "country": "CN", "uscc": make_uscc()}, headers=regulator)
        assert r.status_code == 201, r.text
        operator = {"Authorization": f"Bearer {r.json()['api_key']}",
                    "Content-Type": "application/json"}
        for body in _bodies():
            r = http.post("/api/v1/telemetry", content=body, headers=operator)
            del body
            assert r.status_code == 422 and len(r.content) < 2000, r.text[:300]
            assert r.json()["error"]["code"] == "malformed_body"
        assert http.get("/healthz").status_code == 200
        peak = _peak_rss_mb(proc.pid)
        print(f"peak RSS {peak:.0f} MB")
        assert peak < LIMIT_MB, f"peak RSS {peak:.0f} MB"
