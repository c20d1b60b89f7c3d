"""Engine, sessions and transactions for SQLite (embedded default) and PostgreSQL.

Services take a :class:`~sqlalchemy.orm.Session` and never commit; the route or CLI command
owns the transaction (``with session.begin(): ...``) so an event and its ledger entry land
together or not at all.

Writers are serialised, which keeps the ledger gap-free (SPEC §5, DESIGN-NOTES):

* SQLite: a write session starts with ``BEGIN IMMEDIATE`` (one writer at a time, readers go on
  thanks to WAL). Read sessions start a deferred transaction.
* PostgreSQL: :func:`lock_writer` takes ``SELECT ... FOR UPDATE`` on the single ledger-state row
  at the start of every write transaction that appends to the ledger or assigns sequences.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from robopass.timeutil import as_utc

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both backends (SQLite returns naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default)




#: Python's sqlite3 binds int, float, str and bytearray directly, but sends every other value
#: (None included) through its adapter protocol: a tuple built, a registry lookup, two
#: attribute lookups — ~0.3 µs per NULL, measured on bulk inserts of readings with missing
#: metrics. A registered adapter for None is found at the first lookup; it returns None, which
#: binds NULL exactly as before. (``{}.get(x)`` is None: a C call, no Python frame.)
_NOTHING: dict[None, None] = {}
sqlite3.register_adapter(type(None), _NOTHING.get)  # type: ignore[arg-type]


def is_sqlite(engine_or_url: Engine | str) -> bool:
    url = engine_or_url if isinstance(engine_or_url, str) else str(engine_or_url.url)
    return url.startswith("sqlite")


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use psycopg 3; a bare path is SQLite."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if "://" not in url:
        url = f"sqlite:///{url}"
    return url


_engines: dict[str, Engine] = {}
_makers: dict[str, tuple[sessionmaker[Session], sessionmaker[Session]]] = {}


def get_engine(url: str) -> Engine:
    """One engine per URL per process (cached)."""
    url = normalise_url(url)
    engine = _engines.get(url)
    if engine is None:
        engine = _engines[url] = _create_engine(url)
    return engine


def dispose_engine(url: str) -> None:
    """Close every pooled connection to ``url`` and forget the engine (tests, shutdown)."""
    url = normalise_url(url)
    _makers.pop(url, None)
    engine = _engines.pop(url, None)
    if engine is not None:
        engine.dispose()
        with _writer_locks_guard:
            checkpointer = _checkpointers.pop(str(engine.url), None)
        if checkpointer is not None:
            checkpointer.stop()
        with _writer_locks_guard:
            lock = _writer_locks.pop(str(engine.url), None)
        if lock is not None:
            with lock:  # not while a writer of this process holds it
                lock.close()


def ensure_sqlite_directory(url: str) -> None:
    """Create the directory of a SQLite database file if it is missing (``var/`` in a fresh
    clone): SQLite creates the file, not its directory. Every engine of the project (ours and
    Alembic's) is created after this."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1].split("?", 1)[0] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)


def _create_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        ensure_sqlite_directory(url)
        engine = create_engine(
            url,
            json_serializer=_dumps,
            connect_args={"check_same_thread": False, "timeout": 60},
            pool_size=8,
            max_overflow=16,
        )
        _configure_sqlite(engine)
        return engine
    engine = create_engine(url, json_serializer=_dumps, pool_size=10, max_overflow=20,
                           pool_pre_ping=True)
    event.listen(engine, "checkin", _close_if_marked)
    return engine


def _close_if_marked(_dbapi_conn: Any, record: Any) -> None:
    if record is not None and record.info.pop(_CLOSE, False):
        record.invalidate()  # closed now; the next checkout of this slot connects afresh


def _configure_sqlite(engine: Engine) -> None:
    from robopass.config import get_settings

    synchronous = get_settings().sqlite_synchronous.upper()
    cache_kib = get_settings().sqlite_cache_mb * 1024

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take over transaction control from pysqlite so BEGIN IMMEDIATE is possible.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA cache_size=-{cache_kib}")
        cur.execute("PRAGMA temp_store=MEMORY")
        # The WAL is copied into the database by _WalCheckpointer, outside the writer lock.
        cur.execute("PRAGMA wal_autocheckpoint=0")
        cur.close()

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_conn: Any, record: Any) -> None:
        if record is not None and record.info.pop(_SHRINK, False):
            dbapi_conn.execute("PRAGMA shrink_memory")  # no transaction is open here
            dbapi_conn.execute(f"PRAGMA cache_size=-{cache_kib}")

    checkpointer = _wal_checkpointer(str(engine.url))

    @event.listens_for(engine, "commit")
    def _on_commit(_conn: Any) -> None:
        checkpointer.poke()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get("robopass_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def _sessionmakers(url: str) -> tuple[sessionmaker[Session], sessionmaker[Session]]:
    makers = _makers.get(url)
    if makers is None:
        engine = get_engine(url)
        reader = sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)
        writer = sessionmaker(bind=engine.execution_options(robopass_write=True),
                              expire_on_commit=False, autoflush=False)
        makers = _makers[url] = (reader, writer)
    return makers


