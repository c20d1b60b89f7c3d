"""Portable backup and restore (``robopass backup`` / ``robopass restore``, SPEC §12).

A backup is a gzip'd JSON-lines file: a header line (format, schema revision, time, row counts),
then one line per row as ``[table, {column: value}]``. Datetimes and bytes are tagged
(``{"$dt": ...}``, ``{"$b64": ...}``). It is read in one transaction, so a live database gives a
consistent snapshot (WAL snapshot on SQLite, REPEATABLE READ on PostgreSQL), and it restores into
a new, empty database of either kind — which also migrates a registry from SQLite to PostgreSQL.
Restore creates the schema with Alembic, inserts every table in dependency order, and is all or
nothing.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Integer, func, insert, inspect, select, text
from sqlalchemy.orm import Session

from robopass import schema
from robopass.db import get_engine, normalise_url, reading, writing
from robopass.models import metadata
from robopass.timeutil import as_utc

FORMAT = "robopass-backup"
VERSION = 1
CHUNK = 5000

Progress = Callable[[str, int, int], None]


class BackupError(Exception):
    pass


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$dt": as_utc(value).isoformat()}
    if isinstance(value, date):  # Date columns (valid_until, remedy_by): a calendar day
        return {"$date": value.isoformat()}
    if isinstance(value, bytes | memoryview):
        return {"$b64": base64.b64encode(bytes(value)).decode()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        if "$dt" in value:
            return datetime.fromisoformat(value["$dt"])
        if "$date" in value:
            return date.fromisoformat(value["$date"])
        if "$b64" in value:
            return base64.b64decode(value["$b64"])
    return value


def _revision(session: Session) -> str | None:
    try:
        return session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception:  # pragma: no cover - a database without Alembic is refused later
        return None


def backup(url: str, out: Path, *, progress: Progress | None = None) -> dict[str, int]:
    """Write a backup of ``url`` to ``out``; returns row counts per table."""
    report = progress or (lambda _t, _n, _total: None)
    tmp = out.with_name(out.name + ".partial")
    with reading(url) as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        counts = {t.name: int(session.scalar(select(func.count()).select_from(t)) or 0)
                  for t in metadata.sorted_tables}
        header = {"format": FORMAT, "version": VERSION, "revision": _revision(session),
                  "tables": counts}
        with gzip.open(tmp, "wt", encoding="utf-8") as fh:
            fh.write(json.dumps(header) + "\n")
            for table in metadata.sorted_tables:
                pk = list(table.primary_key.columns)
                done = 0
                result = session.execute(select(table).order_by(*pk)).mappings()
                for row in result:
                    fh.write(json.dumps([table.name, {k: _encode(v) for k, v in row.items()}],
                                        ensure_ascii=False, separators=(",", ":")) + "\n")
                    done += 1
                    if done % CHUNK == 0:
                        report(table.name, done, counts[table.name])
                report(table.name, done, counts[table.name])
    tmp.replace(out)
    return counts


def _rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            name, row = json.loads(line)
            yield name, {k: _decode(v) for k, v in row.items()}


def read_header(path: Path) -> dict[str, Any]:
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            header = json.loads(fh.readline())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{path} is not a robopass backup: {exc}") from exc
    if header.get("format") != FORMAT or header.get("version") != VERSION:
        raise BackupError(f"{path} is not a robopass backup (version {VERSION})")
    return dict(header)


def restore(url: str, path: Path, *, progress: Progress | None = None) -> dict[str, int]:
    """Restore ``path`` into a new, empty database at ``url``; all or nothing."""
    report = progress or (lambda _t, _n, _total: None)
    header = read_header(path)
    url = normalise_url(url)
    if inspect(get_engine(url)).has_table("registry"):
        raise BackupError("the target database already holds a registry; restore needs an "
                          "empty database")
    schema.upgrade(url)
    tables = {t.name: t for t in metadata.tables.values()}
    expected: dict[str, int] = header["tables"]
    unknown = set(expected) - set(tables)
    if unknown:
        raise BackupError(f"the backup has tables this version does not know: {sorted(unknown)}")
    done: dict[str, int] = dict.fromkeys(expected, 0)
    try:
        with writing(url) as session:
            batch: list[dict[str, Any]] = []
            current: str | None = None
            for name, row in _rows(path):
                if name != current or len(batch) >= CHUNK:
                    if batch and current:
                        session.execute(insert(tables[current]), batch)
                        report(current, done[current], expected[current])
                    batch, current = [], name
                batch.append(row)
                done[name] += 1
            if batch and current:
                session.execute(insert(tables[current]), batch)
                report(current, done[current], expected[current])
            if done != expected:
                raise BackupError(f"the backup is truncated: expected {expected}, read {done}")
            if session.get_bind().dialect.name == "postgresql":
                _reset_sequences(session)
    except BaseException:
        _drop_all(url)
        raise
    return done


def _reset_sequences(session: Session) -> None:
    for table in metadata.sorted_tables:
        for col in table.primary_key.columns:
            if isinstance(col.type, Integer) and col.autoincrement is True:
                session.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', '{col.name}'), "
                    f"COALESCE((SELECT MAX({col.name}) FROM {table.name}), 0) + 1, false)"))


def _drop_all(url: str) -> None:
    """Leave nothing half-restored behind."""
    with get_engine(url).begin() as conn:
        metadata.drop_all(conn)
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
