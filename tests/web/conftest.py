"""Fixtures of the browser tests: one Chromium and one demo registry behind a real server per
test module (module scope), so the browser modules stay moderate in time."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from tests.utils.server import running_server

from robopass import seed as demo_seed

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM) or shutil.which("chromium") is None:
        from tests.conftest import require_service

        require_service(False, "Chromium at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A 600-unit demo registry (the same seeder as ``robopass seed``) behind a real server."""
    path = tmp_path_factory.mktemp("webui") / "demo.db"
    url = f"sqlite:///{path}"
    result = demo_seed.seed(url, units=600)
    keys = json.loads(json.dumps(result.keys))
    with running_server(url) as base:
        yield {"base": base, "db": str(path), "regulator": result.regulator_key, "keys": keys,
               "samples": result.sample_codes}