def read_session(url: str) -> Session:
    return _sessionmakers(normalise_url(url))[0]()


def write_session(url: str) -> Session:
    return _sessionmakers(normalise_url(url))[1]()


@contextmanager
def writing(url: str) -> Iterator[Session]:
    """A write transaction: commits on success, rolls back on any exception."""
    with write_session(url) as session, transaction(session):
        yield session


@contextmanager
def reading(url: str) -> Iterator[Session]:
    with read_session(url) as session, session.begin():
        yield session


def lock_writer(session: Session) -> None:
    """Serialise writers on PostgreSQL (SQLite's BEGIN IMMEDIATE already did)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT size FROM ledger_state WHERE id = 1 FOR UPDATE"))


_SHRINK = "robopass_shrink"
#: SQLite: the page cache of a connection marked with :func:`shrink_after`, in KiB, until it
#: goes back to the pool.
SHRINK_CACHE_KIB = 4096


def shrink_after(session: Session) -> None:
    """SQLite: run the rest of ``session``'s work with a page cache of
    :data:`SHRINK_CACHE_KIB` and empty it when the connection goes back to the pool (where it
    gets ``ROBOPASS_SQLITE_CACHE_MB`` back). For work that touches many pages no later
    transaction reads again — a telemetry batch, a fold: they read each unit's row once and
    write megabytes of new pages — a large cache saves nothing, and what it held stayed in
    the process's resident memory after ``shrink_memory``, in every server process (measured
    on the live shape: a worker's heap grew by ~33 MB at peak, the supervisor's fold by
    ~16 MB). The pages stay in the OS page cache."""
    if dialect_name(session) == "sqlite":
        conn = session.connection()
        conn.exec_driver_sql(f"PRAGMA cache_size=-{SHRINK_CACHE_KIB}")
        conn.connection.info[_SHRINK] = True


_CLOSE = "robopass_close"


def close_after(session: Session) -> None:
    """PostgreSQL: close ``session``'s connection when it goes back to the pool instead of
    keeping it there. libpq grows a connection's input and output buffers to the largest
    message it has sent or received and never shrinks them, so a pooled connection that once
    carried a telemetry fold (a megabyte per staged row read, the snapshot update of every
    unit) kept those buffers for the life of the process, and the pool hands its connections
    round, so in time each did (measured on the live shape: the supervisor's malloc held
    16–18 MB in such blocks after a few folds, 2 MB with this). For work done about once a
    second, where a new connection costs milliseconds; not for every ingest batch. A no-op
    on SQLite."""
    if dialect_name(session) == "postgresql":
        session.connection().connection.info[_CLOSE] = True


def dialect_name(session: Session) -> str:
    return session.get_bind().dialect.name


@contextmanager
def transaction(session: Session, *, ledger: bool = True) -> Iterator[Session]:
    """Begin a write transaction on a session from :func:`write_session` and take the lock.

    On PostgreSQL the ledger writer lock is taken unless ``ledger`` is False (writes that never
    append to the ledger, such as telemetry, need not queue behind it). On SQLite there is one
    writer anyway, and writers first queue on :class:`_SqliteWriterLock` (threads and server
    worker processes alike): SQLite's own busy handler waits by sleeping in growing steps (up
    to 100 ms), which under concurrent writes costs far more than the writes.
    """
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        with session.begin():
            if ledger:
                lock_writer(session)
            yield session
        return
    with _sqlite_writer_lock(str(bind.engine.url)), session.begin():
        yield session


class _SqliteWriterLock:
    """One SQLite writer at a time, across the threads of this process (a Python lock) and
    across processes on this machine (``flock`` on ``<database>.lock`` beside the database):
    a waiting writer wakes the moment the previous one commits, instead of polling in SQLite's
    busy handler (sleeps of up to 100 ms), which under concurrent writes from several server
    workers cost far more than the writes. The kernel releases the file lock of a process that
    dies. Where there is no file (``:memory:``) or no ``fcntl`` (Windows), or the lock file
    cannot be opened, only the Python lock is used and SQLite's busy handler does the rest."""

    def __init__(self, url: str) -> None:
        self._thread_lock = threading.Lock()
        self._fd: int | None = None
        self._pid = 0
        path = url.split("///", 1)[1] if "///" in url else ""
        self._path = None
        if _fcntl is not None and path and path != ":memory:" and "mode=memory" not in url:
            self._path = path.split("?", 1)[0] + ".lock"

    def _file(self) -> int | None:
        """This process's descriptor of the lock file (a forked child opens its own: ``flock``
        locks belong to an open file, which a fork would share)."""
        if self._path is None:
            return None
        if self._pid != os.getpid():
            self._fd, self._pid = None, os.getpid()
            try:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError:
                self._path = None
        return self._fd

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd, self._pid = None, 0

    def __enter__(self) -> None:
        self._thread_lock.acquire()
        try:
            fd = self._file()
            if fd is not None and _fcntl is not None:
                _fcntl.flock(fd, _fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.release()
            raise

    def __exit__(self, *exc: object) -> None:
        try:
            if self._fd is not None and _fcntl is not None and self._pid == os.getpid():
                _fcntl.flock(self._fd, _fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()


try:
    import fcntl as _fcntl
except ImportError:  # pragma: no cover - not POSIX
    _fcntl = None  # type: ignore[assignment]

_writer_locks: dict[str, _SqliteWriterLock] = {}
_writer_locks_guard = threading.Lock()


def _sqlite_writer_lock(url: str) -> _SqliteWriterLock:
    with _writer_locks_guard:
        lock = _writer_locks.get(url)
        if lock is None:
            lock = _writer_locks[url] = _SqliteWriterLock(url)
        return lock


class _WalCheckpointer:
    """Copies a SQLite database's write-ahead log into the database file in a background
    thread of each writing process, instead of SQLite's automatic checkpoint.

    SQLite checkpoints automatically at the commit that takes the WAL past 1,000 pages, inside
    that commit: with ``synchronous=NORMAL`` it syncs the WAL, copies the pages and syncs the
    database file, and the committing writer holds the writer lock (ours and SQLite's) all the
    while — measured, a third of the time telemetry ingest held the lock. Our connections set
    ``wal_autocheckpoint=0``; a commit pokes this thread, which waits :attr:`INTERVAL` (so a
    burst of commits costs one checkpoint) and runs a ``PASSIVE`` checkpoint on its own
    connection: it never waits for, nor blocks, readers or writers. Another process's
    checkpoint running at the same moment makes this one a no-op until the next poke.

    Under continuous writes a commit lands during every such checkpoint, so the WAL is never
    wholly copied and SQLite never starts it over from the beginning: it would grow without
    end (and every page read would search a longer WAL index). So when a checkpoint finds more
    than :attr:`CATCH_UP_FRAMES` frames in the WAL, the next one runs under the writer lock,
    where no commit can land, right after an unlocked one: it copies only the frames committed
    in between, and the next writer starts the WAL over. Measured on telemetry ingest, that is
    a locked checkpoint per ~32 MiB of WAL instead of one per 4 MiB that also did all the
    syncing. Closing the last connection checkpoints as before; an interrupted checkpoint (a
    process killed) is harmless — the next one does the work again.
    """

    INTERVAL = 0.1
    CATCH_UP_FRAMES = 8_192  # 32 MiB of 4 KiB pages

    def __init__(self, url: str) -> None:
        path = url.split("///", 1)[1].split("?", 1)[0] if "///" in url else ""
        self._path = None if not path or path == ":memory:" or "mode=memory" in url else path
        self._url = url
        self._poked = threading.Event()
        self._stopped = threading.Event()
        self._pid = 0
        self._thread: threading.Thread | None = None
        self.checkpoints = 0  # how many ran (tests, diagnostics)
        self.catch_ups = 0  # how many of them under the writer lock

    def poke(self) -> None:
        """A write committed: checkpoint soon (starts this process's thread if needed)."""
        if self._path is None or self._stopped.is_set():
            return
        if self._pid != os.getpid():  # first poke in this process (or a forked child)
            self._pid = os.getpid()
            self._poked = threading.Event()
            self._thread = threading.Thread(target=self._run, name="robopass-wal-checkpoint",
                                            daemon=True)
            self._thread.start()
        self._poked.set()

    def stop(self) -> None:
        self._stopped.set()
        self._poked.set()
        if self._thread is not None and self._pid == os.getpid():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        try:  # never create the file (mode=rw): the database may have been deleted
            conn = sqlite3.connect(f"file:{self._path}?mode=rw", uri=True, timeout=0,
                                   isolation_level=None, check_same_thread=False)
        except sqlite3.Error:
            return
        try:
            catch_up = False
            while True:
                self._poked.wait()
                if self._stopped.wait(self.INTERVAL):
                    return
                self._poked.clear()
                if catch_up:  # the bulk unlocked, then the few frames committed meanwhile
                    self.checkpoint(conn, retries=40)
                    with _sqlite_writer_lock(self._url):
                        frames = self.checkpoint(conn, retries=40)
                    self.catch_ups += 1
                else:
                    frames = self.checkpoint(conn)
                catch_up = frames > self.CATCH_UP_FRAMES
        finally:
            conn.close()

    def checkpoint(self, conn: sqlite3.Connection, *, retries: int = 0) -> int:
        """One PASSIVE checkpoint; returns the frames in the WAL (0 if it could not run).
        ``retries``: wait for another process's checkpoint (5 ms steps) this many times."""
        for attempt in range(retries + 1):
            try:
                row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            except sqlite3.OperationalError:  # another checkpoint is running
                if attempt < retries:
                    self._stopped.wait(0.005)
                continue
            except sqlite3.Error:
                return 0
            self.checkpoints += 1
            return int(row[1]) if row and row[1] is not None and row[1] > 0 else 0
        return 0


_checkpointers: dict[str, _WalCheckpointer] = {}


def _wal_checkpointer(url: str) -> _WalCheckpointer:
    with _writer_locks_guard:
        checkpointer = _checkpointers.get(url)
        if checkpointer is None:
            checkpointer = _checkpointers[url] = _WalCheckpointer(url)
        return checkpointer


def db_timestamp(session: Session, value: datetime) -> Any:
    """A UTC datetime as the driver-level value the UTCDateTime column stores."""
    value = as_utc(value)
    if session.get_bind().dialect.name == "sqlite":
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def bulk_insert(session: Session, table: str, columns: Sequence[str],
                rows: Sequence[Sequence[Any]]) -> None:
    """Insert many rows at driver level, inside the session's transaction.

    The hot paths (issuance, ledger appends, event batches) use this instead of ORM bulk
    inserts, which spend most of their time building parameter dictionaries: SQLite gets one
    ``executemany``, PostgreSQL a ``COPY``. Values must already be driver-level (see
    :func:`db_timestamp`; JSON columns as text).
    """
    if not rows:
        return
    conn = session.connection()
    cols = ", ".join(f'"{c}"' for c in columns)
    if conn.dialect.name == "postgresql":
        raw: Any = conn.connection.dbapi_connection
        with raw.cursor() as cur, cur.copy(f'COPY "{table}" ({cols}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" for _ in columns)
    conn.exec_driver_sql(f'INSERT INTO "{table}" ({cols}) VALUES ({marks})', list(rows))
