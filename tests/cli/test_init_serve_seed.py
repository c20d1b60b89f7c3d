"""`robopass init`, `serve` and `seed` from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select
from typer.testing import CliRunner

from robopass.cli import app
from robopass.db import dispose_engine, reading
from robopass.incidents.models import Incident
from robopass.lifecycle.models import FraudAlert, RefusedAttempt
from robopass.organizations.models import Organization
from robopass.product_models.models import ProductModel
from robopass.recalls.models import Recall
from robopass.robots.models import Unit
from tests.conftest import Registry
from tests.utils.server import free_port


def test_init_prints_key_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    first = CliRunner().invoke(app, ["init", "--db", url, "--country", "DE", "--json"])
    assert first.exit_code == 0, first.output
    key = json.loads(first.output)["regulator_api_key"]
    assert key.startswith("rp_")
    again = CliRunner().invoke(app, ["init", "--db", url, "--json"])
    assert json.loads(again.output) == {"regulator_api_key": None}
    bad = CliRunner().invoke(app, ["init", "--db", f"sqlite:///{tmp_path / 'x.db'}",
                                   "--country", "XX"])
    assert bad.exit_code == 2
    dispose_engine(url)


def test_serve_serves_the_api(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    CliRunner().invoke(app, ["init", "--db", url, "--country", "CN"])
    port = free_port()
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src}
    proc = subprocess.Popen([sys.executable, "-m", "robopass", "serve", "--db", url, "--host",
                             "127.0.0.1", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/v1/verify/CN-XYZ", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert r.status_code == 200 and r.json()["format_valid"] is False
        assert httpx.get(f"http://127.0.0.1:{port}/openapi.json").json()["info"]["title"] == \
            "robopass"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_seed_builds_a_realistic_registry(registry: Registry, tmp_path: Path) -> None:
    """A small seed on each backend: the same code path `make demo` runs at 28,000 units."""
    url = registry.url.replace("registry.db", "seeded.db") if registry.backend == "sqlite" \
        else registry.url
    if registry.backend == "postgresql":  # seed needs a new database: wipe the template copy
        from robopass.db import get_engine
        from robopass.models import metadata

        dispose_engine(url)
        with get_engine(url).begin() as conn:
            metadata.drop_all(conn)
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        dispose_engine(url)
    keys = tmp_path / "keys.json"
    result = CliRunner().invoke(app, ["seed", "--db", url, "--units", "400", "--keys-file",
                                      str(keys)])
    assert result.exit_code == 0, result.output
    info = json.loads(keys.read_text())
    assert info["regulator_api_key"].startswith("rp_")
    assert {"manufacturer", "operator", "service_provider", "recycler"} <= set(
        info["organizations"])
    assert info["counts"]["telemetry"] > 0
    with reading(url) as session:
        assert (session.scalar(select(func.count()).select_from(Organization)) or 0) > 100
        assert session.scalar(select(func.count()).select_from(ProductModel)) == 200
        assert session.scalar(select(func.count()).select_from(Unit)) == 400
        statuses = set(session.scalars(select(Unit.status).distinct()))
        assert {"coded", "manufactured", "in_service"} <= statuses
        # the battery recall, and (SPEC §13) closed and overdue campaigns
        assert (session.scalar(select(func.count()).select_from(Recall)) or 0) >= 1
        assert session.scalar(select(func.count()).select_from(Organization)
                              .where(Organization.status == "suspended")) == 1
        assert session.scalar(select(func.count()).select_from(ProductModel)
                              .where(ProductModel.status == "approved",
                                     ProductModel.evaluated_level.is_(None))) == 0
        assert session.scalar(select(func.count()).select_from(Incident)) == 1
        assert session.scalar(select(func.count()).select_from(FraudAlert)) == 1
        # resale attempts of a revoked model's robots, refused and recorded (SPEC §13)
        assert (session.scalar(select(func.count()).select_from(RefusedAttempt)
                               .where(RefusedAttempt.error_code == "model_revoked")) or 0) >= 1
        provinces = set(session.scalars(select(Unit.province).distinct()))
        assert len(provinces - {None}) >= 3
    again = CliRunner().invoke(app, ["seed", "--db", url, "--units", "10", "--keys-file",
                                     str(tmp_path / "k2.json")])
    assert again.exit_code == 2 and "already exists" in again.output
    verify = CliRunner().invoke(app, ["ledger", "verify", "--db", url])
    assert verify.exit_code == 0, verify.output
    dispose_engine(url)


def test_demo_builds_and_serves(tmp_path: Path) -> None:
    """`make demo` runs `robopass demo --db sqlite:///var/demo.db` in a fresh clone (no var/
    yet): build a (small) registry once, then serve it."""
    port = free_port()
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src}
    db = "sqlite:///var/demo.db"
    assert not (tmp_path / "var").exists()
    proc = subprocess.Popen([sys.executable, "-m", "robopass", "demo", "--db", db, "--units",
                             "300", "--port", str(port)], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        r = None
        for _ in range(1200):
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/v1/ledger/head", timeout=1)
                break
            except httpx.HTTPError:
                if proc.poll() is not None:
                    break
                time.sleep(0.1)
        assert r is not None and r.status_code == 200, proc.stdout.read().decode()[-3000:] \
            if proc.poll() is not None and proc.stdout else "server did not answer"
        assert r.json()["size"] > 300
    finally:
        proc.terminate()
        out = proc.communicate(timeout=20)[0].decode()
    assert "Web UI" in out and "Regulator API key" in out
    assert (tmp_path / "var" / "demo-keys.json").exists()
    assert (tmp_path / "var" / "demo.db").exists()
