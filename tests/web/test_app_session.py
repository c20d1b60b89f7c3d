"""Sign-in, session cookie, expiry, revocation, CSRF, sign-out (signed-in web pages)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select
from tests.utils.api import ApiClient, model_body
from tests.web.app_helpers import browser_for, csrf_of, sign_in

from robopass.auth.models import ApiKey
from robopass.db import reading
from robopass.web.app import session as web_session


def app_of(client: ApiClient):  # type: ignore[no-untyped-def]
    return client.raw.app


def test_root_lands_on_sign_in_then_on_the_home_page(sqlite_client: ApiClient) -> None:
    c = browser_for(app_of(sqlite_client))
    r = c.get("/")
    assert r.status_code == 303 and r.headers["location"] == "/app/login"
    r = c.get("/app/dashboard")
    assert r.status_code == 303 and r.headers["location"].startswith("/app/login?next=")
    r = sign_in(c, sqlite_client.registry.regulator_key)
    assert r.status_code == 303 and r.headers["location"] == "/app/dashboard"
    cookie = r.headers["set-cookie"]
    assert "robopass_session=" in cookie and "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower() and "Secure" not in cookie
    assert c.get("/").headers["location"] == "/app/dashboard"
    page = c.get("/app/dashboard")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    maker = sqlite_client.org("manufacturer")
    m = browser_for(app_of(sqlite_client))
    assert sign_in(m, maker.key).headers["location"] == "/app/portal"
    assert m.get("/").headers["location"] == "/app/portal"


def test_next_parameter_is_kept_but_only_inside_the_app(sqlite_client: ApiClient) -> None:
    c = browser_for(app_of(sqlite_client))
    key = sqlite_client.registry.regulator_key
    assert sign_in(c, key, "/app/supply-chain").headers["location"] == "/app/supply-chain"
    c = browser_for(app_of(sqlite_client))
    assert sign_in(c, key, "https://evil.example/").headers["location"] == "/app/dashboard"
    c = browser_for(app_of(sqlite_client))
    assert sign_in(c, key, "//evil.example/app/").headers["location"] == "/app/dashboard"


@pytest.mark.parametrize("base, forced", [("https://testserver", False),
                                          ("http://testserver", True)])
def test_cookie_is_secure_over_https_or_when_configured(sqlite_client: ApiClient, base: str,
                                                        forced: bool,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    if forced:
        monkeypatch.setenv("ROBOPASS_SESSION_SECURE", "1")
    c = browser_for(app_of(sqlite_client), base_url=base)
    page = c.get("/app/login")
    assert "Secure" in page.headers["set-cookie"]
    token = csrf_of(page.text)
    r = c.post("/app/login", data={"api_key": sqlite_client.registry.regulator_key,
                                   "csrf_token": token},
               headers={"Cookie": f"{web_session.LOGIN_CSRF_COOKIE}={token}"})
    assert r.status_code == 303
    assert "Secure" in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]


def test_bad_key_and_forged_login_form_are_refused(sqlite_client: ApiClient) -> None:
    c = browser_for(app_of(sqlite_client))
    r = sign_in(c, "rp_nothing_here")
    assert r.status_code == 401 and 'data-reason="bad_key"' in r.text
    assert "robopass_session" not in r.headers.get("set-cookie", "")
    c.get("/app/login")
    r = c.post("/app/login", data={"api_key": sqlite_client.registry.regulator_key,
                                   "csrf_token": "forged"})
    assert r.status_code == 403 and "robopass_session" not in r.headers.get("set-cookie", "")
    fresh = browser_for(app_of(sqlite_client))  # no login cookie at all
    r = fresh.post("/app/login", data={"api_key": sqlite_client.registry.regulator_key,
                                       "csrf_token": ""})
    assert r.status_code == 403


def _key_row(url: str, key: str) -> ApiKey:
    with reading(url) as s:
        row = s.scalar(select(ApiKey).where(ApiKey.prefix == key.split("_")[1]))
        assert row is not None
        s.expunge(row)
        return row


def test_expired_tampered_and_revoked_sessions_end(sqlite_client: ApiClient) -> None:
    reg = sqlite_client.registry
    row = _key_row(reg.url, reg.regulator_key)
    app = app_of(sqlite_client)
    old, _exp = web_session.issue(row, now=time.time() - web_session.DEFAULT_TTL - 5)
    c = browser_for(app)
    c.cookies.set(web_session.COOKIE, old)
    r = c.get("/app/dashboard")
    assert r.status_code == 303 and "reason=expired" in r.headers["location"]
    assert "Regulator" not in r.text
    r = c.post("/app/models/x/decide", data={"action": "approve", "csrf_token": "x"})
    assert r.status_code == 303 and r.headers["location"].startswith("/app/login?next=%2Fapp%2F&")
    good, _exp = web_session.issue(row)
    key_id, exp, nonce, sig = good.split(".")
    for forged in (f"{key_id}.{int(exp) + 99999}.{nonce}.{sig}",  # extended expiry
                   f"{key_id}.{exp}.{nonce}.{sig[:-2]}AA", "garbage", "a.b.c.d"):
        c = browser_for(app)
        c.cookies.set(web_session.COOKIE, forged)
        r = c.get("/app/dashboard")
        assert r.status_code == 303 and r.headers["location"].startswith("/app/login"), forged
    # revoking the API key ends the sessions made from it
    maker = sqlite_client.org("manufacturer")
    m = browser_for(app, maker.key)
    assert m.get("/app/portal").status_code == 200
    key_id = _key_row(reg.url, maker.key).id
    r = sqlite_client.raw.delete(f"/api/v1/organizations/{maker.id}/keys/{key_id}",
                                 headers=sqlite_client.regulator.auth)
    assert r.status_code == 204, r.text
    r = m.get("/app/portal")
    assert r.status_code == 303 and "reason=revoked" in r.headers["location"]


def test_short_ttl_setting(sqlite_client: ApiClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROBOPASS_SESSION_TTL", "60")
    c = browser_for(app_of(sqlite_client))
    r = sign_in(c, sqlite_client.registry.regulator_key)
    assert "Max-Age=60" in r.headers["set-cookie"] or "Max-Age=59" in r.headers["set-cookie"]


def test_forged_csrf_token_writes_nothing(sqlite_client: ApiClient) -> None:
    maker = sqlite_client.org("manufacturer")
    model_id = sqlite_client.post("/api/v1/models", model_body(), maker).json()["id"]
    sqlite_client.evaluate(model_id)  # approval needs an accredited lab's evaluation
    app = app_of(sqlite_client)
    c = browser_for(app, sqlite_client.registry.regulator_key)
    real = csrf_of(c.get("/app/dashboard").text)
    other = browser_for(app, sqlite_client.registry.regulator_key)
    other_token = csrf_of(other.get("/app/dashboard").text)
    assert other_token != real  # tokens are per session
    for token in ("", "forged", other_token):
        r = c.post(f"/app/models/{model_id}/decide", data={"action": "approve",
                                                           "csrf_token": token})
        assert r.status_code == 403, token
    assert sqlite_client.get(f"/api/v1/models/{model_id}", maker).json()["status"] == "submitted"
    r = c.post(f"/app/models/{model_id}/decide", data={"action": "approve", "csrf_token": real})
    assert r.status_code == 303
    assert sqlite_client.get(f"/api/v1/models/{model_id}", maker).json()["status"] == "approved"


def test_sign_out(sqlite_client: ApiClient) -> None:
    c = browser_for(app_of(sqlite_client), sqlite_client.registry.regulator_key)
    token = csrf_of(c.get("/app/dashboard").text)
    assert c.post("/app/logout", data={"csrf_token": "forged"}).status_code == 403
    r = c.post("/app/logout", data={"csrf_token": token})
    assert r.status_code == 303 and "reason=signed_out" in r.headers["location"]
    assert 'robopass_session=""' in r.headers["set-cookie"] or "Max-Age=0" in \
        r.headers["set-cookie"]
    c.cookies.clear()
    assert c.get("/app/dashboard").status_code == 303


def test_server_secret_signs_everyone_out_when_changed(sqlite_client: ApiClient,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROBOPASS_SESSION_SECRET", "one")
    c = browser_for(app_of(sqlite_client), sqlite_client.registry.regulator_key)
    assert c.get("/app/dashboard").status_code == 200
    monkeypatch.setenv("ROBOPASS_SESSION_SECRET", "two")
    r = c.get("/app/dashboard")
    assert r.status_code == 303 and "reason=invalid" in r.headers["location"]
