"""These tests talk to receivers and peer registries on 127.0.0.1: allow private destinations
(robopass.netguard refuses them by default) for the test process and the servers it starts."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _allow_private_destinations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROBOPASS_ALLOW_PRIVATE_DESTINATIONS", "1")
