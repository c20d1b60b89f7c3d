"""The OpenAPI document, computed from the route table so that it describes what is served
(SPEC §9, §12).

FastAPI documents each route's success response and its own ``422 {detail}``, which we never
send. What a route can refuse follows from what it takes, so it is worked out here from each
route's dependencies and parameters rather than written by hand on every route (a route added
later is documented correctly without anyone remembering to):

- it needs an API key (``get_actor`` among its dependencies) → 401 (no or bad key) and 403 (not
  entitled: role, tier, scope); an optional key (``get_optional_actor``) → 401 (a bad key) and
  403 (what the key asked for is not allowed);
- it names something (a path parameter or a request body: codes, ids, organisations) → 404;
- it takes any input (path, query, header or body) → 422;
- it takes a body → 413;
- it writes (POST, PUT, PATCH, DELETE) → 409, refused by a rule or state;
- it answers without a key → 429, the public rate limit;
- it says ``openapi_extra={ALWAYS_200: True}`` (verify, ``/r/``): no 404 or 422.

Every one of these answers carries the error body ``{"error": {"code", "message", ...}}``
(schema ``Error``). Routes that take the key get the ``bearerAuth`` security scheme (an optional
key lists ``{}`` as an alternative).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from robopass.deps import get_actor, get_optional_actor

ERROR_REF = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMAS: dict[str, Any] = {
    "Error": {
        "title": "Error", "type": "object", "required": ["error"],
        "properties": {"error": {"$ref": "#/components/schemas/ErrorDetail"}},
        "additionalProperties": False,
        "description": 'Every refusal: `{"error": {"code", "message", ...}}`.',
    },
    "ErrorDetail": {
        "title": "ErrorDetail", "type": "object", "required": ["code", "message"],
        "properties": {
            "code": {"type": "string", "description": "stable machine-readable reason"},
            "message": {"type": "string", "description": "for humans"},
            "field": {"type": "string", "description": "the offending input, when one is"},
            "fields": {"type": "array", "description": "every invalid input (validation)",
                       "items": {"type": "object"}},
        },
        # rules add their own context (index, limit, roles, position, retry_after...)
        "additionalProperties": True,
    },
}
ERROR_DESCRIPTIONS = {
    401: "No API key, or a key that is malformed, unknown or revoked",
    403: "The key's organisation is not entitled to this (role, tier or provincial scope)",
    404: "Something the request names does not exist (or is not visible to the caller)",
    409: "Refused by a rule or by the current state",
    413: "The body is larger than this endpoint accepts",
    422: "Invalid input: malformed JSON, a wrong type or value, a bad identity code",
    429: "Too many requests without an API key from this address",
}
ERROR_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "seconds until a request is allowed again",
                          "schema": {"type": "integer"}}},
}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
#: ``openapi_extra={ALWAYS_200: True}``: a route that answers 200 whatever its input names.
ALWAYS_200 = "x-always-200"
SECURITY_SCHEME = "bearerAuth"
#: FastAPI's own 422 schemas, replaced by ``Error``.
FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dep in dependant.dependencies:
        if dep.call is not None:
            yield dep.call
        yield from _calls(dep)


def _has_body(route: APIRoute) -> bool:
    return route.body_field is not None or "requestBody" in (route.openapi_extra or {})


def _path_names(route: APIRoute) -> list[str]:
    return re.findall(r"{([^}:]+)", route.path)


def key_use(route: APIRoute) -> str | None:
    """``"required"``, ``"optional"`` or None: whether the route takes an API key."""
    calls = set(_calls(route.dependant))
    if get_actor in calls:
        return "required"
    if get_optional_actor in calls:
        return "optional"
    return None


def error_statuses(route: APIRoute) -> set[int]:
    """The 4xx statuses ``route`` can answer, from what it takes (see the module docstring)."""
    statuses: set[int] = set()
    dependant = route.dependant
    key = key_use(route)
    body = _has_body(route)
    if key is not None:
        statuses |= {401, 403}
    if key != "required":
        statuses.add(429)
    if _path_names(route) or body:
        statuses.add(404)
    if (_path_names(route) or body or _flat_params(dependant, "query_params")
            or _flat_params(dependant, "header_params")):
        statuses.add(422)
    if body:
        statuses.add(413)
    if (route.methods or set()) & WRITE_METHODS:
        statuses.add(409)
    if (route.openapi_extra or {}).get(ALWAYS_200):  # verify, /r/: the answer says why not
        statuses -= {404, 422}
    return statuses


def _flat_params(dependant: Dependant, kind: str) -> bool:
    return bool(getattr(dependant, kind)) or any(_flat_params(d, kind)
                                                 for d in dependant.dependencies)


def _document(operation: dict[str, Any], route: APIRoute) -> None:
    responses = operation.setdefault("responses", {})
    declared_by_route = {str(s) for s in route.responses or {}}
    for status in sorted(error_statuses(route)):
        if str(status) in declared_by_route:  # the route says better (an HTML 429, say)
            continue
        response: dict[str, Any] = {"description": ERROR_DESCRIPTIONS[status],
                                    "content": {"application/json": {"schema": ERROR_REF}}}
        if status in ERROR_HEADERS:
            response["headers"] = ERROR_HEADERS[status]
        responses[str(status)] = response
    if 422 not in error_statuses(route):  # FastAPI's default 422 on a route taking no input
        responses.pop("422", None)
    operation["responses"] = dict(sorted(responses.items()))
    key = key_use(route)
    if key is not None:
        operation["security"] = [{SECURITY_SCHEME: []}] + ([{}] if key == "optional" else [])
    declared = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "path"}
    for name in _path_names(route):
        if name not in declared:  # a route reading its path itself (``{raw:path}``)
            operation.setdefault("parameters", []).append(
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}})


def api_routes(app: FastAPI) -> Iterator[APIRoute]:
    """Every API route as mounted (prefixes applied), whichever router it came from."""
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            yield context  # type: ignore[misc]  # proxies the route with its mounted path


def build(app: FastAPI) -> dict[str, Any]:
    """The whole document: FastAPI's, with the error responses and the security scheme."""
    spec = get_openapi(title=app.title, version=app.version, summary=app.summary,
                       description=app.description, routes=app.routes, tags=app.openapi_tags,
                       servers=app.servers)
    for route in api_routes(app):
        if not route.include_in_schema:
            continue
        item = spec["paths"].get(route.path_format, {})
        for method in route.methods or ():
            if method.lower() in item:
                _document(item[method.lower()], route)
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in FASTAPI_VALIDATION:
        schemas.pop(name, None)
    schemas.update(ERROR_SCHEMAS)
    components["securitySchemes"] = {SECURITY_SCHEME: {
        "type": "http", "scheme": "bearer",
        "description": "`Authorization: Bearer <api key>`; a key acts for one organisation"}}
    return spec


def install(app: FastAPI) -> None:
    """Serve :func:`build` (computed once, on first request) as ``/openapi.json``."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
