"""Every endpoint has a body cap (SPEC §12): 413 with the error body, before the body is read;
``details`` and telemetry batches have size limits naming the field."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from robopass.bodycaps import DEFAULT_CAP, BodyCaps, cap_table
from robopass.config import Settings
from robopass.limits import MAX_DETAILS_BYTES, MAX_DETAILS_DEPTH, depth
from tests.utils.api import ApiClient

DOCS = Path(__file__).resolve().parents[1] / "docs" / "operations.md"


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        n = min(size, total - sent)
        sent += n
        yield b" " * n


def test_declared_length_over_the_cap_is_413_unread(client: ApiClient) -> None:
    maker = client.org("manufacturer")
    r = client.raw.post("/api/v1/incidents", content=b"x" * (200 * 1024),
                        headers={**maker.auth, "Content-Type": "application/json"})
    assert r.status_code == 413
    error = r.json()["error"]
    assert error["code"] == "payload_too_large" and error["field"] == "body"
    assert error["limit"] == 64 * 1024


def test_streamed_body_is_counted_and_stopped(client: ApiClient) -> None:
    maker = client.org("manufacturer")
    r = client.raw.post("/api/v1/incidents", content=_chunks(5 * 1024 * 1024),
                        headers={**maker.auth, "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    # an endpoint nobody listed gets the default cap
    r = client.raw.post("/api/v1/service-authorizations", content=_chunks(DEFAULT_CAP + 1),
                        headers={**maker.auth, "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["limit"] == DEFAULT_CAP


def test_details_are_limited_by_size_and_depth(client: ApiClient) -> None:
    maker, code = client.manufactured_unit()
    big = {"note": "x" * (MAX_DETAILS_BYTES + 1)}
    r = client.post(f"/api/v1/robots/{code}/events",
                    {"type": "firmware_updated", "details": {"firmware": "1", **big}}, maker)
    assert r.status_code == 422 and r.json()["error"]["field"] == "details", r.text
    deep: dict[str, object] = {"firmware": "1"}
    for _ in range(MAX_DETAILS_DEPTH + 2):
        deep = {"firmware": "1", "x": deep}
    r = client.post(f"/api/v1/robots/{code}/events", {"type": "firmware_updated",
                                                      "details": deep}, maker)
    assert r.status_code == 422 and r.json()["error"]["field"] == "details", r.text
    r = client.post("/api/v1/events", {"events": [
        {"code": code, "type": "firmware_updated", "details": {"firmware": "2"}},
        {"code": code, "type": "firmware_updated", "details": {"firmware": "3", **big}}]},
        maker)
    assert r.status_code == 422 and r.json()["error"]["field"] == "events[1].details", r.text
    ok = client.post(f"/api/v1/robots/{code}/events", {
        "type": "firmware_updated", "details": {"firmware": "1", "n": "x" * 1000}}, maker)
    assert ok.status_code == 201, ok.text


def test_telemetry_of_a_million_empty_objects_is_refused_whole(client: ApiClient) -> None:
    operator = client.org("operator")
    body = b"[" + b",".join([b"{}"] * 1_000_000) + b"]"
    r = client.raw.post("/api/v1/telemetry", content=body,
                        headers={**operator.auth, "Content-Type": "application/json"})
    assert r.status_code == 422, r.text[:300]
    assert r.json()["error"]["field"] == "body" and len(r.content) < 1000


def test_depth_counts_no_further_than_asked() -> None:
    assert depth(1, limit=3) == 0 and depth({"a": [1]}, limit=3) == 2
    nested: list[object] = []
    for _ in range(10_000):
        nested = [nested]
    assert depth(nested, limit=5) == 7


def test_the_cap_table_is_documented() -> None:
    text = DOCS.read_text()
    for cap in cap_table(Settings()):
        row = re.search(rf"\| `{cap.method} {re.escape(cap.path)}` \| ([^|]+) \|", text)
        assert row, f"{cap.method} {cap.path} is not in docs/operations.md's limits table"
    assert BodyCaps(lambda *a: None, caps=cap_table(Settings())).cap_for(  # type: ignore
        "POST", "/api/v1/robots/CN1/events") == 64 * 1024
