"""The OpenAPI document, checked against the route table (SPEC §9, §12).

Generated from the application's routes: a route added without a typed response or without
its documented refusals fails here, whichever branch added it.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import Body, FastAPI, Request
from fastapi.routing import APIRoute

from robopass import openapi
from robopass.api import create_app
from robopass.config import Settings
from robopass.deps import CurrentActor, OptionalActor, RegulatorActor
from tests.utils.api import ApiClient

APP = create_app(Settings(database_url="sqlite://"))
SPEC = APP.openapi()
ROUTES = [(method, route) for route in openapi.api_routes(APP)
          for method in sorted(route.methods or ())]
#: Hidden routes may only be the signed-in web UI and its files (HTML forms, not an API), and
#: the site root that redirects to it.
HIDDEN_ALLOWED = ("/app", "/static/", "/r/")
HIDDEN_ROOT = "/"
ERROR = "#/components/schemas/Error"


def _ids(items: list[tuple[str, APIRoute]]) -> list[str]:
    return [f"{m} {r.path_format}" for m, r in items]


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    return _resolve(SPEC["components"]["schemas"][ref.rsplit("/", 1)[1]])


def _typed(schema: dict[str, Any]) -> bool:
    """Not a bare ``{}`` or ``object``: a scalar type, a typed array, or named properties."""
    schema = _resolve(schema)
    if schema.get("type") == "array":
        return _typed(schema.get("items", {}))
    if schema.get("type") == "object" or not schema.get("type"):
        return bool(schema.get("properties")) or any(
            _typed(s) for s in schema.get("anyOf", []) + schema.get("oneOf", []))
    return True


@pytest.mark.parametrize(("method", "route"), ROUTES, ids=_ids(ROUTES))
def test_every_route_is_documented_with_a_typed_answer_and_its_refusals(
        method: str, route: APIRoute) -> None:
    if not route.include_in_schema:
        assert route.path_format == HIDDEN_ROOT or route.path_format.startswith(
            HIDDEN_ALLOWED), \
            f"{route.path_format} is hidden from /openapi.json; only web UI pages may be"
        return
    operation = SPEC["paths"][route.path_format][method.lower()]
    responses = operation["responses"]
    success = {s: r for s, r in responses.items() if s.startswith("2")}
    assert success, "no success response documented"
    for status, response in success.items():
        if status == "204":
            continue
        content = response.get("content")
        assert content, f"{status} documents no media type (response_model or response_class)"
        for media_type, body in content.items():
            assert _typed(body.get("schema", {})), \
                f"{status} {media_type} answers a bare object: give it a typed response model"
    errors = {s: r for s, r in responses.items() if s.startswith("4")}
    assert errors, "no error response documented"
    assert set(errors) >= {str(s) for s in openapi.error_statuses(route)}
    declared = {str(s) for s in route.responses or {}}
    for status, response in errors.items():
        if status not in declared:
            assert response["content"]["application/json"]["schema"] == {"$ref": ERROR}
    key = openapi.key_use(route)
    if key is not None:
        assert {openapi.SECURITY_SCHEME: []} in operation["security"]
        assert ({} in operation["security"]) == (key == "optional")
    else:
        assert "security" not in operation


def test_the_document_has_the_error_body_and_bearer_scheme_and_no_fastapi_422() -> None:
    text = str(SPEC)
    assert "HTTPValidationError" not in text
    detail = SPEC["components"]["schemas"]["ErrorDetail"]
    assert detail["required"] == ["code", "message"]
    scheme = SPEC["components"]["securitySchemes"][openapi.SECURITY_SCHEME]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert SPEC["paths"]["/r/{code}"]["get"]["responses"]["200"]["content"] == {
        "text/html": {"schema": {"type": "string"}}}
    assert SPEC["paths"]["/r/{code}"]["get"]["parameters"][0]["name"] == "code"


def _statuses(app: FastAPI) -> dict[str, set[int]]:
    return {f"{sorted(r.methods or ())[0]} {r.path_format}": openapi.error_statuses(r)
            for r in openapi.api_routes(app)}


def test_refusals_follow_from_what_a_route_takes() -> None:
    """A route written tomorrow on any branch is documented by what it depends on."""
    app = FastAPI()

    @app.get("/public")
    def public() -> dict[str, str]:
        return {}

    @app.get("/public/{code}")
    def public_item(code: str) -> dict[str, str]:
        return {}

    @app.get("/mine/{item_id}")
    def mine(item_id: str, actor: CurrentActor) -> dict[str, str]:
        return {}

    @app.post("/things")
    def create(actor: RegulatorActor, body: dict[str, Any] = Body()) -> dict[str, str]:
        return {}

    @app.get("/maybe")
    def maybe(actor: OptionalActor, q: int = 0) -> dict[str, str]:
        return {}

    @app.post("/raw", openapi_extra={"requestBody": {"content": {"application/json": {}}}})
    async def raw(request: Request, actor: CurrentActor) -> dict[str, str]:
        return {}

    @app.get("/always/{anything}", openapi_extra={openapi.ALWAYS_200: True})
    def always(anything: str) -> dict[str, str]:
        return {}

    assert _statuses(app) == {
        "GET /public": {429},
        "GET /public/{code}": {404, 422, 429},
        "GET /mine/{item_id}": {401, 403, 404, 422},
        "POST /things": {401, 403, 404, 409, 413, 422},
        "GET /maybe": {401, 403, 422, 429},
        "POST /raw": {401, 403, 404, 409, 413, 422},
        "GET /always/{anything}": {429},
    }


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe{\x00", b""])
@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=latin-1"])
def test_a_body_that_cannot_be_parsed_is_422(client: ApiClient, body: bytes,
                                              content_type: str) -> None:
    paths = ["/api/v1/incidents", "/api/v1/telemetry", "/api/v1/epcis/capture"]
    if body:  # the body of a decision is optional: an empty one is no body
        paths.append("/api/v1/models/x/approve")
    for path in paths:
        r = client.raw.post(path, content=body, headers={
            **client.regulator.auth, "content-type": content_type})
        assert r.status_code == 422, (path, r.text)
        assert set(r.json()["error"]) >= {"code", "message"}


@pytest.mark.parametrize("raw", ["%0A%20abc", "a%2Fb", "%0D%0A", "CN1%00"])
def test_r_answers_the_page_for_any_path_segment_as_documented(client: ApiClient,
                                                                raw: str) -> None:
    """``/r/{code}`` is documented as always 200 HTML; a newline once matched no route."""
    r = client.raw.get(f"/r/{raw}")
    assert r.status_code == 200, r.text[:200]
    assert r.headers["content-type"].startswith("text/html")
