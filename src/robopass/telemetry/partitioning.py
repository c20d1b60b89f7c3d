"""Monthly range partitions of ``telemetry_chunks`` (the stored readings) on PostgreSQL
(SPEC §10).

``at`` (a chunk's earliest reading) is epoch milliseconds, so a month is the range ``[first ms
of the month, first ms of the next)``; a chunk never spans two clock hours, so it lies in one
month. The primary key ``(sid, at)`` contains the partition key, and "one unit, a time range"
prunes to the months it touches.

:func:`partition_readings` converts the plain table Alembic creates into a partitioned one
(moving its rows; it locks the table, so run it at installation or in a maintenance window).
:func:`ensure_partitions` creates the months ahead — what pg_partman's ``run_maintenance`` does
in production (docs/telemetry.md shows the pg_partman set-up). :func:`drop_partitions_before`
drops whole months, far cheaper than deleting rows; retention uses it when the table is
partitioned.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from robopass.db import dialect_name

TABLE = "telemetry_chunks"


def _month_start(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def _add_months(year: int, month: int, n: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + n
    return index // 12, index % 12 + 1


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def is_partitioned(session: Session) -> bool:
    if dialect_name(session) != "postgresql":
        return False
    return bool(session.scalar(text(
        "SELECT count(*) FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
        "WHERE c.relname = :t AND c.relnamespace = current_schema()::regnamespace"),
        {"t": TABLE}))


def ensure_partitions(session: Session, *, months_back: int = 0, months_ahead: int = 3,
                      now: datetime | None = None) -> list[str]:
    """Create the monthly partitions from ``months_back`` before to ``months_ahead`` after
    the current month that do not exist yet; returns their names."""
    now = now or datetime.now(UTC)
    created = []
    for n in range(-months_back, months_ahead + 1):
        year, month = _add_months(now.year, now.month, n)
        name = f"{TABLE}_p{year:04d}_{month:02d}"
        exists = session.scalar(text("SELECT to_regclass(:n)"), {"n": name})
        if exists:
            continue
        upper = _add_months(year, month, 1)
        session.execute(text(
            f'CREATE TABLE "{name}" PARTITION OF {TABLE} FOR VALUES FROM '
            f"({_ms(_month_start(year, month))}) TO ({_ms(_month_start(*upper))})"))
        created.append(name)
    return created


def partition_readings(session: Session, *, months_back: int = 3, months_ahead: int = 3,
                       now: datetime | None = None) -> list[str]:
    """Turn ``telemetry_chunks`` into a table partitioned by month (PostgreSQL only), with
    a default partition for readings outside the prepared months, and move its rows."""
    if dialect_name(session) != "postgresql":
        raise ValueError("partitioning is for PostgreSQL; SQLite keeps one table")
    if is_partitioned(session):
        return ensure_partitions(session, months_back=months_back, months_ahead=months_ahead,
                                 now=now)
    old = f"{TABLE}_unpartitioned"
    session.execute(text(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE"))
    session.execute(text(f"ALTER TABLE {TABLE} RENAME TO {old}"))
    session.execute(text(f"ALTER TABLE {old} RENAME CONSTRAINT pk_{TABLE} TO pk_{old}"))
    session.execute(text(f"CREATE TABLE {TABLE} (LIKE {old} INCLUDING DEFAULTS) "
                         "PARTITION BY RANGE (at)"))
    session.execute(text(f"ALTER TABLE {TABLE} ADD CONSTRAINT pk_{TABLE} PRIMARY KEY (sid, at)"))
    created = ensure_partitions(session, months_back=months_back, months_ahead=months_ahead,
                                now=now)
    session.execute(text(f"CREATE TABLE {TABLE}_default PARTITION OF {TABLE} DEFAULT"))
    session.execute(text(f"INSERT INTO {TABLE} SELECT * FROM {old}"))
    session.execute(text(f"DROP TABLE {old}"))
    return [*created, f"{TABLE}_default"]


def drop_partitions_before(session: Session, cut_ms: int) -> list[str]:
    """Drop monthly partitions whose whole range lies before ``cut_ms``."""
    dropped = []
    rows = session.execute(text(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
        "WHERE p.relname = :t"), {"t": TABLE})
    for name, bound in rows:
        # "FOR VALUES FROM ('1767225600000') TO ('1769904000000')" or "DEFAULT"
        if "TO (" not in bound:
            continue
        upper = int(bound.rsplit("TO (", 1)[1].strip("')"))
        if upper <= cut_ms:
            session.execute(text(f'DROP TABLE "{name}"'))
            dropped.append(name)
    return dropped
