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


def test_a_junk_key_earns_no_exemption_a_valid_key_its_own_bucket(
        sqlite_registry: Registry) -> None:
    app = create_app(Settings(database_url=sqlite_registry.url, public_rate_limit=1,
                              keyed_rate_limit=3))
    with TestClient(app) as client:
        junk = {"Authorization": "Bearer junk"}
        fake = {"Authorization": "Bearer rp_abcdef012345_notarealsecret"}
        codes = [client.get("/api/v1/verify/CN-XYZ", headers=h).status_code
                 for h in (junk, fake, junk, fake, junk, fake)]
        assert codes[:4] == [200] * 4 and codes[-1] == 429  # one shared address bucket
        valid = {"Authorization": f"Bearer {sqlite_registry.regulator_key}"}
        keyed = [client.get("/api/v1/verify/CN-XYZ", headers=valid).status_code
                 for _ in range(20)]
        assert keyed[:12] == [200] * 12 and keyed[-1] == 429  # its own, larger bucket
        assert client.get("/api/v1/verify/CN-XYZ").status_code == 429  # address still empty


def test_the_public_page_answers_429_as_html(sqlite_registry: Registry) -> None:
    app = create_app(Settings(database_url=sqlite_registry.url, public_rate_limit=1))
    with TestClient(app) as client:
        answers = [client.get("/r/CN-XYZ") for _ in range(6)]
        limited = answers[-1]
        assert limited.status_code == 429 and "retry-after" in limited.headers
        assert limited.headers["content-type"].startswith("text/html")
        assert "Too many requests" in limited.text and "请求过于频繁" in limited.text


def test_failed_sign_ins_are_throttled_per_address(sqlite_registry: Registry) -> None:
    app = create_app(Settings(database_url=sqlite_registry.url, sign_in_attempts_per_minute=3))
    with TestClient(app) as client:
        statuses = []
        for _ in range(5):
            client.get("/app/login")
            form = {"csrf_token": client.cookies.get("robopass_login_csrf"),
                    "api_key": "rp_nothere_wrongwrongwrong"}
            statuses.append(client.post("/app/login", data=form,
                                        follow_redirects=False).status_code)
        assert statuses[:3] == [401] * 3 and statuses[3:] == [429, 429]
        client.get("/app/login")
        right = {"csrf_token": client.cookies.get("robopass_login_csrf"),
                 "api_key": sqlite_registry.regulator_key}
        refused = client.post("/app/login", data=right, follow_redirects=False)
        assert refused.status_code == 429 and refused.headers["content-type"].startswith(
            "text/html")


def test_successful_sign_ins_cost_nothing(sqlite_registry: Registry) -> None:
    app = create_app(Settings(database_url=sqlite_registry.url, sign_in_attempts_per_minute=2))
    with TestClient(app) as client:
        for _ in range(5):
            client.cookies.clear()
            client.get("/app/login")
            form = {"csrf_token": client.cookies.get("robopass_login_csrf"),
                    "api_key": sqlite_registry.regulator_key}
            assert client.post("/app/login", data=form,
                               follow_redirects=False).status_code == 303


def test_every_answer_says_nosniff(sqlite_registry: Registry) -> None:
    # one public request per 100 s (a burst of 1): the last verify is the limiter's answer
    # however slowly the machine runs these requests (at 1/s a slow CI run refilled a token)
    app = create_app(Settings(database_url=sqlite_registry.url, public_rate_limit=0.01))
    with TestClient(app) as client:
        for path in ("/healthz", "/api/v1/verify/CN-XYZ", "/openapi.json", "/api/v1/models",
                     "/r/CN-XYZ", "/api/v1/verify/CN-XYZ", "/api/v1/verify/CN-XYZ",
                     "/api/v1/verify/CN-XYZ", "/api/v1/verify/CN-XYZ"):
            r = client.get(path)
            assert r.headers.get("x-content-type-options") == "nosniff", (path, r.status_code)
        assert r.status_code == 429  # the limiter's own answer too
