"""Each registry has its own ledger origin (SPEC §15); migration 0005 gives old ones theirs."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from robopass.cli import app
from robopass.db import dispose_engine, reading
from robopass.ledger import audit
from robopass.registry import origin as origin_rules
from robopass.registry import service as registry_service
from tests.conftest import Registry


@pytest.mark.parametrize(("url", "origin"), [
    ("https://registry.example.cn/", "registry.example.cn/ledger"),
    ("https://Reg.Example.de:8443/robots", "reg.example.de:8443/robots/ledger"),
    ("http://127.0.0.1:8000", "127.0.0.1:8000/ledger"),
])
def test_the_default_origin_is_the_public_url_host_and_path(url: str, origin: str) -> None:
    assert origin_rules.from_public_url(url) == origin


@pytest.mark.parametrize("bad", ["", "a b/ledger", "x+y/ledger", "https://x/ledger", "x/"])
def test_bad_origins_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        origin_rules.check(bad)


def _origin(url: str) -> str:
    with reading(url) as session:
        return registry_service.get(session).origin


def test_init_takes_an_origin_or_derives_one(tmp_path: Path) -> None:
    urls = [f"sqlite:///{tmp_path / n}.db" for n in ("a", "b", "c", "d")]
    runner = CliRunner()
    assert runner.invoke(app, ["init", "--db", urls[0], "--origin", "reg.example/x/ledger"]
                         ).exit_code == 0
    assert runner.invoke(app, ["init", "--db", urls[1], "--public-url",
                               "https://robots.example.de/"]).exit_code == 0
    assert runner.invoke(app, ["init", "--db", urls[2]], env={"ROBOPASS_PUBLIC_URL": ""}
                         ).exit_code == 0
    assert runner.invoke(app, ["init", "--db", urls[3]], env={"ROBOPASS_PUBLIC_URL": ""}
                         ).exit_code == 0
    bad = runner.invoke(app, ["init", "--db", f"sqlite:///{tmp_path / 'e.db'}", "--origin",
                              "https://x/"])
    origins = [_origin(u) for u in urls]
    for u in urls:
        dispose_engine(u)
    assert origins[:2] == ["reg.example/x/ledger", "robots.example.de/ledger"]
    # Without a public URL two registries still get different origins.
    assert origins[2] != origins[3] and origins[2].startswith("robopass.cn/")
    assert bad.exit_code == 2 and "scheme" in bad.output


def test_migration_0005_gives_a_registry_on_the_old_default_its_own_origin(
        client, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from alembic import command
    from sqlalchemy import text

    from robopass.db import writing
    from robopass.schema import alembic_config

    registry = client.registry
    with writing(registry.url) as session:  # as every registry made before 0005 was
        session.execute(text("UPDATE registry SET origin = 'robopass.cn/ledger'"))
    registry_service._cache.clear()
    maker = client.org("manufacturer")
    model_id = client.approved_model(maker)
    for _ in range(4):
        client.codes(maker, model_id, 10)
    command.downgrade(alembic_config(registry.url), "0004")
    monkeypatch.delenv("ROBOPASS_PUBLIC_URL", raising=False)
    command.upgrade(alembic_config(registry.url), "head")
    registry_service._cache.clear()
    with reading(registry.url) as session:
        new = registry_service.get(session).origin
        heads = session.execute(text("SELECT origin FROM tree_heads")).scalars().all()
        report = audit.verify_ledger(session)
    assert new.startswith("robopass.cn/") and new.endswith("/ledger") and len(new) == 27
    assert set(heads) == {"robopass.cn/ledger"} and len(heads) >= 4
    assert report.ok, report.reason  # the old heads still verify under the origin they had
    # `robopass init` on the migrated database re-signs the latest head under the new origin.
    assert registry_service.initialise(registry.url) is None
    with reading(registry.url) as session:
        from robopass.ledger import service as ledger_service

        head = ledger_service.latest_head(session)
        assert audit.verify_ledger(session).ok
    assert head["origin"] == new and head["size"] >= 40
    # Migrating the same registry again derives the same origin (from its oldest key).
    command.downgrade(alembic_config(registry.url), "0004")
    with writing(registry.url) as session:
        session.execute(text("UPDATE registry SET origin = 'robopass.cn/ledger'"))
    command.upgrade(alembic_config(registry.url), "head")
    assert _origin(registry.url) == new


def test_migration_0005_keeps_a_custom_origin_and_uses_the_public_url(
        registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    from alembic import command
    from sqlalchemy import text

    from robopass.db import writing
    from robopass.schema import alembic_config

    command.downgrade(alembic_config(registry.url), "0004")
    with writing(registry.url) as session:
        session.execute(text("UPDATE registry SET origin = 'mine.example/ledger'"))
    command.upgrade(alembic_config(registry.url), "head")
    assert _origin(registry.url) == "mine.example/ledger"
    command.downgrade(alembic_config(registry.url), "0004")
    with writing(registry.url) as session:
        session.execute(text("UPDATE registry SET origin = 'robopass.cn/ledger'"))
    monkeypatch.setenv("ROBOPASS_PUBLIC_URL", "https://registry.gov.example/cn/")
    command.upgrade(alembic_config(registry.url), "head")
    assert _origin(registry.url) == "registry.gov.example/cn/ledger"
