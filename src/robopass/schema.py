"""Create or migrate the schema with Alembic (the application never calls ``create_all``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from robopass.db import get_engine, normalise_url

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    cfg.attributes["robopass_url"] = normalise_url(url)
    return cfg


def database_exists(url: str) -> bool:
    """True when the registry schema is already there."""
    return inspect(get_engine(url)).has_table("registry")


def upgrade(url: str) -> None:
    command.upgrade(alembic_config(url), "head")
