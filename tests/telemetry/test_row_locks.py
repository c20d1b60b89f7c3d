"""Row locks of a batch's units: on PostgreSQL ``snapshots.lock_rows`` (in sid order, the
lowest first in a statement of its own), on SQLite the single writer lock. Either way a batch
waiting for another gets the rows once that one committed, with its values."""

from __future__ import annotations

import threading
from typing import Any

from robopass.db import dialect_name, transaction, write_session
from robopass.telemetry import snapshots
from tests.telemetry.conftest import make_fleet, reading, ts
from tests.utils.api import ApiClient


def _lock(session: Any, sids: list[int]) -> list[tuple[Any, ...]]:
    if dialect_name(session) == "postgresql":
        return snapshots.locked(session, "telemetry_heads", ("sid", "at"), sids)
    return sorted(snapshots._in(session, "SELECT sid, at FROM telemetry_heads "
                                         "WHERE sid IN ({})", sids))


def test_a_waiting_batch_gets_the_rows_after_the_holder_commits_with_its_values(
        client: ApiClient) -> None:
    fleet = make_fleet(client, count=3)
    r = client.post("/api/v1/telemetry", [reading(c, ts(5)) for c in fleet.codes],
                    fleet.operator)
    assert r.json()["stored"] == 3
    url = client.registry.url
    got: list[list[tuple[int, int]]] = []
    holding, waiting = threading.Event(), threading.Event()

    def second() -> None:
        holding.wait(10)
        waiting.set()  # SQLite blocks at BEGIN, PostgreSQL at the first row
        with write_session(url) as session, transaction(session, ledger=False):
            got.append([(row[0], row[1]) for row in _lock(session, [3, 1, 2])])

    other = threading.Thread(target=second)
    other.start()
    with write_session(url) as session, transaction(session, ledger=False):
        rows = _lock(session, [2, 1, 3])
        assert [row[0] for row in rows] == [1, 2, 3]
        holding.set()
        waiting.wait(10)
        other.join(0.5)
        assert other.is_alive()  # blocked on the rows this transaction holds
        snapshots.cursor(session).execute("UPDATE telemetry_heads SET at = at + 7")
    other.join(10)
    assert got == [[(sid, at + 7) for sid, at in rows]]
