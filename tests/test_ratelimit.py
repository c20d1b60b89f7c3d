from __future__ import annotations

from fastapi.testclient import TestClient

from robopass.api import create_app
from robopass.config import Settings
from robopass.ratelimit import TokenBuckets, is_public
from tests.conftest import Registry


def test_token_bucket_refills() -> None:
    buckets = TokenBuckets(rate=2, burst=3)
    assert [buckets.take("a", now=0) for _ in range(3)] == [0, 0, 0]
    assert buckets.take("a", now=0) == 0.5
    assert buckets.take("b", now=0) == 0  # per client
    assert buckets.take("a", now=1.0) == 0  # refilled


def test_public_paths() -> None:
    assert is_public("/r/CN123") and is_public("/api/v1/verify/x")
    assert is_public("/api/v1/robots/CN1/passport") and is_public("/api/v1/ledger/head")
    assert not is_public("/api/v1/robots/CN1/events") and not is_public("/api/v1/models")


def test_public_endpoints_are_limited_authenticated_are_not(sqlite_registry: Registry) -> None:
    app = create_app(Settings(database_url=sqlite_registry.url, public_rate_limit=1))
    with TestClient(app) as client:
        codes = [client.get("/api/v1/verify/CN-XYZ").status_code for _ in range(6)]
        assert codes[:4] == [200] * 4 and codes[-1] == 429
        r = client.get("/api/v1/verify/CN-XYZ")
        assert r.json()["error"]["code"] == "rate_limited" and "retry-after" in r.headers
        auth = {"Authorization": f"Bearer {sqlite_registry.regulator_key}"}
        assert all(client.get("/api/v1/ledger/head", headers=auth).status_code == 200
                   for _ in range(10))
