"""Alembic environment: the URL comes from the Config attribute ``robopass_url``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from robopass.db import ensure_sqlite_directory, normalise_url
from robopass.models import metadata

config = context.config
url = normalise_url(str(config.attributes.get("robopass_url")
                        or config.get_main_option("sqlalchemy.url") or ""))


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=metadata, literal_binds=True,
                      render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    ensure_sqlite_directory(url)
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)


def _run(connection: object) -> None:
    context.configure(connection=connection, target_metadata=metadata,  # type: ignore[arg-type]
                      render_as_batch=url.startswith("sqlite"), compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
