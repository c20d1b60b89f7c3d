"""`robopass backup` / `restore` round-trip a live database without loss, across backends."""

from __future__ import annotations

import gzip
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from robopass.cli import app
from robopass.db import dispose_engine, reading
from robopass.models import metadata
from tests.conftest import Registry, _pg_admin_conn, _pg_url, pg_available, require_service
from tests.utils.api import ApiClient


def _counts(url: str) -> dict[str, int]:
    with reading(url) as session:
        return {t.name: int(session.scalar(select(func.count()).select_from(t)) or 0)
                for t in metadata.sorted_tables}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'restored.db'}"
        yield url
        dispose_engine(url)
        return
    require_service(pg_available(), "PostgreSQL on 127.0.0.1:5432")
    name = f"robopass_restore_{uuid.uuid4().hex[:10]}"
    with _pg_admin_conn() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = _pg_url(name)
    yield url
    dispose_engine(url)
    with _pg_admin_conn() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_round_trip(client: ApiClient, registry: Registry, empty_target: str,
                    tmp_path: Path) -> None:
    maker, code = client.manufactured_unit()
    buyer = client.org("operator")
    client.event(maker, code, "sold", to_organization=buyer.id,
                 details={"price_band": "B", "note": "含税"})
    head = client.get("/api/v1/ledger/head").json()
    file = tmp_path / "registry.jsonl.gz"
    runner = CliRunner()
    result = runner.invoke(app, ["backup", str(file), "--db", registry.url])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["restore", str(file), "--db", empty_target])
    assert result.exit_code == 0, result.output
    assert _counts(empty_target) == _counts(registry.url)
    verify = runner.invoke(app, ["ledger", "verify", "--db", empty_target])
    assert verify.exit_code == 0, verify.output
    assert f"root {head['root_hash']}" in verify.output
    # Restoring again over a registry is refused, and nothing is touched.
    again = runner.invoke(app, ["restore", str(file), "--db", empty_target])
    assert again.exit_code == 1 and "empty database" in again.output


def test_truncated_backup_restores_nothing(client: ApiClient, registry: Registry,
                                           tmp_path: Path) -> None:
    client.manufactured_unit()
    file = tmp_path / "b.jsonl.gz"
    assert CliRunner().invoke(app, ["backup", str(file), "--db", registry.url]).exit_code == 0
    lines = gzip.open(file, "rt").read().splitlines()
    cut = tmp_path / "cut.jsonl.gz"
    with gzip.open(cut, "wt") as fh:
        fh.write("\n".join(lines[:-3]) + "\n")
    target = f"sqlite:///{tmp_path / 'target.db'}"
    result = CliRunner().invoke(app, ["restore", str(cut), "--db", target])
    assert result.exit_code != 0
    from sqlalchemy import inspect

    from robopass.db import get_engine

    assert not inspect(get_engine(target)).has_table("registry")
    dispose_engine(target)
    bad = tmp_path / "bad.gz"
    bad.write_bytes(b"not a backup")
    result = CliRunner().invoke(app, ["restore", str(bad), "--db", target])
    assert result.exit_code == 1 and "not a robopass backup" in result.output
