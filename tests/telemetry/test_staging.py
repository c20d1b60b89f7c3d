"""Staged rows (``telemetry.staging``): pack, unpack, and the times-only read of the
duplicate check."""

from __future__ import annotations

import struct

import msgspec
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from robopass.telemetry import chunks, readings, staging

COLUMNS = [[5, 7, 6], [90.5, None, 80.0], [1, 2, None], [99.0, 98.0, 97.0], [1.5, 2.5, 3.5],
           [10.0, 11.0, None], [b"k" * 12, None, None], ['["E1"]', None, "[]"],
           ["1.0", "1.1", None]]


def test_unpack_times_gives_the_sids_and_times_unpack_gives() -> None:
    blob, data = staging.pack([4, 2, 4], COLUMNS)
    assert staging.unpack_times(data) == ([4, 2, 4], [5, 7, 6])
    assert staging.unpack(data)[:2] == [[4, 2, 4], [5, 7, 6]]
    assert staging.has_sid(blob, 2) and staging.has_sid(blob, 4) and not staging.has_sid(blob, 3)


@pytest.mark.parametrize("bad", [b"garbage", msgspec.msgpack.encode([2, [1], [5]]),
                                 msgspec.msgpack.encode([1, [1], ["x"]])])
def test_unpack_times_refuses_what_it_cannot_read(bad: bytes) -> None:
    with pytest.raises(chunks.ChunkError):
        staging.unpack_times(bad)


def test_unpack_wear_reverses_pack_wear_to_three_decimals() -> None:
    wear = {"hip": 12.34567, "knee": 0.0004, "ankle": 99.9996}
    blob = readings.pack_wear(wear)
    names = tuple(wear)
    assert readings.unpack_wear(blob, names) == {"hip": 12.346, "knee": 0.0, "ankle": 100.0}
    with pytest.raises(struct.error):  # as before
        readings.unpack_wear(blob + b"\0\0\0\0", names)


@given(st.lists(st.floats(0, 100, width=32), min_size=1, max_size=64),
       st.sampled_from(["j", 'arm "left"', "100%", "nan_joint", "腕"]))
def test_wear_json_is_the_unpacked_wear_as_json(values: list[float], prefix: str) -> None:
    """The fold writes a snapshot's joint wear straight from the packed bytes: the same
    numbers as ``orjson.dumps(unpack_wear(...))`` (ties at the third decimal included)."""
    names = tuple(f"{prefix}{k}" for k in range(len(values)))
    blob = readings.pack_wear(dict(zip(names, values, strict=True)))
    text = readings.wear_json(blob, names)
    assert orjson.loads(text) == readings.unpack_wear(blob, names)
    with pytest.raises(struct.error):
        readings.wear_json(blob[:-1], names)


def test_wear_json_rounds_ties_to_even_like_round() -> None:
    names = ("a", "b", "c")
    blob = readings.pack_wear({"a": 0.0625, "b": 0.1875, "c": 2.5})  # exact in float32
    assert orjson.loads(readings.wear_json(blob, names)) == {"a": 0.062, "b": 0.188, "c": 2.5}


