"""The two validation paths agree (pure): whatever the msgspec fast path accepts, the
reading-by-reading validator accepts too, with the same stored values. (The fast path may
hand a good reading to the exact one — e.g. ``cycle_count: 5.0`` — which then decides: that
costs speed, not correctness; it must never accept what the exact path refuses.)"""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from robopass.telemetry import readings as rd

NOW = 1_780_000_000_000  # 2026-05-28


def _near(lo: float, hi: float) -> st.SearchStrategy[Any]:
    """Numbers around a range's bounds, in and out, as int or float."""
    edges = [lo, hi, lo - 1, hi + 1, lo - 0.001, hi + 0.001, (lo + hi) / 2]
    return st.one_of(st.sampled_from(edges), st.floats(lo - 10, hi + 10),
                     st.integers(int(lo) - 10, int(hi) + 10))


_text = st.text(alphabet="AB-7é", min_size=0, max_size=70)
_metrics = st.fixed_dictionaries({}, optional={
    "battery_soh": _near(0, 100),
    "accuracy": _near(0, 100),
    "cycle_count": st.one_of(_near(0, rd.MAX_CYCLES), st.just(5.0)),
    "operating_hours": _near(0, rd.MAX_HOURS),
    "joint_wear": st.dictionaries(st.text(alphabet="kneh_", min_size=0, max_size=45),
                                  _near(0, 100), max_size=3),
    "fault_codes": st.lists(st.text(alphabet="EW0129", min_size=0, max_size=34), max_size=3),
    "firmware": _text,
})
_reading = st.fixed_dictionaries({
    "code": st.sampled_from(["CN" + "A" * 27, "cn-" + "a" * 26, "X" * 41, ""]),
    "at": st.sampled_from(["2026-05-01T08:00:00Z", "2026-05-01T08:00:00.250+02:00",
                           "2030-01-01T00:00:00Z", "1999-12-31T23:59:59Z",
                           "2026-05-01T08:00:00"]),
    "metrics": _metrics,
})


def _stored(row: rd.Row) -> tuple[Any, ...]:
    return row[1:11]


@settings(max_examples=600, deadline=None)
@given(_reading)
def test_fast_and_exact_paths_agree(reading: dict[str, Any]) -> None:
    body = orjson.dumps([reading])
    try:
        batch = rd.decode_fast(body, now_ms=NOW)
        fast = [_stored(r) for r in batch.rows()]
    except rd.NotFast:
        fast = None
    items, bad = rd.parse_body(body)
    rows, rejected = rd.validate(items, now_ms=NOW)
    exact = [_stored(r) for r in rows] if not (bad or rejected) else None
    if fast is not None:
        assert exact == fast, (fast, exact, rejected)


def test_a_good_reading_takes_the_fast_path_with_the_same_values() -> None:
    reading = {"code": "cn-" + "a" * 26, "at": "2026-05-01T08:00:00.250+02:00",
               "metrics": {"battery_soh": 100, "accuracy": 0.0, "cycle_count": rd.MAX_CYCLES,
                           "operating_hours": 0, "joint_wear": {"knee": 80.5},
                           "fault_codes": ["E1"], "firmware": "f" * rd.MAX_FIRMWARE}}
    body = orjson.dumps([reading])
    fast = [_stored(r) for r in rd.decode_fast(body, now_ms=NOW).rows()]
    rows, rejected = rd.validate(rd.parse_body(body)[0], now_ms=NOW)
    assert not rejected and fast == [_stored(r) for r in rows]
