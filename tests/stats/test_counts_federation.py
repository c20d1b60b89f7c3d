"""``unit_counts`` (and ``supply_counts``) stay equal to a recount through a federation
hand-over: admission of a foreign robot (CN), its export, a correction and the end report that
sets its status at the origin (DE) — the writes that do not go through issuance or the event
batch path."""

from __future__ import annotations

from pathlib import Path

from robopass.db import dispose_engine, reading
from robopass.stats import counts, supply
from tests.conftest import Registry
from tests.federation.conftest import _allow_private_destinations  # noqa: F401  (autouse)
from tests.federation.test_handover import Peer, de  # noqa: F401  (the origin fixture)
from tests.federation.test_handover import test_handover_both_ways as _handover_both_ways


def test_counts_follow_admission_and_end_reports(registry: Registry, de: Peer,  # noqa: F811
                                                 tmp_path: Path) -> None:
    _handover_both_ways(registry, de, tmp_path)
    for url, status in ((registry.url, "scrapped"), (de.url, "scrapped")):
        dispose_engine(url)
        with reading(url) as session:
            assert counts.differences(session) == []
            assert supply.differences(session) == []
            stored = counts.stored(session)
        assert sum(n for k, n in stored.items() if k[0] == status) == 1, url
