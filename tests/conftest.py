"""Fixtures: every storage test runs on SQLite and PostgreSQL (SPEC §10, DEVELOPERS.md).

Each test gets its own database copied from a per-session template that ``robopass init`` built:
a file copy on SQLite, ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL (created and dropped, so
parallel runs never collide). PostgreSQL may be skipped only when it is absent and ``CI`` is
unset; in CI a missing server fails the run.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings

from robopass.db import dispose_engine

# No assertion on elapsed time (the engineering standards): hypothesis's default 200 ms deadline per
# example is one, and it failed a pure test on a loaded 2-core machine.
settings.register_profile("robopass", deadline=None)
settings.load_profile("robopass")

PG_ADMIN = os.environ.get("ROBOPASS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = bool(os.environ.get("CI"))


def _pg_admin_conn():  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)


def pg_available() -> bool:
    try:
        with _pg_admin_conn():
            return True
    except Exception:
        return False


def require_service(available: bool, name: str) -> None:
    if available:
        return
    if IN_CI:
        pytest.fail(f"{name} is not reachable; in CI every service test must run")
    pytest.skip(f"{name} is not running here (CI unset, so skipping)")


@dataclass
class Registry:
    url: str
    regulator_key: str
    backend: str


def _pg_url(name: str) -> str:
    base = PG_ADMIN.rsplit("/", 1)[0]
    return f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://")


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Registry]]:
    from robopass.registry.service import initialise

    made: dict[str, Registry] = {}
    path = tmp_path_factory.mktemp("template") / "template.db"
    url = f"sqlite:///{path}"
    key = initialise(url, country="CN")
    assert key
    dispose_engine(url)
    made["sqlite"] = Registry(url=url, regulator_key=key, backend="sqlite")
    pg_name = None
    if pg_available():
        pg_name = f"robopass_tpl_{uuid.uuid4().hex[:10]}"
        with _pg_admin_conn() as conn:
            conn.execute(f'CREATE DATABASE "{pg_name}"')
        url = _pg_url(pg_name)
        key = initialise(url, country="CN")
        assert key
        dispose_engine(url)
        made["postgresql"] = Registry(url=url, regulator_key=key, backend="postgresql")
    yield made
    if pg_name:
        with _pg_admin_conn() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


def _new_database(templates: dict[str, Registry], backend: str, tmp_path: Path
                  ) -> Iterator[Registry]:
    if backend == "sqlite":
        src = templates["sqlite"].url.split("///", 1)[1]
        dst = tmp_path / "registry.db"
        shutil.copyfile(src, dst)
        url = f"sqlite:///{dst}"
        yield Registry(url=url, regulator_key=templates["sqlite"].regulator_key, backend=backend)
        dispose_engine(url)
        return
    require_service("postgresql" in templates, "PostgreSQL on 127.0.0.1:5432")
    tpl = templates["postgresql"].url.rsplit("/", 1)[1]
    name = f"robopass_t_{uuid.uuid4().hex[:12]}"
    with _pg_admin_conn() as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{tpl}"')
    url = _pg_url(name)
    try:
        yield Registry(url=url, regulator_key=templates["postgresql"].regulator_key,
                       backend=backend)
    finally:
        dispose_engine(url)
        with _pg_admin_conn() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def registry(request: pytest.FixtureRequest, templates: dict[str, Registry],
             tmp_path: Path) -> Iterator[Registry]:
    """A fresh, initialised registry database, on each backend in turn."""
    yield from _new_database(templates, request.param, tmp_path)


@pytest.fixture
def sqlite_registry(templates: dict[str, Registry], tmp_path: Path) -> Iterator[Registry]:
    """SQLite only: for tests of behaviour that does not touch storage differences."""
    yield from _new_database(templates, "sqlite", tmp_path)


@pytest.fixture
def client(registry: Registry):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from robopass.api import create_app
    from robopass.config import Settings
    from tests.utils.api import ApiClient

    app = create_app(Settings(database_url=registry.url))
    with TestClient(app) as raw:
        yield ApiClient(raw, registry)


@pytest.fixture
def sqlite_client(sqlite_registry: Registry):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from robopass.api import create_app
    from robopass.config import Settings
    from tests.utils.api import ApiClient

    app = create_app(Settings(database_url=sqlite_registry.url))
    with TestClient(app) as raw:
        yield ApiClient(raw, sqlite_registry)
