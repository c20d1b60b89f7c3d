"""Browser sessions for the regulator dashboard and the organisation portal.

Sign-in takes an organisation's API key once; the browser then holds a signed session cookie,
never the key. The cookie is ``<key id>.<expiry>.<nonce>.<signature>`` where the signature is
HMAC-SHA256 keyed by a secret derived from the API key's stored hash (a server-side secret the
key holder never sees): every worker process can check it without shared state, and revoking or
rotating the API key ends every session made from it.

* ``HttpOnly``, ``SameSite=Lax``, ``Path=/``; ``Secure`` when the request came over https or
  ``ROBOPASS_SESSION_SECURE=1``.
* Lifetime ``ROBOPASS_SESSION_TTL`` seconds (default 8 hours), checked on every request.
* Forms carry a CSRF token, HMAC of the session nonce under the same secret: a forged or
  foreign token is refused with 403 and nothing is written. The sign-in form itself is
  protected by a double-submit cookie.
* Sign-out deletes the cookie. (Being stateless, a copied cookie stays valid until it expires
  or the key is revoked: revoke the key to end all its sessions at once.)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from robopass.auth.models import ApiKey
from robopass.auth.service import Actor
from robopass.config import get_settings
from robopass.db import read_session
from robopass.organizations.models import Organization

COOKIE = "robopass_session"
LOGIN_CSRF_COOKIE = "robopass_login_csrf"
DEFAULT_TTL = 8 * 3600


def ttl() -> int:
    return get_settings().session.ttl


def secure_for(request: Request) -> bool:
    forced = get_settings().session.secure
    return forced or request.url.scheme == "https"


def _secret(key_hash: str) -> bytes:
    """Signing secret of one key's sessions. ``ROBOPASS_SESSION_SECRET`` (optional, the same in
    every worker) is mixed in so that read access to the database alone cannot forge one."""
    server = get_settings().session.secret.encode()
    return hashlib.sha256(b"robopass-web-session\0" + server + b"\0" + key_hash.encode()
                          ).digest()


def _sign(secret: bytes, payload: str) -> str:
    mac = hmac.new(secret, payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


@dataclass(frozen=True)
class WebSession:
    actor: Actor
    key_id: str
    expires: int
    nonce: str
    csrf: str

    def csrf_ok(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf, str(token))


def issue(key: ApiKey, *, now: float | None = None) -> tuple[str, int]:
    """A new cookie value for this API key and its expiry (epoch seconds)."""
    expires = int((now or time.time()) + ttl())
    payload = f"{key.id}.{expires}.{secrets.token_urlsafe(16)}"
    return f"{payload}.{_sign(_secret(key.key_hash), payload)}", expires


def parse(session: Session, value: str | None, *, now: float | None = None
          ) -> tuple[WebSession | None, str | None]:
    """(session, None) or (None, why): ``missing``, ``invalid``, ``expired``, ``revoked``."""
    if not value:
        return None, "missing"
    parts = value.split(".")
    if len(parts) != 4 or len(value) > 300:
        return None, "invalid"
    key_id, expires_s, nonce, sig = parts
    if not expires_s.isdigit():
        return None, "invalid"
    row = session.execute(select(ApiKey, Organization).join(
        Organization, Organization.id == ApiKey.organization_id).where(ApiKey.id == key_id)
    ).first()
    if row is None:
        return None, "invalid"
    key, org = row
    secret = _secret(key.key_hash)
    if not hmac.compare_digest(_sign(secret, f"{key_id}.{expires_s}.{nonce}"), sig):
        return None, "invalid"
    if key.revoked_at is not None:
        return None, "revoked"
    if int(expires_s) <= (now or time.time()):
        return None, "expired"
    csrf = _sign(secret, f"csrf.{nonce}")
    return WebSession(actor=Actor.of(org, key_id=key.id), key_id=key.id,
                      expires=int(expires_s), nonce=nonce, csrf=csrf), None


def current(request: Request) -> tuple[WebSession | None, str | None]:
    cached = getattr(request.state, "web_session", None)
    if cached is not None:
        return cached
    with read_session(request.app.state.settings.database_url) as session:
        result = parse(session, request.cookies.get(COOKIE))
    request.state.web_session = result
    return result


def set_cookie(response: Response, request: Request, value: str, expires: int) -> None:
    response.set_cookie(COOKIE, value, max_age=max(1, expires - int(time.time())), path="/",
                        httponly=True, secure=secure_for(request), samesite="lax")


def clear_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, secure=secure_for(request),
                           samesite="lax")
