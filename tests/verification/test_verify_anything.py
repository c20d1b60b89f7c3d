"""``GET /api/v1/verify/{anything}`` answers 200 for any path segment, as ``/r/`` does (SPEC
§12), with the fast path on and off."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from robopass.api import create_app
from robopass.config import Settings
from tests.conftest import Registry

ODD = ["%2F", "a%2Fb", "%2F%2F", "..%2F..%2Fetc", "x/y", "%00", "%25", "%20", "-", "%F0%9F%A4%96",
       "CN" + "A" * 200]


@pytest.mark.parametrize("fast", [True, False])
def test_any_segment_is_200(registry: Registry, fast: bool) -> None:
    app = create_app(Settings(database_url=registry.url, public_fast_path=fast,
                              public_rate_limit=0))
    with TestClient(app) as client:
        for segment in ODD:
            r = client.get(f"/api/v1/verify/{segment}")
            assert r.status_code == 200, (segment, r.status_code, r.text[:200])
            body = r.json()
            assert body["format_valid"] is False and body["registered"] is False
            page = client.get(f"/r/{segment}")
            assert page.status_code == 200 and page.headers["content-type"].startswith(
                "text/html")