def test_ingest_bounds_the_backlog_when_no_folder_runs(client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Past ``MAX_BACKLOG`` staged rows an ingest folds the oldest ``FOLD_ROWS`` of them (more
    than it added), so staging stays bounded and no single batch folds all of it."""
    from sqlalchemy import text

    from robopass.db import reading as read_session
    from robopass.telemetry import service
    from tests.telemetry.conftest import make_fleet, reading, ts

    monkeypatch.setattr(staging, "MAX_BACKLOG", 6)
    monkeypatch.setattr(staging, "FOLD_ROWS", 4)
    fleet = make_fleet(client, count=1)
    seen = []
    for k in range(12):
        r = client.post("/api/v1/telemetry", [reading(fleet.codes[0], ts(30 - k))],
                        fleet.operator)
        assert r.json()["stored"] == 1
        with read_session(client.registry.url) as session:
            seen.append(session.execute(text("SELECT count(*) FROM telemetry_staging")).scalar())
    # 7 staged > 6: the oldest 4 folded, 3 left
    assert seen == [1, 2, 3, 4, 5, 6, 3, 4, 5, 6, 3, 4], seen
    with read_session(client.registry.url) as session:
        sid = session.execute(text("SELECT sid FROM telemetry_units")).scalar_one()
        assert len(service.raw_readings(session, sid=sid, start_ms=0, end_ms=1 << 62)) == 12


def _staged(url: str) -> int:
    from sqlalchemy import text

    from robopass.db import reading as read_session

    with read_session(url) as session:
        return int(session.execute(text("SELECT count(*) FROM telemetry_staging")).scalar_one())


def test_the_folder_folds_whole_groups_and_the_rest_once_it_waited(client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A fold of ``FOLD_ROWS`` rows shares each unit's chunk and snapshot update among more
    readings; the folder leaves fewer rows for the next round, and folds them however few
    once they waited a round (their snapshots and alerts wait for the fold)."""
    import time

    from robopass.telemetry import folding
    from tests.telemetry.conftest import make_fleet, reading, ts

    fleet = make_fleet(client, count=2)
    url = client.registry.url
    for k in range(5):
        r = client.post("/api/v1/telemetry", [reading(c, ts(30 - k)) for c in fleet.codes],
                        fleet.operator)
        assert r.json()["stored"] == 2
    assert folding.fold_once(url, rows=2, whole=True) == 4  # the oldest two rows
    assert folding.fold_once(url, rows=2, whole=True) == 4
    assert folding.fold_once(url, rows=2, whole=True) == 0  # one row left: not a whole group
    assert _staged(url) == 1
    monkeypatch.setattr(staging, "FOLD_ROWS", 2)
    stop = staging.start_background_folder(url, interval=0.02)
    try:
        deadline = time.monotonic() + 30
        while _staged(url) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
    assert _staged(url) == 0


def test_a_fold_keeps_its_readings_compact_and_empties_what_it_took() -> None:
    blob, data = staging.pack([4, 2, 4], COLUMNS)
    _, data2 = staging.pack([3], [[9], [70.0], [3], [95.0], [4.0], [12.0], [None], ["[]"],
                                  ["1.0"]])
    taken = [(1, data, 1), (2, data2, 0)]
    built = staging.build(taken)
    assert taken == [] and built.ids == [1, 2]
    assert list(built.columns[0]) == [4, 2, 4, 3] and list(built.columns[1]) == [5, 7, 6, 9]
    firmware = built.columns[-1]
    assert firmware == ["1.0", "1.1", None, "1.0"] and firmware[0] is firmware[3]
    assert built.groups == {3: [3]}  # only the row whose snapshots were left to the fold
    assert sorted((sid, n) for sid, _, _, n, _ in built.chunk_rows) == [(2, 1), (3, 1), (4, 2)]


def test_build_keeps_one_string_per_repeated_text() -> None:
    """A fold holds every reading of its rows at once: fault codes and firmware, the same text
    reading after reading, are one string each, not one per reading; the columns are those
    unpacked."""
    first = staging.pack([5, 7, 6], COLUMNS)[1]
    later = [[at + 10 for at in COLUMNS[0]], *COLUMNS[1:]]
    built = staging.build([(1, first, 1), (2, staging.pack([5, 7, 6], later)[1], 1)])
    assert [list(col) for col in built.columns] == [[5, 7, 6, 5, 7, 6], *[a + b for a, b in zip(
        COLUMNS, later, strict=True)]]
    faults, firmware = built.columns[8], built.columns[9]
    assert faults[0] is faults[3] and faults[2] is faults[5]
    assert firmware[0] is firmware[3] and firmware[1] is firmware[4]


def test_build_keeps_whole_number_columns_in_arrays_and_gives_the_same_chunks() -> None:
    """Numbers of one type are held in C arrays; a None, an int among floats or an int past
    64 bits keeps the column a list, so every value comes back equal and of its type, and
    the chunks are byte for byte those of the lists."""
    from array import array

    full = [[1, 2], [90.5, 80.0], [3, 4], [99.0, 98.0], [1.5, 2.5], [10.0, 11.0],
            [b"k" * 12, None], ["[]", "[]"], ["1.0", "1.0"]]
    odd = [[3, 4], [None, 70.0], [1 << 63, 5], [97, 96.0], [3.5, 4.5], [12.0, 13.0],
           [None, None], ["[]", None], ["1.1", None]]
    built = staging.build([(1, staging.pack([8, 9], full)[1], 1)])
    assert all(type(built.columns[k]) is array for k in (2, 3, 4, 5, 6))
    mixed = staging.build([(1, staging.pack([8, 9], full)[1], 1),
                           (2, staging.pack([8, 9], odd)[1], 1)])
    assert all(type(mixed.columns[k]) is list for k in (2, 3, 4)), "None, huge int, int"
    assert type(mixed.columns[5]) is array and type(mixed.columns[6]) is array
    for k in range(1, len(full)):
        got = list(mixed.columns[k + 1])
        assert got == full[k] + odd[k]
        assert [type(v) for v in got] == [type(v) for v in full[k] + odd[k]]
    cols = [[*a, *b] for a, b in zip(full, odd, strict=True)]
    for sid, _, _, _, data in mixed.chunk_rows:
        pos = [i for i, s in enumerate([8, 9, 8, 9]) if s == sid]
        assert data == chunks.encode(cols, sorted(pos, key=cols[0].__getitem__))


def test_store_drops_the_chunk_rows_it_wrote(client) -> None:  # type: ignore[no-untyped-def]
    """The snapshot work after ``store`` need not hold the encoded chunks (~6 MB a fold)."""
    from sqlalchemy import text

    from robopass.db import transaction, write_session
    from tests.telemetry.conftest import make_fleet, reading, ts

    fleet = make_fleet(client, count=2)
    r = client.post("/api/v1/telemetry", [reading(code, ts(1)) for code in fleet.codes],
                    fleet.operator)
    assert r.json()["stored"] == 2
    with write_session(client.registry.url) as session, transaction(session, ledger=False):
        conn = session.connection()
        built = staging.build(staging.take(conn, staging.FOLD_ROWS)[0])
        assert len(built.chunk_rows) == 2
        staging.store(conn, built)
        assert built.chunk_rows == []
        chunks_now = session.execute(text("SELECT count(*) FROM telemetry_chunks")).scalar()
        assert chunks_now == 2


def _three_staged_rows(conn) -> list[int]:  # type: ignore[no-untyped-def]
    """Rows: unit 1 at 10 and unit 2 at 11; unit 2 at 20; unit 1 at 30 (ids, oldest first)."""
    from sqlalchemy import text

    def cols(ats: list[int]) -> list[list[object]]:
        return [ats, *[[None] * len(ats) for _ in COLUMNS[1:]]]

    staging.stage(conn, [1, 2], cols([10, 11]))
    staging.stage(conn, [2], cols([20]))
    staging.stage(conn, [1], cols([30]))
    return [row[0] for row in conn.execute(text("SELECT id FROM telemetry_staging ORDER BY id"))]


def test_staged_reads_choose_rows_by_unit_time_and_skip(registry) -> None:  # type: ignore[no-untyped-def]
    from robopass.db import transaction, write_session

    with write_session(registry.url) as session, transaction(session, ledger=False):
        conn = session.connection()
        ids = _three_staged_rows(conn)
        got = staging.readings_of(conn, {1})
        assert sorted(r.at for r in got[1]) == [10, 30] and set(got) == {1}
        assert [r.at for r in staging.readings_of(conn, {1}, skip=[ids[2]])[1]] == [10]
        both = staging.readings_of(conn, {1, 2}, start_ms=11, end_ms=30)
        assert {sid: [r.at for r in raws] for sid, raws in both.items()} == {2: [11, 20]}
        wanted = {(1, 11), (1, 30), (2, 11), (2, 20), (2, 30)}
        assert staging.staged_among(conn, wanted, lo=11, hi=30) == {(1, 30), (2, 11), (2, 20)}
        assert staging.staged_among(conn, {(3, 10), (3, 30)}, lo=10, hi=30) == set()
        session.rollback()


def test_staged_reads_fetch_only_the_chosen_rows_data(sqlite_registry) -> None:  # type: ignore[no-untyped-def]
    """A staged row's data (~1 MB) is fetched only when the row holds a wanted unit, in
    range, and is not skipped (a fold's own rows, under the write lock)."""
    from robopass.db import transaction, write_session

    with write_session(sqlite_registry.url) as session, transaction(session, ledger=False):
        conn = session.connection()
        ids = _three_staged_rows(conn)
        statements: list[str] = []
        conn.connection.driver_connection.set_trace_callback(statements.append)
        try:
            staging.readings_of(conn, {1}, skip=[ids[2]])
            staging.staged_among(conn, {(2, 20)}, lo=20, hi=20)
        finally:
            conn.connection.driver_connection.set_trace_callback(None)
        fetched = [s for s in statements if s.startswith("SELECT data")]
        assert fetched == [f"SELECT data FROM telemetry_staging WHERE id IN ({ids[0]}) ORDER BY id",
                           f"SELECT data FROM telemetry_staging WHERE id IN ({ids[1]}) ORDER BY id"]
        session.rollback()


@pytest.mark.parametrize("setting", [0, 1])
def test_remove_deletes_folded_rows_without_zeroing_and_keeps_the_setting(sqlite_registry,
                                                                          setting) -> None:  # type: ignore[no-untyped-def]
    """The folded rows' readings live on in chunks: their ~250 pages each are not zeroed
    (``secure_delete`` off for that statement only); the connection keeps its setting for
    every other delete."""
    from sqlalchemy import text

    from robopass.db import transaction, write_session

    with write_session(sqlite_registry.url) as session, transaction(session, ledger=False):
        conn = session.connection()
        ids = _three_staged_rows(conn)
        raw = conn.connection.driver_connection
        raw.execute(f"PRAGMA secure_delete = {setting}")
        statements: list[str] = []
        raw.set_trace_callback(statements.append)
        try:
            staging.remove(conn, ids[:2])
        finally:
            raw.set_trace_callback(None)
        delete = next(i for i, s in enumerate(statements) if s.startswith("DELETE"))
        assert statements[delete - 1] == "PRAGMA secure_delete = 0"
        assert statements[delete + 1] == f"PRAGMA secure_delete = {setting}"
        assert raw.execute("PRAGMA secure_delete").fetchone()[0] == setting
        left = conn.execute(text("SELECT id FROM telemetry_staging")).scalars().all()
        assert left == ids[2:]
        session.rollback()


def test_a_fold_takes_rows_up_to_its_units_bound(registry, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Rows of different units (a large fleet) are folded a few at a time, as many as hold
    ``FOLD_UNITS`` units, and that is a whole fold; rows of the same units up to
    ``FOLD_ROWS``; a first row is taken however many units it holds."""
    from robopass.db import transaction, write_session

    monkeypatch.setattr(staging, "FOLD_UNITS", 4)
    nothing = [[] for _ in COLUMNS]

    def stage(conn, sids: list[int]) -> None:  # type: ignore[no-untyped-def]
        cols = [[10] * len(sids), *[[None] * len(sids) for _ in nothing[1:]]]
        staging.stage(conn, sids, cols)

    with write_session(registry.url) as session, transaction(session, ledger=False):
        conn = session.connection()
        for sids in ([1, 2], [3, 4], [5, 6], [5, 6]):
            stage(conn, sids)
        taken, full = staging.take(conn, 8)
        assert [len(staging.unpack(data)[0]) for _, data, _ in taken] == [2, 2] and full
        taken, full = staging.take(conn, 8, lock=False)
        assert len(taken) == 2 and full
        assert staging.fold(session, rows=8) == 4  # the first two rows
        taken, full = staging.take(conn, 8)
        assert len(taken) == 2 and not full  # 5, 6 twice: two units, rows left
        assert staging.fold(session, rows=8, whole=True) == 0
        assert staging.fold(session, rows=2, whole=True) == 4  # two rows: whole
        stage(conn, [1, 2, 3, 4, 5, 6])
        taken, full = staging.take(conn, 8)
        assert len(taken) == 1 and full  # one row over the bound: a whole fold alone
        session.rollback()
