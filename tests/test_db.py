"""SQLite writers queue on one lock across threads and processes, and wake when it is free."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

from sqlalchemy import text

from robopass.db import dispose_engine, transaction, write_session


def _hold_writer(url: str, started: multiprocessing.synchronize.Event, seconds: float) -> None:
    with write_session(url) as session, transaction(session, ledger=False):
        session.execute(text("INSERT INTO t (v) VALUES ('held')"))
        started.set()
        time.sleep(seconds)


def test_writers_of_two_processes_wait_for_each_other_without_busy_errors(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lock.db'}"
    with write_session(url) as session, transaction(session, ledger=False):
        session.execute(text("CREATE TABLE t (v TEXT)"))
    ctx = multiprocessing.get_context("spawn")
    started = ctx.Event()
    other = ctx.Process(target=_hold_writer, args=(url, started, 1.0))
    other.start()
    try:
        assert started.wait(30)
        began = time.monotonic()
        with write_session(url) as session, transaction(session, ledger=False):
            waited = time.monotonic() - began
            session.execute(text("INSERT INTO t (v) VALUES ('after')"))
        # queued on the lock file, not on SQLite's busy handler: it ran once the other
        # process committed, and saw its row
        assert 0.5 < waited < 5
        with write_session(url) as session:
            assert [r[0] for r in session.execute(text("SELECT v FROM t ORDER BY rowid"))] == [
                "held", "after"]
    finally:
        other.join(30)
        dispose_engine(url)
    assert other.exitcode == 0
    assert (tmp_path / "lock.db.lock").exists()


def _write_once(url: str, done: multiprocessing.synchronize.Event) -> None:
    with write_session(url) as session, transaction(session, ledger=False):
        session.execute(text("INSERT INTO t (v) VALUES ('child')"))
    done.set()


def test_a_writer_waits_for_the_lock_file_itself(tmp_path: Path) -> None:
    """Holding only ``<db>.lock`` (no SQLite lock at all) holds other processes' writers."""
    import fcntl

    url = f"sqlite:///{tmp_path / 'lock.db'}"
    with write_session(url) as session, transaction(session, ledger=False):
        session.execute(text("CREATE TABLE t (v TEXT)"))
    dispose_engine(url)
    fd = os.open(tmp_path / "lock.db.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    ctx = multiprocessing.get_context("spawn")
    done = ctx.Event()
    child = ctx.Process(target=_write_once, args=(url, done))
    child.start()
    try:
        assert not done.wait(2.0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        assert done.wait(30)
    finally:
        os.close(fd)
        child.join(30)
    assert child.exitcode == 0


# --------------------------------------------------------------------------- WAL checkpoints


def _wal_state(path: Path) -> tuple[int, int]:
    """(frames in the WAL, frames copied into the database), read by a passive checkpoint of
    a fresh connection (which copies nothing new while no one writes)."""
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        _busy, log, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        conn.close()
    return log, done


def test_commits_do_not_checkpoint_but_the_background_thread_does(tmp_path: Path) -> None:
    from robopass.db import _wal_checkpointer, get_engine

    url = f"sqlite:///{tmp_path / 'wal.db'}"
    engine = get_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        checkpointer = _wal_checkpointer(str(engine.url))
        checkpointer._stopped.set()  # no background work while we look at the WAL
        with write_session(url) as session, transaction(session, ledger=False):
            session.execute(text("CREATE TABLE t (v BLOB)"))
        for _ in range(30):  # 30 x 256 KiB: ~1,900 pages, past SQLite's automatic 1,000
            with write_session(url) as session, transaction(session, ledger=False):
                session.execute(text("INSERT INTO t (v) VALUES (randomblob(262144))"))
        wal = tmp_path / "wal.db-wal"
        assert wal.stat().st_size > 7_000_000  # nothing was copied at commit: the WAL grew
        checkpointer._stopped.clear()
        with write_session(url) as session, transaction(session, ledger=False):
            session.execute(text("INSERT INTO t (v) VALUES (x'00')"))  # pokes the thread
        deadline = time.monotonic() + 10
        while checkpointer.checkpoints == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert checkpointer.checkpoints >= 1
        log, done = _wal_state(tmp_path / "wal.db")
        assert log > 1_800 and done == log  # every frame copied, by the background thread
        assert checkpointer._thread is not None and checkpointer._thread.is_alive()
    finally:
        dispose_engine(url)
    assert not checkpointer._thread.is_alive()  # disposing the engine stopped it


def _wal_resets(wal: Path) -> int:
    """The WAL header's checkpoint sequence number: SQLite adds one each time a writer starts
    the WAL over from its beginning (the file keeps its size; the header is rewritten)."""
    try:
        with wal.open("rb") as f:
            header = f.read(16)
    except FileNotFoundError:
        return 0
    return int.from_bytes(header[12:16], "big") if len(header) == 16 else 0


def test_the_wal_stays_bounded_under_continuous_writes(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Two writers commit back to back, so a commit lands during every background checkpoint
    and SQLite could never start the WAL over; the checkpointer's catch-up under the writer
    lock bounds it. The writers keep writing until catch-ups have started the WAL over three
    times (awaited with a generous deadline, so a loaded machine only makes it slower): without
    the catch-up that never happens and the WAL holds everything written."""
    import threading
    import time

    from robopass.db import _wal_checkpointer, _WalCheckpointer

    monkeypatch.setattr(_WalCheckpointer, "CATCH_UP_FRAMES", 512)  # 2 MiB
    monkeypatch.setattr(_WalCheckpointer, "INTERVAL", 0.01)
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    with write_session(url) as session, transaction(session, ledger=False):
        session.execute(text("CREATE TABLE t (v BLOB)"))
    wal = tmp_path / "busy.db-wal"
    checkpointer = _wal_checkpointer(url)
    first = _wal_resets(wal)
    done = threading.Event()
    written = [0]
    biggest = [0]

    def writer() -> None:
        while not done.is_set():
            with write_session(url) as session, transaction(session, ledger=False):
                session.execute(text("INSERT INTO t (v) VALUES (randomblob(131072))"))
            written[0] += 131072
            biggest[0] = max(biggest[0], wal.stat().st_size)

    deadline = time.monotonic() + 300
    try:
        threads = [threading.Thread(target=writer) for _ in range(2)]
        for t in threads:
            t.start()
        while time.monotonic() < deadline and not (
                checkpointer.catch_ups >= 3 and _wal_resets(wal) - first >= 3):
            done.wait(0.05)
        done.set()
        for t in threads:
            t.join()
        resets = _wal_resets(wal) - first
    finally:
        done.set()
        dispose_engine(url)
    assert checkpointer.catch_ups >= 3, "the checkpointer never caught up under the lock"
    assert resets >= 3, "the WAL was never started over"
    assert biggest[0] < written[0], (biggest[0], written[0])


def test_none_binds_null_through_the_registered_adapter(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'null.db'}"
    try:
        with write_session(url) as session, transaction(session, ledger=False):
            session.execute(text("CREATE TABLE t (a INTEGER, b TEXT)"))
            session.execute(text("INSERT INTO t (a, b) VALUES (:a, :b)"), {"a": None, "b": "x"})
        with write_session(url) as session:
            assert session.execute(text("SELECT a IS NULL, typeof(a), b FROM t")).one() == (
                1, "null", "x")
    finally:
        dispose_engine(url)



def test_shrink_after_empties_the_connections_page_cache_when_it_returns(tmp_path: Path) -> None:
    """``shrink_after``: the page cache a transaction filled is given back when its connection
    returns to the pool (measured with SQLite's own count of the memory it holds)."""
    import ctypes
    import ctypes.util

    import pytest

    from robopass.db import reading, shrink_after

    name = ctypes.util.find_library("sqlite3")
    if name is None:
        pytest.skip("no shared libsqlite3 to ask")
    memory_used = ctypes.CDLL(name).sqlite3_memory_used
    memory_used.restype = ctypes.c_int64
    url = f"sqlite:///{tmp_path / 'shrink.db'}"
    try:
        with write_session(url) as session, transaction(session, ledger=False):
            session.execute(text("CREATE TABLE t (x BLOB)"))
            session.execute(text("INSERT INTO t SELECT randomblob(4000) FROM "
                                 "(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
                                 "FROM n WHERE i < 2000) SELECT i FROM n)"))
        held = []
        for shrink in (False, True):
            with reading(url) as session:  # 8 MB of pages through the cache
                session.execute(text("SELECT sum(length(x)) FROM t")).scalar()
                if shrink:
                    shrink_after(session)
            held.append(memory_used())
        assert held[0] > 6_000_000  # kept in the cache (16 MiB by default)
        assert held[1] < held[0] - 6_000_000
    finally:
        dispose_engine(url)


def test_close_after_closes_a_postgresql_connection_when_it_returns(registry) -> None:  # type: ignore[no-untyped-def]
    """``close_after``: on PostgreSQL the connection is closed when it goes back to the pool
    (libpq never gives back the buffers a large message grew), not before, and the next
    session connects afresh; an unmarked connection stays pooled; on SQLite nothing."""
    from robopass.db import close_after, reading

    pg = registry.backend == "postgresql"
    with reading(registry.url) as session:
        kept = session.connection().connection.driver_connection
    assert not pg or not kept.closed
    with reading(registry.url) as session:
        close_after(session)
        closed = session.connection().connection.driver_connection
        assert session.execute(text("SELECT 1")).scalar() == 1  # open until it returns
    if pg:
        assert closed.closed
    else:
        closed.execute("SELECT 1")  # still open: back in the pool
    with reading(registry.url) as session:
        assert session.execute(text("SELECT 2")).scalar() == 2
