"""The event-time, health and ingest tests with every staged batch deferred and every fold
(health reads, a long backlog) done by the background folder's two-phase code
(``telemetry.folding``: plan in one step, write in the next; here in one transaction), so
its plan matches ``snapshots.update`` on every case those tests cover."""

from __future__ import annotations

from typing import Any

import pytest

from robopass.telemetry import folding, service, staging
from tests.telemetry.conftest import rerun_live_suites


def _two_phase_fold(where: Any, *, rows: int = staging.FOLD_ROWS) -> int:
    session = staging._session(where)
    prepared = folding.prepare(session, rows=rows)
    return 0 if prepared is None else folding.commit(session, prepared)


rerun_live_suites(globals())


@pytest.fixture(autouse=True)
def _every_fold_in_two_phases(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(service, "DEFER_SNAPSHOTS_FROM", 1)
    monkeypatch.setattr(staging, "fold", _two_phase_fold)
