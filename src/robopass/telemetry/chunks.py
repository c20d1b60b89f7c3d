"""Readings stored in chunks: one row per unit, per clock hour, per ingested batch (pure).

A row per reading made SQLite insert each reading into the middle of a ``(sid, at)`` B-tree
with ten bound values: ~2 µs of the ~4 µs a reading held the single writer lock. A chunk holds
the readings one batch brings for one unit within one clock hour, as columns packed with
msgpack (C code in msgspec both ways): a 10,000-reading batch of 166 units is ~170 rows.

The chunk's key is ``(sid, at)`` with ``at`` its earliest reading, so:

* "one unit, a time range" reads the chunks whose ``at`` lies in ``[hour of from, to)``: a chunk
  never spans two clock hours, so no chunk outside that range can hold a reading inside it;
* retention deletes whole chunks before an hour boundary, exactly;
* PostgreSQL partitions by ``at`` as before.

Chunks of the same unit and hour can overlap in time (a late upload); readers sort an hour's
readings. Each reading is stored once (``service`` drops duplicates before it builds chunks).

Format: a msgpack array ``[1, at[], battery_soh[], cycle_count[], accuracy[],
operating_hours[], max_joint_wear[], joint_wear[], fault_codes[], firmware[]]`` — the leading
1 is the format version; ``joint_wear`` holds the packed bytes (``readings.pack_wear``),
``fault_codes`` the compact JSON text; absent metrics are nil.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby
from operator import itemgetter
from typing import Any, NamedTuple

import msgspec

HOUR_MS = 3_600_000
VERSION = 1
#: Stored columns in chunk order (``at`` first).
FIELDS = ("at", "battery_soh", "cycle_count", "accuracy", "operating_hours", "max_joint_wear",
          "joint_wear", "fault_codes", "firmware")

_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder().decode


class Raw(NamedTuple):
    """One stored reading as read back: epoch ms and the stored column values."""

    at: int
    battery_soh: float | None
    cycle_count: int | None
    accuracy: float | None
    operating_hours: float | None
    max_joint_wear: float | None
    joint_wear: bytes | None
    fault_codes: str | None
    firmware: str | None


class ChunkError(ValueError):
    """A stored chunk that this code cannot read (corrupt, or a newer format)."""


def hour_of(at_ms: int) -> int:
    return at_ms - at_ms % HOUR_MS


def split_by_hour(positions: list[int], ats: Sequence[int]) -> list[list[int]]:
    """Sort one unit's reading positions by time (stably: among equal times the first sent
    comes first) and cut them at clock-hour boundaries."""
    positions.sort(key=ats.__getitem__)
    if ats[positions[0]] // HOUR_MS == ats[positions[-1]] // HOUR_MS:
        return [positions]
    return [list(run) for _, run in groupby(positions, key=lambda i: ats[i] // HOUR_MS)]


def first_of_each_time(positions: list[int], ats: Sequence[int]) -> list[int]:
    """Time-sorted positions without repeats of a time (the first sent of each is kept)."""
    if len({ats[i] for i in positions}) == len(positions):
        return positions
    out: list[int] = []
    last = None
    for i in positions:
        if ats[i] != last:
            out.append(i)
            last = ats[i]
    return out


def encode(columns: Sequence[Sequence[Any]], positions: list[int]) -> bytes:
    """Pack the readings at ``positions`` (time order) of ``columns`` (in :data:`FIELDS`
    order, one value per reading each)."""
    if len(positions) == 1:
        i = positions[0]
        return _encode([VERSION, *[(col[i],) for col in columns]])
    take = itemgetter(*positions)
    return _encode([VERSION, *[take(col) for col in columns]])


def decode_columns(data: bytes) -> list[list[Any]]:
    """A chunk's columns in :data:`FIELDS` order."""
    try:
        value = _decode(data)
    except msgspec.DecodeError as exc:
        raise ChunkError(f"unreadable telemetry chunk: {exc}") from exc
    if not isinstance(value, list) or not value or value[0] != VERSION \
            or len(value) != len(FIELDS) + 1:
        raise ChunkError("unknown telemetry chunk format")
    return value[1:]


def decode(data: bytes) -> list[Raw]:
    """A chunk's readings, in time order."""
    return list(map(Raw, *decode_columns(data)))


class _Times(msgspec.Struct, array_like=True):
    """A chunk's version and times; msgspec skips the other columns without building them."""

    version: int
    at: list[int]


_decode_times = msgspec.msgpack.Decoder(_Times).decode


def times(data: bytes) -> list[int]:
    """Only the epoch ms of a chunk's readings (the duplicate check of late readings: the
    other columns are skipped, not built: ~1 µs a chunk instead of ~2.7)."""
    try:
        value = _decode_times(data)
    except msgspec.DecodeError as exc:
        raise ChunkError(f"unreadable telemetry chunk: {exc}") from exc
    if value.version != VERSION:
        raise ChunkError("unknown telemetry chunk format")
    return value.at
