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
