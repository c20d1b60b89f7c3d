"""Request body caps (SPEC §12): every endpoint has one, enforced before anything reads a body.

A pure ASGI middleware, outermost in the stack. For each request it finds the cap of its
endpoint in :func:`cap_table` (first match of method and path; :data:`DEFAULT_CAP` for every
endpoint not listed, including any added later), then:

* a ``Content-Length`` over the cap is answered ``413`` at once — the body is never read;
* otherwise the body is counted as it streams in, and the moment the count passes the cap the
  endpoint's read fails with ``413`` (:class:`BodyTooLarge`), so a chunked 200 MB body costs
  at most one cap's worth of memory.

The answer is the usual error body, ``{"error": {"code": "payload_too_large", "message",
"field": "body", "limit"}}``. docs/operations.md lists the caps endpoint by endpoint; a test
checks that list against this table.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from starlette.exceptions import HTTPException

if TYPE_CHECKING:
    from robopass.config import Settings

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

KIB = 1024
MIB = 1024 * KIB
#: Any endpoint not in the table: JSON bodies of one object, web forms.
DEFAULT_CAP = 64 * KIB


@dataclass(frozen=True)
class Cap:
    method: str
    path: str  # as documented, ``{name}`` for a path segment
    limit: int

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(self.path)) + "$")


def cap_table(settings: Settings) -> list[Cap]:
    """The caps, endpoint by endpoint (docs/operations.md mirrors this list)."""
    return [
        Cap("POST", "/api/v1/telemetry", settings.telemetry.max_body_bytes),
        Cap("POST", "/api/v1/events", settings.max_event_batch_bytes),
        Cap("POST", "/api/v1/epcis/capture", settings.max_event_batch_bytes),
        Cap("POST", "/api/v1/robots/{code}/events", 64 * KIB),
        Cap("POST", "/api/v1/models", 256 * KIB),
        Cap("POST", "/api/v1/models/{model_id}/codes", 4 * KIB),
        Cap("POST", "/api/v1/recalls", 64 * KIB),
        Cap("POST", "/api/v1/incidents", 64 * KIB),
        Cap("POST", "/api/v1/organizations", 16 * KIB),
        Cap("POST", "/api/v1/subscriptions", 16 * KIB),
        Cap("POST", "/app/portal/intake", 4 * MIB),
    ]


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when the body passes its cap (an HTTPException so FastAPI's body
    reading passes it through to the error handler instead of calling it a parse error)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body exceeds this endpoint's cap of {limit} bytes; "
                              "nothing was read or stored")
        self.limit = limit

    def error(self) -> dict[str, Any]:
        return {"code": "payload_too_large", "message": self.detail, "field": "body",
                "limit": self.limit}


async def _refuse(send: Send, exc: BodyTooLarge) -> None:
    body = orjson.dumps({"error": exc.error()})
    await send({"type": "http.response.start", "status": 413, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodyCaps:
    def __init__(self, app: ASGIApp, *, caps: list[Cap], default: int = DEFAULT_CAP) -> None:
        self.app = app
        self.default = default
        self.caps = [(c.method, c.pattern, c.limit) for c in caps]

    def cap_for(self, method: str, path: str) -> int:
        for cap_method, pattern, limit in self.caps:
            if cap_method == method and pattern.match(path):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            # bodies of these are never read by any endpoint: nothing to count
            await self.app(scope, receive, send)
            return
        limit = self.cap_for(scope["method"], scope["path"])
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                if not value.isdigit() or int(value) > limit:
                    await _refuse(send, BodyTooLarge(limit))
                    return
                break
        seen = 0
        started = False

        async def counted() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge as exc:  # read outside FastAPI's handlers (e.g. a raw ASGI layer)
            if started:
                raise
            await _refuse(send, exc)
