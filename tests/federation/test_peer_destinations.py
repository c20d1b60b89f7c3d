"""Peer registries only at public addresses unless the operator allows otherwise (SPEC §12)."""

from __future__ import annotations

import pytest

from robopass import netguard
from robopass.db import reading
from robopass.federation import service
from tests.conftest import Registry


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:8000", "http://2130706433",
                                      "http://169.254.169.254", "http://[::1]:8000"])
def test_internal_peers_are_refused(registry: Registry, monkeypatch: pytest.MonkeyPatch,
                                    base_url: str) -> None:
    monkeypatch.setenv("ROBOPASS_ALLOW_PRIVATE_DESTINATIONS", "0")
    with reading(registry.url) as session, pytest.raises(netguard.ForbiddenDestination) as err:
        service.check_peer(session, country="DE", base_url=base_url)
    assert err.value.extra["field"] == "base_url"
    monkeypatch.setenv("ROBOPASS_ALLOW_PRIVATE_DESTINATIONS", "1")
    with reading(registry.url) as session:
        assert service.check_peer(session, country="DE", base_url=base_url)[0] == "DE"
