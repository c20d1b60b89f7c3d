"""Helpers for the signed-in web pages' tests: a browser-like client per organisation."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


def browser_for(app: Any, key: str | None = None, *, base_url: str = "http://testserver"
                ) -> TestClient:
    """A cookie-keeping client, signed in with ``key`` when given."""
    c = TestClient(app, base_url=base_url, follow_redirects=False)
    if key is not None:
        r = sign_in(c, key)
        assert r.status_code == 303, r.text
    return c


def sign_in(c: TestClient, key: str, next_: str = "") -> Any:
    page = c.get("/app/login")
    token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    return c.post("/app/login", data={"api_key": key, "csrf_token": token, "next": next_})


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no form with a CSRF token"
    return match.group(1)
