"""One Settings (SPEC §12 / issue #12.7): no module but config reads the environment; services
never import FastAPI; only runtime.py tunes the garbage collector."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from robopass import config

SRC = Path(__file__).resolve().parents[1] / "src" / "robopass"


def _sources() -> list[tuple[Path, str]]:
    return [(p, p.read_text()) for p in sorted(SRC.rglob("*.py"))]


def test_only_config_reads_the_environment() -> None:
    reads = re.compile(r"os\.environ(?!\[\"ROBOPASS_[A-Z_]+\"\] =)|os\.getenv|getenv\(")
    offenders = [str(p.relative_to(SRC)) for p, text in _sources()
                 if p.name != "config.py" and reads.search(text)]
    assert offenders == []


#: audit.service.record_read takes the Request; the one access gate of issue #12.1 (the
#: integrator's) replaces it. Listed so this test says so, and fails once it is fixed.
NOT_YET: list[str] = []


def test_services_never_import_fastapi() -> None:
    web = re.compile(r"^\s*(from|import) (fastapi|starlette)\b", re.M)
    offenders = [str(p.relative_to(SRC)) for p, text in _sources()
                 if p.name == "service.py" and web.search(text)]
    assert offenders == NOT_YET


def test_only_runtime_tunes_the_gc() -> None:
    tuning = re.compile(r"gc\.(set_threshold|freeze|unfreeze|disable|enable)\(")
    offenders = [str(p.relative_to(SRC)) for p, text in _sources()
                 if p.name != "runtime.py" and tuning.search(text)]
    assert offenders == []


def test_sections_keep_their_prefixes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROBOPASS_TELEMETRY_MAX_READINGS", "123")
    monkeypatch.setenv("ROBOPASS_SESSION_TTL", "60")
    monkeypatch.setenv("ROBOPASS_SESSION_SECURE", "1")
    monkeypatch.setenv("ROBOPASS_DATABASE_URL", "sqlite:///elsewhere.db")
    settings = config.get_settings()
    assert settings.telemetry.max_readings == 123
    assert (settings.session.ttl, settings.session.secure) == (60, True)
    assert config.database_url() == "sqlite:///elsewhere.db"
    assert config.database_url("sqlite:///given.db") == "sqlite:///given.db"
    monkeypatch.delenv("ROBOPASS_DATABASE_URL")
    assert config.database_url() == "sqlite:///var/robopass.db"
