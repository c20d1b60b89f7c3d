"""Bad input of any shape gets a 4xx, never a 500 (SPEC §12): schemathesis against our OpenAPI.

Every operation is fuzzed in-process with the regulator's key (so requests get past
authentication into validation and the services) on a registry holding a manufacturer, an
approved model and a manufactured unit. Schemathesis generates the cases from our OpenAPI
document; hypothesis drives them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from robopass.api import create_app
from robopass.config import Settings
from tests.conftest import Registry
from tests.utils.api import ApiClient

OPERATIONS = sorted(
    (method.upper(), path)
    for path, item in create_app(Settings(database_url="sqlite://")).openapi()["paths"].items()
    for method in item
    if method in ("get", "post", "put", "patch", "delete"))


@pytest.fixture
def fuzz_registry(sqlite_registry: Registry) -> Iterator[tuple[Any, str]]:
    app = create_app(Settings(database_url=sqlite_registry.url))
    with TestClient(app) as raw:
        ApiClient(raw, sqlite_registry).manufactured_unit()
    yield app, sqlite_registry.regulator_key


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_server_errors(method: str, path: str, fuzz_registry: tuple[Any, str]) -> None:
    app, key = fuzz_registry
    operation = schemathesis.openapi.from_asgi("/openapi.json", app)[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck),
              database=None)
    def run(case: Any) -> None:
        response = case.call(headers={"Authorization": f"Bearer {key}"})
        assert response.status_code < 500, (case.method, case.formatted_path,
                                            response.text[:500])

    run()
