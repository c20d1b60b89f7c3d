"""A real server stays under 500 MB RSS (SPEC §11, §12) when sent the hostile bodies of issue
#12: 3 MB of 10⁶ empty objects to telemetry, a 200 MB incident body (declared and streamed), a
50 MB ``details``. Peak RSS is the kernel's high-water mark (``VmHWM``) of the server process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Registry
from tests.utils.api import evaluation_body, make_uscc, model_body
from tests.utils.server import server_process

LIMIT_MB = 500
MB = 1024 * 1024


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def _stream(total: int, piece: bytes = b" " * (256 * 1024)) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield piece
        sent += len(piece)


def _org(http: httpx.Client, regulator: dict[str, str], *roles: str) -> dict[str, str]:
    r = http.post("/api/v1/organizations", json={
        "name": f"Hostile {'/'.join(roles)} {make_uscc()[-6:]}", "roles": list(roles),
        "country": "CN", "uscc": make_uscc()}, headers=regulator)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['api_key']}"}


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_peak_rss_stays_bounded_under_hostile_bodies(registry: Registry) -> None:
    with server_process(registry.url) as (base, proc), \
            httpx.Client(base_url=base, timeout=120) as http:
        regulator = {"Authorization": f"Bearer {registry.regulator_key}"}
        operator = _org(http, regulator, "operator")
        maker = _org(http, regulator, "manufacturer")
        model = http.post("/api/v1/models", json=model_body(), headers=maker).json()["id"]
        r = http.post("/api/v1/organizations", json={
            "name": f"Hostile lab {make_uscc()[-6:]}", "roles": ["testing_lab"],
            "country": "CN", "uscc": make_uscc()}, headers=regulator)
        lab_id, lab = r.json()["id"], {"Authorization": f"Bearer {r.json()['api_key']}"}
        assert http.post(f"/api/v1/organizations/{lab_id}/accreditation", json={
            "scopes": ["intelligence", "safety"], "valid_until": "2030-12-31"},
            headers=regulator).status_code == 200
        assert http.post(f"/api/v1/models/{model}/evaluations", json=evaluation_body(),
                         headers=lab).status_code == 201
        assert http.post(f"/api/v1/models/{model}/approve", headers=regulator).status_code \
            in (200, 201)
        codes = http.post(f"/api/v1/models/{model}/codes", json={
            "count": 1, "plant": "A1", "production_month": "2026-03"}, headers=maker).json()
        code = codes["codes"][0]
        baseline = _peak_rss_mb(proc.pid)

        empty = b"[" + b",".join([b"{}"] * 1_000_000) + b"]"
        r = http.post("/api/v1/telemetry", content=empty,
                      headers={**operator, "Content-Type": "application/json"})
        assert r.status_code == 422 and len(r.content) < 2000, r.text[:300]

        r = http.post("/api/v1/incidents", content=_stream(200 * MB), headers={
            **maker, "Content-Type": "application/json", "Content-Length": str(200 * MB)})
        assert r.status_code == 413, r.text[:300]
        try:  # chunked, no length: refused after the cap; the server may close mid-upload
            r = http.post("/api/v1/incidents", content=_stream(200 * MB),
                          headers={**maker, "Content-Type": "application/json"})
            assert r.status_code == 413
        except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
            pass

        details = b'{"type":"firmware_updated","details":{"firmware":"1","blob":"' \
            + b"x" * (50 * MB) + b'"}}'
        r = http.post(f"/api/v1/robots/{code}/events", content=details,
                      headers={**maker, "Content-Type": "application/json"})
        assert r.status_code == 413
        batch = b'{"events":[{"code":"' + code.encode() + b'","type":"firmware_updated",' \
            b'"details":{"firmware":"1","blob":"' + b"x" * (30 * MB) + b'"}}]}'
        r = http.post("/api/v1/events", content=batch,
                      headers={**maker, "Content-Type": "application/json"})
        assert r.status_code == 422 and r.json()["error"]["field"] == "events[0].details"

        assert http.get("/healthz").status_code == 200
        peak = _peak_rss_mb(proc.pid)
        print(f"peak RSS {peak:.0f} MB (baseline {baseline:.0f} MB)")
        assert peak < LIMIT_MB, f"peak RSS {peak:.0f} MB"
