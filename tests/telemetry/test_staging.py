"""Staged rows (``telemetry.staging``): pack, unpack, and the times-only read of the
duplicate check."""

from __future__ import annotations

import struct

import msgspec
import pytest

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
