"""Each ``(code, at)`` is stored once, in any order of arrival (SPEC §7): the heads' gap.

A unit's head is ``(at, prev)``: its newest stored reading and a bound below which every
other stored reading lies (migration 0013). A late reading strictly between them is new
without a lookup; any other late reading is looked up in staging (only rows whose time range
can hold it) and in chunks. These tests drive random arrival orders, repeats, staged and
chunked batches and folds through the real store, on SQLite and PostgreSQL, against a model
that is just a set of stored times: a gap bound that were too high would store a repeat, one
that skipped a staged row or chunk would too."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from robopass.db import reading as read_session
from robopass.db import transaction, write_session
from robopass.telemetry import folding, service, staging
from tests.telemetry.conftest import make_fleet, reading, ts
from tests.utils.api import ApiClient


@given(st.lists(st.lists(st.integers(0, 40), min_size=1, max_size=6), min_size=1,
                max_size=15))
def test_a_moved_head_is_the_newest_time_and_the_one_below_it(batches: list[list[int]]) -> None:
    head = service.NO_HEAD
    stored: set[int] = set()
    for batch in batches:
        new = sorted(set(batch) - stored)
        if not new:
            continue
        head = service.moved_head(head, new)
        stored |= set(new)
        assert head == (max(stored), max((t for t in stored if t < max(stored)), default=-1))


def _raw_times(url: str, code: str) -> list[int]:
    with read_session(url) as session:
        sid = session.execute(text("SELECT sid FROM telemetry_units WHERE code = :c"),
                              {"c": code}).scalar_one()
        return [r.at for r in service.raw_readings(session, sid=sid, start_ms=0,
                                                   end_ms=1 << 62)]


def _fold(url: str) -> None:
    with write_session(url) as session, transaction(session, ledger=False):
        service.fold_staged(session)


def _fold_two_phase(url: str) -> None:
    while folding.fold_once(url, two_phase=True):
        pass


def _batch(rng: random.Random, codes: list[str]) -> list[tuple[str, int]]:
    """A few readings per unit (staged), or a buffered upload of ten or more (chunks);
    times from a small range, so repeats and late readings are common."""
    per_unit = rng.choice([1, 1, 2, 3, 12])
    return [(code, rng.randrange(40)) for code in codes for _ in range(per_unit)
            if rng.random() < 0.8]


@pytest.mark.parametrize("fold", ["in_lock", "two_phase"])
def test_random_orders_store_each_time_once(client: ApiClient, fold: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """``two_phase``: every staged batch leaves its snapshots to the fold, which the folder
    thread's two phases do (the chunk spans it skips writing are those that cannot grow)."""
    if fold == "two_phase":
        monkeypatch.setattr(service, "DEFER_SNAPSHOTS_FROM", 1)
    fold_now = _fold_two_phase if fold == "two_phase" else _fold
    fleet = make_fleet(client)
    url = client.registry.url
    rng = random.Random(16)
    model: dict[str, set[int]] = {code: set() for code in fleet.codes}
    for step in range(40):
        batch = _batch(rng, fleet.codes)
        if not batch:
            continue
        body: list[dict[str, Any]] = [reading(code, ts(40 - k)) for code, k in batch]
        r = client.post("/api/v1/telemetry", body, fleet.operator)
        assert r.status_code == 200, r.json()
        new = {(code, k) for code, k in batch} - {(c, k) for c in model for k in model[c]}
        assert (r.json()["stored"], r.json()["duplicates"]) == (len(new), len(batch) - len(new)), \
            (step, batch, model)
        for code, k in new:
            model[code].add(k)
        if rng.random() < 0.25:
            fold_now(url)
    for code in fleet.codes:
        times = _raw_times(url, code)
        assert len(times) == len(set(times)) == len(model[code])
    fold_now(url)
    with read_session(url) as session:
        heads = dict(session.execute(text("SELECT sid, prev FROM telemetry_heads")).all())
        spans = session.execute(text(
            "SELECT u.sid, u.chunk_span, max(c.last_at - c.at) FROM telemetry_units u "
            "JOIN telemetry_chunks c ON c.sid = u.sid GROUP BY u.sid, u.chunk_span")).all()
    assert any(prev >= 0 for prev in heads.values())  # the gap was in use
    # a late reading's lookup reads back as far as the unit's longest chunk: kept exactly
    assert spans and all(kept == longest for _, kept, longest in spans), spans


