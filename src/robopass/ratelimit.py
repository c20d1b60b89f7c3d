"""Rate limiting of the public endpoints (SPEC §12): a token bucket per client address.

A pure ASGI middleware (no per-request task or body buffering), applied only to requests without
an ``Authorization`` header on public paths — the verification page and API, labels, passports,
the ledger and the JWKS. Authenticated API traffic is not limited here. Buckets live in the
process: with several server workers each keeps its own, so the effective limit is
``rate × workers`` (document that when sizing). Over the limit: ``429`` with ``Retry-After`` and
the usual error body.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
                   Awaitable[None]]

PUBLIC_PREFIXES = ("/r/", "/api/v1/verify/", "/api/v1/ledger/", "/.well-known/")
PUBLIC_SUFFIXES = ("/label.svg", "/label.png", "/passport")
MAX_CLIENTS = 100_000


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

    def take(self, key: str, now: float | None = None) -> float:
        """Take one token; returns 0 when allowed, else the seconds until one is available."""
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > MAX_CLIENTS:
            self._buckets.popitem(last=False)
        return wait


class PublicRateLimit:
    def __init__(self, app: ASGIApp, *, rate: float, burst: float | None = None) -> None:
        self.app = app
        self.buckets = TokenBuckets(rate, burst if burst is not None else max(1.0, rate * 4))

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Any]],
                       send: Callable[[Any], Awaitable[None]]) -> None:
        if scope["type"] != "http" or not is_public(scope["path"]) or any(
                name == b"authorization" for name, _ in scope.get("headers", ())):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        wait = self.buckets.take(client[0] if client else "unknown")
        if not wait:
            await self.app(scope, receive, send)
            return
        body = orjson.dumps({"error": {"code": "rate_limited", "message":
                                       "too many requests to public endpoints; retry later",
                                       "retry_after": math.ceil(wait)}})
        await send({"type": "http.response.start", "status": 429, "headers": [
            (b"content-type", b"application/json"), (b"retry-after", str(math.ceil(wait)).encode()),
            (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
