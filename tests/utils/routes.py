"""The application's route table, flattened (FastAPI ≥ 0.16x nests included routers)."""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute

#: Framework routes that are not ours.
FRAMEWORK = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def api_routes(app: Any) -> list[tuple[str, str]]:
    """``(method, path)`` of every route the application serves, HEAD/OPTIONS aside."""
    out: list[tuple[str, str]] = []
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            pairs = [(c.path, c.methods) for c in contexts()]
        elif isinstance(route, APIRoute):
            pairs = [(route.path, route.methods)]
        else:
            continue
        for path, methods in pairs:
            if path in FRAMEWORK:
                continue
            out += [(m, path) for m in sorted(set(methods or ()) - {"HEAD", "OPTIONS"})]
    return out
