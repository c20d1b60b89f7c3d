"""Alembic owns the schema: a migrated database matches the models exactly, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from robopass.db import get_engine
from robopass.models import metadata
from tests.conftest import Registry


def test_migrations_match_models(registry: Registry) -> None:
    with get_engine(registry.url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == [], diff
