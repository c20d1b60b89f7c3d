"""The OpenAPI document tells the truth, and bad input gets a 4xx, never a 500 (SPEC §12).

schemathesis generates requests for every operation from our ``/openapi.json`` — data that fits
the schema, data that does not, and (where the path names something) the seeded registry's real
unit, model, recall, incident and organisation, so success answers are checked too — and runs
its conformance checks on every answer: no server error, a documented status, a documented
content type, a body that matches the documented schema, the documented headers. Every
operation is fuzzed as the regulator and as a manufacturer of the demo registry (``seed``), on
SQLite and on PostgreSQL (whose text cannot hold NUL, among other differences), so
requests get past authentication into validation and the services, and both the entitled and
the refused answers are checked. Examples per operation, role and database are bounded
(``FUZZ_EXAMPLES``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from robopass import seed as demo_seed
from robopass.api import create_app
from robopass.config import Settings
from robopass.db import dispose_engine
from tests.conftest import _pg_admin_conn, _pg_url, pg_available, require_service

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance]
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
ROLES = ("regulator", "manufacturer")

OPERATIONS = sorted(
    (method.upper(), path)
    for path, item in create_app(Settings(database_url="sqlite://")).openapi()["paths"].items()
    for method in item
    if method in ("get", "post", "put", "patch", "delete"))


class Fuzzed:
    def __init__(self, url: str) -> None:
        self.demo = demo_seed.seed(url, units=40)
        # the public rate limit would answer 429 to a fuzzer (documented, but not what is tested)
        self.app = create_app(Settings(database_url=url, public_rate_limit=0))
        self.schema = schemathesis.openapi.from_asgi("/openapi.json", self.app)
        self.keys = {"regulator": self.demo.regulator_key,
                     "manufacturer": self.demo.keys["manufacturer"]["api_key"]}
        with TestClient(self.app) as client:
            models = client.get("/api/v1/models?limit=1",
                                headers={"Authorization": f"Bearer {self.demo.regulator_key}"})
        samples = self.demo.sample_codes
        self.known = {"code": samples["recalled"], "recall_id": samples["recall_id"],
                      "incident_id": samples["incident_id"], "model_id": models.json()[0]["id"],
                      "org_id": self.demo.keys["manufacturer"]["id"]}

    def cases(self, operation: Any) -> Any:
        """Valid and invalid data; and the seeded objects where the path names only those."""
        names = {p.name for p in operation.path_parameters}
        strategies = [operation.as_strategy(), operation.as_strategy(GenerationMode.NEGATIVE)]
        if names and names <= self.known.keys():
            strategies.append(operation.as_strategy(
                path_parameters={n: self.known[n] for n in names}))
        return st.one_of(strategies)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzzed(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    """A seeded demo registry on each backend (PostgreSQL: a database of its own)."""
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("fuzz") / "demo.db"
        url = f"sqlite:///{path}"
        yield Fuzzed(url)
        dispose_engine(url)
        return
    require_service(pg_available(), "PostgreSQL on 127.0.0.1:5432")
    name = f"robopass_fuzz_{uuid.uuid4().hex[:12]}"
    with _pg_admin_conn() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = _pg_url(name)
    try:
        yield Fuzzed(url)
    finally:
        dispose_engine(url)
        with _pg_admin_conn() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_answer_conforms_to_the_openapi(method: str, path: str, role: str,
                                              fuzzed: Fuzzed) -> None:
    operation = fuzzed.schema[path][method]
    headers = {"Authorization": f"Bearer {fuzzed.keys[role]}"}
    failures: dict[tuple[str, str], str] = {}

    @given(case=fuzzed.cases(operation))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
              database=None, phases=[Phase.explicit, Phase.generate])
    def run(case: Any) -> None:
        response = case.call(headers=headers)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (BaseExceptionGroup, AssertionError) as exc:  # collected, not shrunk
            for failure in getattr(exc, "exceptions", [exc]):
                failures.setdefault((type(failure).__name__, str(failure)[:80]),
                                    f"{case.method} {case.formatted_path} → "
                                    f"{response.status_code} {response.text[:300]}\n"
                                    f"{failure}"[:1500])

    run()
    assert not failures, "\n\n".join(f"{kind}: {detail}" for (kind, _), detail in
                                     failures.items())
