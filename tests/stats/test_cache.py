"""The aggregate cache: exact when cheap, bounded staleness when costly, never older."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from robopass.db import reading
from robopass.stats import service as stats
from tests.utils.api import ApiClient


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    stats.clear_cache()
    yield
    stats.clear_cache()


class Source:
    """A stamp and a value that change together; computing can be made slow."""

    def __init__(self) -> None:
        self.version = 1
        self.delay = 0.0
        self.calls = 0
        self.done = threading.Event()

    def stamp(self, _session: Any) -> int:
        return self.version

    def compute(self, _session: Any) -> int:
        self.calls += 1
        time.sleep(self.delay)
        self.done.set()
        return self.version


def test_cheap_results_are_always_exact(sqlite_client: ApiClient) -> None:
    src = Source()
    with reading(sqlite_client.registry.url) as s:
        assert stats.cached(s, ("t",), src.compute, stamp_of=src.stamp) == 1
        assert stats.cached(s, ("t",), src.compute, stamp_of=src.stamp) == 1
        assert src.calls == 1  # same stamp: cached
        src.version = 2
        assert stats.cached(s, ("t",), src.compute, stamp_of=src.stamp) == 2


def test_costly_results_are_served_stale_briefly_and_refreshed_once(
        sqlite_client: ApiClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stats, "SYNC_BUDGET", 0.01)
    src = Source()
    src.delay = 0.05
    with reading(sqlite_client.registry.url) as s:
        assert stats.cached(s, ("t",), src.compute, stamp_of=src.stamp) == 1
        src.version = 2
        src.done.clear()
        # costly and stale: the previous value now, one background refresh
        assert stats.cached(s, ("t",), src.compute, stamp_of=src.stamp) == 1
        assert stats.cached(s, ("t",), src.compute, stamp_of=src.stamp) == 1
        assert src.done.wait(10)
        for _ in range(100):  # the refresh stores its result right after computing
            if stats.cached(s, ("t",), src.compute, stamp_of=src.stamp) == 2:
                break
            time.sleep(0.02)
        assert stats.cached(s, ("t",), src.compute, stamp_of=src.stamp) == 2
        assert src.calls == 2
        # older than STALE_SECONDS: computed in the request, never served
        monkeypatch.setattr(stats, "STALE_SECONDS", 0.0)
        src.version = 3
        assert stats.cached(s, ("t",), src.compute, stamp_of=src.stamp) == 3


def test_ttl_entries(sqlite_client: ApiClient) -> None:
    src = Source()
    with reading(sqlite_client.registry.url) as s:
        assert stats.cached(s, ("ttl",), src.compute, ttl=60) == 1
        src.version = 2
        assert stats.cached(s, ("ttl",), src.compute, ttl=60) == 1  # within its TTL
        assert stats.cached(s, ("ttl2",), src.compute, ttl=0) == 2
