"""The public hot path (SPEC §8, §11): ``GET /r/{code}`` and ``GET /api/v1/verify/{code}`` for a
registered unit (and ``GET /healthz``), answered before the web framework's routing.

What a phone scan or a verification client asks for most — a well-formed code of a registered
unit without open recalls — is answered here by a pure ASGI layer: one SQL statement on a
connection this server process keeps for the purpose (see
:class:`robopass.verification.service.PinnedReader`), and for the page a skeleton of
``public.html`` (:mod:`robopass.web.skeleton`) filled with the escaped values. Everything else
(bad input, typos, unknown or foreign codes, recalls, imported robots, query strings such as
``?lang=``, ``HEAD``) goes on to the FastAPI routes, which stay the definition of both
endpoints: the responses here are byte for byte what those routes return (tested), and each
page shape is checked once against a real rendering of the template before its skeleton is
trusted.

Skipping the framework's routing, dependency resolution, request and response objects and the
template engine's per-render work is most of the cost of these requests (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson
from starlette.requests import cookie_parser

from robopass.ledger import transparency
from robopass.verification import service as verification_service
from robopass.web import i18n, public
from robopass.web.skeleton import NotASkeleton, Skeleton, compile_skeleton

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: What the fast path takes after the prefix: a code as printed or typed (letters, digits,
#: hyphens). Anything else — spaces, percent-escapes, slashes — takes the framework's route.
_CODE_TEXT = re.compile(r"[A-Za-z0-9-]{29,40}")
PAGE_PREFIX = "/r/"
VERIFY_PREFIX = "/api/v1/verify/"

#: A page's shape: (locale, verdict, reason_code, model approved, production month known,
#: deployed for a scenario).
Shape = tuple[str, str, str | None, bool, bool, bool]


def _page_context(shape: Shape, slot: Callable[[str], str]) -> dict[str, Any]:
    """What :func:`robopass.web.public.view_context` returns for a page of this shape, with a
    slot wherever a value of the unit goes (plus the language links)."""
    locale, verdict, reason_code, approved, has_month, has_scenario = shape
    result: dict[str, Any] = {
        "code": slot("compact"), "format_valid": True, "registered": True,
        "status": "in_service",
        "model": {"name": slot("model_name"), "model_code": slot("model_code"),
                  "status": "approved" if approved else "suspended"},
        "manufacturer": {"name": slot("maker"), "company_code": "", "country": slot("country")},
        "open_recalls": [], "production_month": None, "registry": "",
        "scenario": "slot" if has_scenario else None}
    if reason_code:
        result.update(reason="", reason_code=reason_code)
    summary = {"production_month": None, "owners": slot("owners"),
               "maintenance_count": slot("maintenance"), "incidents": slot("incidents"),
               "battery_health": "unknown",
               "production_month_text": slot("month") if has_month else None,
               "battery_text": slot("battery")}
    return {
        "input": slot("compact"), "result": result, "verdict": verdict,
        "display_code": "-".join(slot(f"part{i}") for i in range(4)),
        "compact": slot("compact"), "reason": slot("reason") if reason_code else None,
        "suggestion": None, "suggestion_display": None, "status_text": slot("status_text"),
        "model_status_text": slot("model_status_text"), "summary": summary, "recalls": [],
        "scenario_text": slot("scenario_text") if has_scenario else None,
        "language_links": [{"locale": other, "name": i18n.NATIVE_NAMES[other],
                            "html_lang": i18n.HTML_LANG[other], "current": other == locale,
                            "href": slot(f"href_{other}")} for other in i18n.LOCALES],
    }


_SLOTS = frozenset({"compact", "model_name", "model_code", "maker", "country", "owners",
                    "maintenance", "incidents", "month", "battery", "reason", "status_text",
                    "model_status_text", "scenario_text", "part0", "part1", "part2", "part3",
                    *(f"href_{lo}" for lo in i18n.LOCALES)})
#: Values made only of a validated code (A-Z, 0-9), the request path the fast path accepted
#: (``/r/`` + letters, digits, hyphens) with ``?lang=<locale>``, or integers: nothing to escape.
_SAFE = frozenset({"compact", "part0", "part1", "part2", "part3", "owners", "maintenance",
                   "incidents", *(f"href_{lo}" for lo in i18n.LOCALES)})
_skeletons: dict[Shape, Skeleton | None] = {}


def _skeleton(shape: Shape) -> Skeleton | None:
    if shape not in _skeletons:
        try:
            _skeletons[shape] = compile_skeleton(
                lambda slot: i18n.render(shape[0], "public.html", _page_context(shape, slot)),
                _SLOTS, _SAFE)
        except NotASkeleton:
            log.warning("public page shape %s cannot be pre-rendered; using the template",
                        shape, exc_info=True)
            _skeletons[shape] = None
    return _skeletons[shape]


def _values(path: str, code: str, result: dict[str, Any], summary: dict[str, Any],
            locale: str, month: str | None) -> dict[str, Any]:
    translate = i18n.gettext_for(locale)
    status = result["status"]
    model, maker = result["model"], result["manufacturer"]
    reason_code = result.get("reason_code")
    values: dict[str, Any] = {
        "compact": code, "part0": code[:2], "part1": code[2:6], "part2": code[6:12],
        "part3": code[12:], "model_name": model["name"], "model_code": model["model_code"],
        "maker": maker["name"], "country": maker["country"],
        "status_text": translate(public.STATUS_LABELS[status])
        if status in public.STATUS_LABELS else status,
        "model_status_text": translate(public.MODEL_STATUS_LABELS[model["status"]])
        if model["status"] in public.MODEL_STATUS_LABELS else model["status"],
        "owners": summary["owners"], "maintenance": summary["maintenance_count"],
        "incidents": summary["incidents"],
        "month": month,
        "battery": translate(public.BATTERY_LABELS.get(summary["battery_health"] or "unknown",
                                                       public.BATTERY_LABELS["unknown"])),
        "reason": None,
        "scenario_text": public.scenario_text(result.get("scenario"), locale),
    }
    if reason_code:
        values["reason"] = translate(public.REASONS.get(reason_code, public.FALLBACK_REASON)) % {
            "position": result.get("position") or "?", "length": len(code),
            "country": code[:2]}
    for other in i18n.LOCALES:
        values[f"href_{other}"] = f"{path}?lang={other}"
    return values


def _locale(scope: Scope) -> str:
    cookie = accept = None
    for name, value in scope["headers"]:
        if name == b"cookie":
            cookie = cookie_parser(value.decode("latin-1")).get(i18n.COOKIE, cookie)
        elif name == b"accept-language" and accept is None:  # the first, as Starlette reads it
            accept = value.decode("latin-1")
    return i18n.choose(None, cookie, accept)


_PAGE_HEADERS = {locale: [(k.lower().encode("latin-1"), v.encode("latin-1"))
                          for k, v in headers.items()]
                 for locale, headers in public.PAGE_HEADERS.items()}


def render_page(url: str, path: str, scope: Scope,
                reader: verification_service.PinnedReader | None = None
                ) -> tuple[bytes, str] | None:
    """The HTML of ``GET path`` (``/r/{code}``) and its locale, or None when the framework's
    route must answer (not a registered unit without open recalls, or a shape whose skeleton
    does not hold)."""
    raw = path[len(PAGE_PREFIX):]
    fast = verification_service.page_fast(url, raw, reader=reader)
    if fast is None:
        return None
    result, summary = fast
    locale = _locale(scope)
    code = result["code"]
    month = public.month_text(summary["production_month"], locale)
    shape: Shape = (locale, public.verdict_of(result), result.get("reason_code"),
                    result["model"]["status"] == "approved", month is not None,
                    bool(result.get("scenario")))
    skeleton = _skeleton(shape)
    if skeleton is None:
        return None
    values = _values(path, code, result, summary, locale, month)
    if not skeleton.checked:
        def real() -> str:
            context = public.view_context(url, raw, locale, (result, dict(summary)))
            context["language_links"] = public.language_links(path, {}, locale)
            return i18n.render(locale, "public.html", context)

        if not skeleton.matches(values, real):
            log.warning("public page shape %s differs from the template; using the template",
                        shape)
            _skeletons[shape] = None
            return None
    return skeleton.fill(values).encode(), locale


def preload(app: ASGIApp | None = None) -> None:
    """Work every server process would otherwise do on its first requests, done once where it
    is imported (``robopass serve``'s supervisor, before it forks the workers): the ORM's
    mapper configuration, the public page's templates compiled in every locale, the locale
    data its month names come from, and — given the ``app`` — the framework's per-route state
    (FastAPI builds each route's dependency tree and validators when a request first reaches
    its router: 100–300 ms of a worker's first authenticated requests, holding the GIL), built
    by routing one request to a path no route serves. No database connection is opened."""
    from sqlalchemy.orm import configure_mappers

    configure_mappers()
    for locale in i18n.LOCALES:
        env = i18n.environment(locale)
        for name in ("public.html", "base.html", "_lookup_form.html", "lookup.html"):
            env.get_template(name)
        public.month_text("2025-01", locale)
    if app is not None:  # its own thread and loop: the importer may be running a loop
        worker = threading.Thread(target=asyncio.run, args=(_route_nowhere(app),))
        worker.start()
        worker.join()


async def _route_nowhere(app: ASGIApp) -> None:
    """``GET /.preload`` through ``app``: every router is matched against it (404)."""
    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: Any) -> None:
        return None

    scope: Scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                    "method": "GET", "scheme": "http", "path": "/.preload", "raw_path":
                    b"/.preload", "root_path": "", "query_string": b"", "headers": [],
                    "client": ("127.0.0.1", 0), "server": ("127.0.0.1", 0)}
    await app(scope, receive, send)


_HEALTHZ = b'{"status":"ok"}'


class PublicFastPath:
    """ASGI middleware: answers the hot public requests, passes everything else on."""

    def __init__(self, app: ASGIApp, *, database_url: str) -> None:
        self.app = app
        self.url = database_url
        self.reader = verification_service.PinnedReader(database_url)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope.get("root_path"):
            path: str = scope["path"]
            if path == "/healthz":  # liveness, and the benchmarks' ceiling: the same bytes
                await _send(send, _HEALTHZ, b"application/json", [])
                return
            if path.startswith(PAGE_PREFIX) and not scope.get("query_string") \
                    and _CODE_TEXT.fullmatch(path, len(PAGE_PREFIX)):
                page = render_page(self.url, path, scope, self.reader)
                if page is not None:
                    body, locale = page
                    await _send(send, body, b"text/html; charset=utf-8", _PAGE_HEADERS[locale])
                    return
            elif path.startswith(VERIFY_PREFIX) and _CODE_TEXT.fullmatch(path,
                                                                          len(VERIFY_PREFIX)):
                answer = verification_service.answer_fast(self.url, path[len(VERIFY_PREFIX):],
                                                          reader=self.reader)
                if answer is not None:
                    await _send(send, orjson.dumps(answer), b"application/json", [])
                    return
            elif path.startswith(transparency.TILE_PREFIX):  # C2SP tiles (SPEC §15)
                tile = transparency.fast_tile(self.url, path)
                if tile is not None:
                    await _send(send, tile[0], b"application/octet-stream",
                                [(b"cache-control", tile[1].encode())])
                    return
        await self.app(scope, receive, send)


async def _send(send: Send, body: bytes, content_type: bytes,
                headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-length", str(len(body)).encode()), (b"content-type", content_type),
        *headers]})
    await send({"type": "http.response.body", "body": body})
