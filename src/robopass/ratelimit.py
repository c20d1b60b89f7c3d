"""Rate limits (SPEC §12): public endpoints per client address, per valid key, and sign-in.

A pure ASGI middleware (no per-request task or body buffering):

* **Public paths** (the verification page and API, labels, passports, the ledger, the JWKS):
  a token bucket per client address, whatever headers the request carries. A request that
  carries a *valid* API key draws instead from that key's own, larger bucket
  (``keyed_rate_limit``); an ``Authorization`` header that is malformed, unknown or revoked
  earns no exemption. Key validity is looked up once (one indexed query, in a worker thread)
  and remembered for :data:`KEY_CACHE_SECONDS` — revoking a key ends its exemption within
  that time; authentication itself is unchanged and happens in the route on every request.
* **Sign-in** (``POST /app/login``): each failed attempt (the page answers 401 or 403) takes a
  token from the address's sign-in bucket; with none left the attempt is refused before the key
  is even looked at. Successful sign-ins cost nothing.

Buckets live in the process: with several server workers each keeps its own, so the effective
limit is ``rate × workers`` (document that when sizing). Over a limit: ``429`` with
``Retry-After``; the usual JSON error body on the API, an HTML page on ``/r/`` and the sign-in
page (a person is reading those).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio
import orjson

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PUBLIC_PREFIXES = ("/r/", "/api/v1/verify/", "/api/v1/ledger/", "/.well-known/")
PUBLIC_SUFFIXES = ("/label.svg", "/label.png", "/passport")
SIGN_IN_PATH = "/app/login"
MAX_CLIENTS = 100_000
KEY_CACHE_SECONDS = 30.0
MAX_CACHED_KEYS = 10_000

_PAGE_429 = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>请求过于频繁 · Too many requests</title></head>
<body><main>
<h1>请求过于频繁</h1><p>请在 {wait} 秒后重试。</p>
<h1 lang="en">Too many requests</h1><p lang="en">Please try again in {wait} seconds.</p>
</main></body></html>
"""


def is_public(path: str) -> bool:
    return path.startswith(PUBLIC_PREFIXES) or (
        path.startswith("/api/v1/robots/") and path.endswith(PUBLIC_SUFFIXES))


class TokenBuckets:
    """``rate`` tokens per second, at most ``burst`` stored, per key; least recently seen keys
    are forgotten past MAX_CLIENTS."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def _refilled(self, key: str, now: float) -> float:
        tokens, last = self._buckets.pop(key, (self.burst, now))
        return min(self.burst, tokens + (now - last) * self.rate)

    def _store(self, key: str, tokens: float, now: float) -> None:
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > MAX_CLIENTS:
            self._buckets.popitem(last=False)

    def take(self, key: str, now: float | None = None) -> float:
        """Take one token; returns 0 when allowed, else the seconds until one is available."""
        now = time.monotonic() if now is None else now
        tokens = self._refilled(key, now)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        self._store(key, tokens, now)
        return wait

    def wait(self, key: str, now: float | None = None) -> float:
        """Seconds until a token is available (0: one is), taking nothing."""
        now = time.monotonic() if now is None else now
        tokens = self._refilled(key, now)
        self._store(key, tokens, now)
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate


class KeyValidity:
    """Is this bearer key a valid (known, unrevoked) API key? Answers cached for a while, keyed
    by the key's hash (the key itself is not kept)."""

    def __init__(self, database_url: str, ttl: float = KEY_CACHE_SECONDS) -> None:
        self.url = database_url
        self.ttl = ttl
        self._known: OrderedDict[str, tuple[str | None, float]] = OrderedDict()

    def _lookup(self, key: str) -> str | None:
        from robopass.auth import service as auth_service
        from robopass.db import reading
        from robopass.errors import Unauthorized

        try:
            with reading(self.url) as session:
                return auth_service.authenticate(session, key).key_id or ""
        except Unauthorized:
            return None

    async def key_id(self, key: str) -> str | None:
        """The key's id when it is valid, else None."""
        if not key.startswith("rp_") or key.count("_") < 2 or len(key) > 200:
            return None  # not even shaped like a key: no database look-up
        digest = hashlib.sha256(key.encode()).hexdigest()
        now = time.monotonic()
        cached = self._known.get(digest)
        if cached is not None and cached[1] > now:
            return cached[0]
        key_id = await anyio.to_thread.run_sync(self._lookup, key)
        self._known[digest] = (key_id, now + self.ttl)
        self._known.move_to_end(digest)
        if len(self._known) > MAX_CACHED_KEYS:
            self._known.popitem(last=False)
        return key_id


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


async def refuse(send: Send, wait: float, *, html: bool) -> None:
    """Answer 429 with ``Retry-After``: an HTML page for people, the error body for the API."""
    seconds = max(1, math.ceil(wait))
    if html:
        body = _PAGE_429.format(wait=seconds).encode()
        content_type = b"text/html; charset=utf-8"
    else:
        body = orjson.dumps({"error": {"code": "rate_limited", "message":
                                       "too many requests to public endpoints; retry later",
                                       "retry_after": seconds}})
        content_type = b"application/json"
    await send({"type": "http.response.start", "status": 429, "headers": [
        (b"content-type", content_type), (b"retry-after", str(seconds).encode()),
        (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class RateLimits:
    """The middleware. ``rate`` per address on public paths (0: off), ``keyed_rate`` per valid
    key there, ``sign_in_per_minute`` failed sign-ins per address (0: off)."""

    def __init__(self, app: ASGIApp, *, database_url: str, rate: float, keyed_rate: float,
                 sign_in_per_minute: float) -> None:
        self.app = app
        self.public = TokenBuckets(rate, max(1.0, rate * 4)) if rate > 0 else None
        self.keyed = TokenBuckets(keyed_rate, max(1.0, keyed_rate * 4)) if keyed_rate > 0 \
            else None
        self.sign_in = TokenBuckets(sign_in_per_minute / 60.0, max(1.0, sign_in_per_minute)) \
            if sign_in_per_minute > 0 else None
        self.keys = KeyValidity(database_url)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if self.public is not None and is_public(path):
            await self._public(scope, receive, send, path)
        elif self.sign_in is not None and path == SIGN_IN_PATH and scope["method"] == "POST":
            await self._sign_in(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _public(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        assert self.public is not None
        token = _bearer(scope)
        key_id = await self.keys.key_id(token) if token else None
        if key_id is not None:
            wait = self.keyed.take(key_id) if self.keyed is not None else 0.0
        else:
            client = scope.get("client")
            wait = self.public.take(client[0] if client else "unknown")
        if wait:
            await refuse(send, wait, html=path.startswith("/r/"))
        else:
            await self.app(scope, receive, send)

    async def _sign_in(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.sign_in is not None
        client = scope.get("client")
        address = client[0] if client else "unknown"
        wait = self.sign_in.wait(address)
        if wait:
            await refuse(send, wait, html=True)
            return
        buckets = self.sign_in

        async def counting_send(message: Any) -> None:
            if message["type"] == "http.response.start" and message["status"] in (401, 403):
                buckets.take(address)
            await send(message)

        await self.app(scope, receive, counting_send)
