"""The FastAPI application: routers, and the one place errors become HTTP responses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from robopass import idcode
from robopass.bodycaps import BodyTooLarge
from robopass.config import Settings, get_settings
from robopass.errors import RobopassError

STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
                415: "unsupported_media_type", 422: "invalid_input", 429: "rate_limited"}


def _error(status: int, body: dict[str, Any],
           headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out or ".".join(str(p) for p in loc)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RobopassError)
    async def _robopass(_: Request, exc: RobopassError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return _error(exc.status, exc.to_dict(), headers)

    @app.exception_handler(idcode.InvalidCode)
    async def _code(_: Request, exc: idcode.InvalidCode) -> JSONResponse:
        return _error(422, {"code": exc.code, "message": exc.message, "field": "code",
                            "position": exc.position})

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [{"field": _field_path(e.get("loc", ())), "message": e.get("msg", ""),
                   "type": e.get("type", "")} for e in exc.errors()]
        first = fields[0] if fields else {"field": "", "message": "invalid input"}
        return _error(422, {"code": "invalid_input",
                            "message": f"{first['field']}: {first['message']}",
                            "field": first["field"], "fields": fields})

    @app.exception_handler(DBAPIError)
    async def _dbapi(request: Request, exc: DBAPIError) -> JSONResponse:
        # PostgreSQL text cannot hold NUL characters (SQLite can): a client error, not a 500.
        if "NUL" in str(exc.orig) or "\\x00" in str(exc.orig):
            return _error(422, {"code": "invalid_characters",
                                "message": "input contains a NUL (0x00) character"})
        raise exc

    @app.exception_handler(BodyTooLarge)
    async def _too_large(_: Request, exc: BodyTooLarge) -> JSONResponse:
        return _error(413, exc.error(), {"Connection": "close"})

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI could not parse the body (not UTF-8, bad form…)
            return _error(422, {"code": "invalid_json", "field": "body",
                                "message": f"the body could not be parsed: {exc.detail}"})
        code = STATUS_CODES.get(exc.status_code, "error")
        return _error(exc.status_code, {"code": code, "message": str(exc.detail)},
                      getattr(exc, "headers", None))


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # a worker reads the registry's own country as it starts: its first public requests
        # take the fast path (robopass.asgi)
        from robopass.verification.service import load_own_country

        await run_in_threadpool(load_own_country, settings.database_url)
        yield

    app = FastAPI(
        lifespan=lifespan,
        title="robopass",
        version="0.1.0",
        summary="National humanoid robot full-lifecycle registry",
        description="Stable API contract: see SPEC §9. Errors are "
                    '`{"error": {"code", "message", ...}}`.',
    )
    app.state.settings = settings
    install_error_handlers(app)
    from robopass import openapi

    openapi.install(app)
    from robopass import routers

    for router in routers.all_routers():
        app.include_router(router)
    if settings.public_fast_path:
        from robopass.web.fastpath import PublicFastPath

        # inside the rate limit (added later = outside): limited requests never reach it
        app.add_middleware(PublicFastPath, database_url=settings.database_url)
    if settings.public_rate_limit > 0 or settings.sign_in_attempts_per_minute > 0:
        from robopass.ratelimit import RateLimits

        app.add_middleware(RateLimits, database_url=settings.database_url,
                           rate=settings.public_rate_limit,
                           keyed_rate=settings.keyed_rate_limit,
                           sign_in_per_minute=settings.sign_in_attempts_per_minute)
    from robopass.bodycaps import BodyCaps, cap_table
    from robopass.headers import SecurityHeaders

    # a body over its endpoint's cap is refused before anything reads it
    app.add_middleware(BodyCaps, caps=cap_table(settings))
    app.add_middleware(SecurityHeaders)  # outermost: every answer carries nosniff
    return app
