"""A server process reads the registry's own country as it starts, so its first public
verification takes the fast path (issue #12.7, #12.9); the pure warm-up opens no connection."""

from __future__ import annotations

import os

from fastapi.testclient import TestClient

from robopass.api import create_app
from robopass.config import Settings
from robopass.verification import service
from robopass.web import fastpath


def test_a_starting_app_knows_its_country_before_the_first_request(registry) -> None:  # type: ignore[no-untyped-def]
    service._own_country.pop(registry.url, None)
    app = create_app(Settings(database_url=registry.url))
    assert service.answer_fast(registry.url, "CN-XYZ") is None  # not known before start-up
    with TestClient(app):
        assert service._own_country[registry.url] == "CN"


def test_an_uninitialised_database_leaves_it_to_the_first_request(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    assert service.load_own_country(url) is False
    assert url not in service._own_country


def test_preload_opens_no_database_connection(registry) -> None:  # type: ignore[no-untyped-def]
    """The fork server preloads, then forks every worker: a connection opened there would be
    shared by all of them."""
    app = create_app(Settings(database_url=registry.url))
    before = set(os.listdir("/proc/self/fd"))
    fastpath.preload(app)  # routes one request through the whole app, too
    opened = {os.readlink(f"/proc/self/fd/{fd}") for fd in set(os.listdir("/proc/self/fd"))
              - before if os.path.exists(f"/proc/self/fd/{fd}")}
    assert not [path for path in opened if path.endswith((".db", "-wal", "-shm", ".lock"))
                or path.startswith("socket:")], opened
