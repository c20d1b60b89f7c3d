"""Readings stored in chunks: the pure format, and storage semantics on both databases
(each reading once, late and out-of-order readings, hour boundaries, exact reads)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from robopass.db import reading as read_tx
from robopass.db import write_session
from robopass.telemetry import chunks, service
from robopass.telemetry.models import TelemetryChunk
from tests.telemetry.conftest import make_fleet

HOUR = chunks.HOUR_MS


# --------------------------------------------------------------------------- pure format

_values = st.one_of(st.none(), st.floats(0, 100))
_column_sets = st.integers(1, 40).flatmap(lambda n: st.tuples(
    st.lists(st.integers(0, 2**50), min_size=n, max_size=n),
    *[st.lists(_values, min_size=n, max_size=n) for _ in range(5)],
    st.lists(st.one_of(st.none(), st.binary(min_size=8, max_size=40)), min_size=n, max_size=n),
    st.lists(st.one_of(st.none(), st.just("[]"), st.just('["E1"]')), min_size=n, max_size=n),
    st.lists(st.one_of(st.none(), st.text(min_size=1, max_size=8)), min_size=n, max_size=n)))


@settings(deadline=None)  # no timing: a loaded machine made the 200 ms default flaky
@given(_column_sets, st.data())
def test_encode_then_decode_gives_the_chosen_readings_back(columns: Any, data: Any) -> None:
    n = len(columns[0])
    positions = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True))
    raws = chunks.decode(chunks.encode(columns, positions))
    assert [tuple(r) for r in raws] == [tuple(col[i] for col in columns) for i in positions]
    assert chunks.times(chunks.encode(columns, positions)) == [columns[0][i] for i in positions]


def test_times_reads_only_the_times_and_refuses_what_it_cannot_read() -> None:
    columns = [[5, 7], [90.5, None], [1, 2], [99.0, 98.0], [1.5, 2.5], [10.0, 11.0],
               [b"k" * 12, None], ['["E1"]', None], ["1.0", "1.1"]]
    data = chunks.encode(columns, [1, 0])
    assert chunks.times(data) == [7, 5] == [r.at for r in chunks.decode(data)]
    for bad in (b"garbage", msgspec.msgpack.encode([2, [5]]), msgspec.msgpack.encode(5)):
        with pytest.raises(chunks.ChunkError):
            chunks.times(bad)


def test_split_by_hour_sorts_stably_and_cuts_at_clock_hours() -> None:
    ats = [HOUR * 5 + 10, HOUR * 4 + 3_599_999, HOUR * 5, HOUR * 4, HOUR * 5 + 10]
    assert chunks.split_by_hour([0, 1, 2, 3, 4], ats) == [[3, 1], [2, 0, 4]]
    assert chunks.split_by_hour([4, 0], ats) == [[4, 0]]  # equal times keep their order
    assert chunks.first_of_each_time([2, 0, 4], ats) == [2, 0]
    assert chunks.first_of_each_time([2, 4, 0], ats) == [2, 4]


def test_an_unreadable_chunk_is_an_error_not_wrong_readings() -> None:
    with pytest.raises(chunks.ChunkError):
        chunks.decode(b"\xc1 not msgpack")
    with pytest.raises(chunks.ChunkError):
        chunks.decode(chunks._encode([2, [1], [None]]))  # another format version


# --------------------------------------------------------------------------- storage

START = datetime(2026, 1, 1, tzinfo=UTC)


def _at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def _store(url: str, readings: list[dict[str, Any]], *, fold: bool = True) -> dict[str, Any]:
    """Store as the system (any age after 2000); then, with ``fold``, fold what the live path
    staged into chunks (as the server's folder thread does)."""
    with write_session(url) as session, session.begin():
        result = service.store_readings(session, readings)
    if fold:
        with write_session(url) as session, session.begin():
            service.fold_staged(session)
    return result


def _reading(code: str, minutes: float, soh: float, **more: Any) -> dict[str, Any]:
    return {"code": code, "at": _at(minutes), "metrics": {"battery_soh": soh, **more}}


@pytest.mark.parametrize("fold", [True, False], ids=["folded", "staged"])
def test_each_reading_is_stored_once_across_batches_hours_and_late_uploads(client,
                                                                           fold) -> None:
    """Folded into chunks or still staged, the same readings are found and read."""
    url = client.registry.url
    code = make_fleet(client, 1).codes[0]
    # one batch over two clock hours, out of order, with a repeat (the first sent wins)
    first = _store(url, [_reading(code, 70, 70.0), _reading(code, 10, 10.0),
                         _reading(code, 50, 50.0), _reading(code, 10, 99.0),
                         _reading(code, 61, 61.0)], fold=fold)
    assert first == {"stored": 4, "duplicates": 1, "rejected": []}
    with read_tx(url) as session:
        assert session.scalar(select(func.count()).select_from(TelemetryChunk)) == (
            2 if fold else 0)
    # later: newer readings, a late one inside a stored hour, and repeats of stored ones
    second = _store(url, [_reading(code, 80, 80.0), _reading(code, 30, 30.0),
                          _reading(code, 50, 55.0), _reading(code, 70, 77.0),
                          _reading(code, 30, 33.0)], fold=fold)
    assert second == {"stored": 2, "duplicates": 3, "rejected": []}
    # a batch of only repeats stores nothing and writes no chunk
    assert _store(url, [_reading(code, 10, 1.0), _reading(code, 80, 1.0)], fold=fold) == {
        "stored": 0, "duplicates": 2, "rejected": []}
    with read_tx(url) as session:
        if fold:
            assert session.scalar(select(func.count()).select_from(TelemetryChunk)) == 4
            assert session.scalar(select(func.sum(TelemetryChunk.n))) == 6
        rows = service.readings_between(session, code=code, start=_at(0), end=_at(120))
        assert [(r["at"], r["battery_soh"]) for r in rows] == [
            (_at(10), 10.0), (_at(30), 30.0), (_at(50), 50.0), (_at(61), 61.0),
            (_at(70), 70.0), (_at(80), 80.0)]
        # exact bounds (from inclusive, to exclusive), also inside an hour and across chunks
        rows = service.readings_between(session, code=code, start=_at(30), end=_at(61))
        assert [r["at"] for r in rows] == [_at(30), _at(50)]
        # the limit takes the earliest, though a later-stored chunk holds an earlier reading
        rows = service.readings_between(session, code=code, start=_at(0), end=_at(120),
                                        limit=2)
        assert [r["at"] for r in rows] == [_at(10), _at(30)]
        # hourly aggregates from the chunks
        body = service.series(session, code=code, start=_at(0), end=_at(120),
                              resolution="hour")
        assert [(p["count"], p["battery_soh"]) for p in body["points"]] == [
            (3, {"min": 10.0, "avg": 30.0, "max": 50.0}),
            (3, {"min": 61.0, "avg": 70.333, "max": 80.0})]
        raw = service.series(session, code=code, start=_at(0), end=_at(120),
                             resolution="raw", limit=4)
        assert [p["battery_soh"] for p in raw["points"]] == [10.0, 30.0, 50.0, 61.0]
        assert raw["next_from"] == service.rfc3339_ms(service.dt_to_ms(_at(70)))


def test_every_metric_comes_back_as_sent(client) -> None:
    url = client.registry.url
    code = make_fleet(client, 1).codes[0]
    metrics = {"battery_soh": 88.5, "cycle_count": 1200, "accuracy": 97.25,
               "operating_hours": 4321.5, "joint_wear": {"knee_l": 20.5, "hip_r": 11.25},
               "fault_codes": ["E42", "W7"], "firmware": "3.1.4"}
    sparse = {"firmware": "3.1.5"}
    assert _store(url, [{"code": code, "at": _at(5), "metrics": metrics},
                        {"code": code, "at": _at(6), "metrics": sparse}])["stored"] == 2
    with read_tx(url) as session:
        full, thin = service.readings_between(session, code=code, start=_at(0), end=_at(60))
    assert full == {"at": _at(5), **metrics}
    assert thin == {"at": _at(6), "battery_soh": None, "cycle_count": None, "accuracy": None,
                    "operating_hours": None, "joint_wear": None, "fault_codes": None,
                    "firmware": "3.1.5"}


def test_units_in_one_batch_get_their_own_chunks(client) -> None:
    url = client.registry.url
    a, b = make_fleet(client, 2).codes
    result = _store(url, [_reading(code, m, 90.0) for m in range(0, 120, 10) for code in (a, b)])
    assert result["stored"] == 24
    with read_tx(url) as session:
        per_chunk = list(session.execute(select(TelemetryChunk.sid, TelemetryChunk.n)
                                         .order_by(TelemetryChunk.sid, TelemetryChunk.at)))
        assert [n for _sid, n in per_chunk] == [6, 6, 6, 6]
        for code in (a, b):
            rows = service.readings_between(session, code=code, start=_at(0), end=_at(120))
            assert [r["at"] for r in rows] == [_at(m) for m in range(0, 120, 10)]


def test_the_migration_moves_rows_into_chunks_and_back(client) -> None:
    """0001 stored one row per reading; 0002 moves them into chunks (and its downgrade back),
    and the readings read the same."""
    from alembic import command
    from sqlalchemy import text

    from robopass.db import dispose_engine, get_engine
    from robopass.schema import alembic_config
    from robopass.telemetry import readings as rd

    url = client.registry.url
    a, b = make_fleet(client, 2).codes
    sent = [_reading(code, m, 50.0 + m / 10, joint_wear={"knee": m / 2}, fault_codes=[])
            for code in (a, b) for m in (5, 50, 65, 200)]
    assert _store(url, sent)["stored"] == 8
    with read_tx(url) as session:
        before = {code: service.readings_between(session, code=code, start=_at(0),
                                                 end=_at(300)) for code in (a, b)}
    dispose_engine(url)
    command.downgrade(alembic_config(url), "0001")
    with get_engine(url).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM telemetry_readings")).scalar() == 8
        sid = conn.execute(text("SELECT sid FROM telemetry_units WHERE code = :c"),
                           {"c": a}).scalar()
        # a reading stored by the old code (one row), with packed joint wear
        conn.execute(text("INSERT INTO telemetry_readings (sid, at, battery_soh, joint_wear) "
                          "VALUES (:s, :at, 42.0, :w)"),
                     {"s": sid, "at": service.dt_to_ms(_at(66)),
                      "w": rd.pack_wear({"knee": 1.5})})
        conn.commit()
    dispose_engine(url)
    command.upgrade(alembic_config(url), "head")
    with read_tx(url) as session:
        assert session.scalar(select(func.count()).select_from(TelemetryChunk)) == 6
        after = {code: service.readings_between(session, code=code, start=_at(0),
                                                end=_at(300)) for code in (a, b)}
    assert after[b] == before[b]
    assert [r["at"] for r in after[a]] == [_at(5), _at(50), _at(65), _at(66), _at(200)]
    assert [r for r in after[a] if r["at"] != _at(66)] == before[a]
    assert next(r for r in after[a] if r["at"] == _at(66))["joint_wear"] == {"knee": 1.5}
    # and ingest goes on: a repeat of a migrated reading is a duplicate
    assert _store(url, [_reading(a, 66, 1.0)]) == {"stored": 0, "duplicates": 1,
                                                    "rejected": []}


@pytest.mark.parametrize("fold", [True, False], ids=["folded", "staged"])
def test_a_late_reading_is_checked_against_every_chunk_that_can_hold_it(client, fold) -> None:
    """The late check reads only chunks starting at or after ``t - chunk_span`` (the unit's
    longest chunk): a repeat inside a long chunk that started well before it is still found."""
    from robopass.telemetry.models import TelemetryUnit

    url = client.registry.url
    code = make_fleet(client, 1).codes[0]
    assert _store(url, [_reading(code, m, 1.0) for m in (10, 20, 30)])["stored"] == 3
    assert _store(url, [_reading(code, 50, 1.0)], fold=fold)["stored"] == 1
    assert _store(url, [_reading(code, 52, 1.0)], fold=fold)["stored"] == 1
    with read_tx(url) as session:
        span = session.scalar(select(TelemetryUnit.chunk_span).where(TelemetryUnit.code == code))
    assert span == 20 * 60_000  # the first chunk's; shorter ones later do not lower it
    late = _store(url, [_reading(code, 20, 9.0), _reading(code, 25, 9.0), _reading(code, 50, 9.0),
                        _reading(code, 51, 9.0)], fold=fold)
    assert late == {"stored": 2, "duplicates": 2, "rejected": []}
    with read_tx(url) as session:
        rows = service.readings_between(session, code=code, start=_at(0), end=_at(60))
    assert [(r["at"], r["battery_soh"]) for r in rows] == [
        (_at(10), 1.0), (_at(20), 1.0), (_at(25), 9.0), (_at(30), 1.0), (_at(50), 1.0),
        (_at(51), 9.0), (_at(52), 1.0)]