def _one_unit(client: ApiClient) -> tuple[Callable[..., tuple[int, int]], str, str]:
    """``post(*minutes_ago) -> (stored, duplicates)`` for one new unit, its code, the url."""
    fleet = make_fleet(client, count=1)
    code = fleet.codes[0]

    def post(*minutes: float) -> tuple[int, int]:
        r = client.post("/api/v1/telemetry", [reading(code, ts(m)) for m in minutes],
                        fleet.operator)
        return r.json()["stored"], r.json()["duplicates"]
    return post, code, client.registry.url


def test_a_late_reading_in_the_gap_is_stored_and_one_below_it_is_looked_up(
        client: ApiClient) -> None:
    post, code, url = _one_unit(client)

    assert post(10) == (1, 0)
    assert post(30) == (1, 0)  # late, nothing below the head known: looked up, new
    assert post(20) == (1, 0)  # in the gap (30, 10): new without a lookup
    _fold(url)
    assert post(30) == (0, 1)  # below the gap: found in a chunk
    assert post(20) == (0, 1)  # the gap's bound itself: found
    assert post(10) == (0, 1)  # the head itself: found
    assert post(25, 15) == (2, 0)
    assert post(25, 15, 5) == (1, 2)  # staged repeats found too
    assert len(_raw_times(url, code)) == 6


def test_chunks_are_read_only_for_readings_as_old_as_the_snapshot(
        client: ApiClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fold moves readings into chunks and the snapshot's ``at`` past them in one
    transaction, so a late reading newer than the snapshot is a repeat only of a staged one
    (its snapshot update left to the fold here, as on the live shape)."""
    monkeypatch.setattr(service, "DEFER_SNAPSHOTS_FROM", 1)
    post, code, url = _one_unit(client)
    assert post(50) == (1, 0)
    _fold(url)  # in a chunk; the snapshot at 50 minutes ago
    assert post(20) == (1, 0)
    assert post(30) == (1, 0)  # the head's gap is (30, 20) now
    assert post(40) == (1, 0)  # below it, newer than the snapshot: staging only, new
    assert post(40) == (0, 1)  # staged: found
    assert post(50) == (0, 1)  # as old as the snapshot: found in its chunk
    assert post(55) == (1, 0)
    _fold(url)
    assert post(40, 55) == (0, 2)
    assert len(_raw_times(url, code)) == 5


def test_staged_rows_outside_the_range_are_not_read(client: ApiClient) -> None:
    url = client.registry.url
    columns = [[None] * 2 for _ in range(9)]
    with write_session(url) as session, transaction(session, ledger=False):
        conn = session.connection()
        staging.stage(conn, [7, 8], [[1_000, 2_000], *columns[1:]])
        staging.stage(conn, [7, 8], [[5_000, 6_000], *columns[1:]])
        among = staging.staged_among
        assert among(conn, {(7, 1_000), (7, 3_000), (7, 5_000)}, lo=0, hi=1 << 62) == {
            (7, 1_000), (7, 5_000)}
        assert among(conn, {(7, 5_000), (8, 2_000), (8, 5_000)}, lo=1_500, hi=5_500) == {
            (8, 2_000), (7, 5_000)}
        assert among(conn, {(7, 2_001), (8, 4_999)}, lo=2_001, hi=4_999) == set()
        assert set(staging.readings_of(conn, {8}, start_ms=2_001, end_ms=6_001)) == {8}
        assert staging.readings_of(conn, {8}, start_ms=2_001, end_ms=6_000) == {}


def test_the_migration_starts_every_known_head_with_an_empty_gap(client: ApiClient) -> None:
    """0013 gives existing heads ``prev = at`` (nothing known below the newest reading) and
    rows staged before it the widest range: repeats are still found, new readings stored."""
    from alembic import command

    from robopass.db import dispose_engine
    from robopass.schema import alembic_config

    post, code, url = _one_unit(client)

    assert post(30, 10) == (2, 0)
    dispose_engine(url)
    command.downgrade(alembic_config(url), "0012")
    command.upgrade(alembic_config(url), "head")
    dispose_engine(url)
    with read_session(url) as session:
        assert session.execute(text("SELECT at = prev, lo < 0, hi > 0 FROM telemetry_heads, "
                                    "telemetry_staging")).one() == (True, True, True)
    assert post(30, 20, 10) == (1, 2)  # 20: looked up (no gap known yet), new
    assert post(25) == (1, 0)
    assert len(_raw_times(url, code)) == 4
