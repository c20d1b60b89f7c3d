"""The validation paths agree, and read one table of limits (``readings.LIMITS``) (pure).

* the msgspec fast path accepts a batch exactly when the reading-by-reading validator accepts
  every reading of it, with the same stored values; when it refuses a batch and can tell
  which reading, that is the first one the exact path rejects (whose rejection, index and
  reason, is what the client gets). The one documented difference: an integral float
  ``cycle_count`` (``5.0``) sends a good batch to the exact path, which accepts it.
* the metric types of the fast path, the OpenAPI shapes (pydantic ``schemas.Metrics`` and
  ``routes.READING_SCHEMA``) and the exact checks are built from the table: each metric value
  is accepted by all of them or by none.
* the body guards count no valid batch as too big, however long its strings.
"""

from __future__ import annotations

from typing import Any

import orjson
import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from robopass.telemetry import readings as rd
from robopass.telemetry import schemas

NOW = 1_780_000_000_000  # 2026-05-28


def _near(lo: float, hi: float) -> st.SearchStrategy[Any]:
    """Numbers around a range's bounds, in and out, as int or float."""
    edges = [lo, hi, lo - 1, hi + 1, lo - 0.001, hi + 0.001, (lo + hi) / 2]
    return st.one_of(st.sampled_from(edges), st.floats(lo - 10, hi + 10),
                     st.integers(int(lo) - 10, int(hi) + 10))


def _around(n: int) -> st.SearchStrategy[int]:
    return st.sampled_from([0, 1, n - 1, n, n + 1])


def _text(length: int, alphabet: str = "AB-7é,\"") -> st.SearchStrategy[str]:
    return _around(length).flatmap(lambda k: st.text(alphabet=alphabet, min_size=k,
                                                     max_size=k))


def _value(name: str) -> st.SearchStrategy[Any]:
    """Values of one metric around every limit the table gives it, and wrong types."""
    limit = rd.LIMITS[name]
    wrong = st.sampled_from(["50", True, [], {}])
    if limit.kind in ("percent", "number", "integer"):
        good = _near(limit.lo, limit.hi)
        if limit.kind == "integer":
            good = st.one_of(good, st.just(5.0))
    elif limit.kind == "wear":
        joint = st.one_of(_text(limit.length, "kneh_"), st.text("kneh_", max_size=6))
        good = st.one_of(
            st.dictionaries(joint, _near(limit.lo, limit.hi), max_size=3),
            _around(limit.items).map(lambda n: {f"j{k}": 1.0 for k in range(n)}))
    elif limit.kind == "strings":
        code = st.one_of(_text(limit.length, "EW01"), st.text("EW01", max_size=4))
        good = st.one_of(st.lists(code, max_size=3),
                         _around(limit.items).map(lambda n: ["E1"] * n))
    else:
        good = st.one_of(_text(limit.length), st.text("abc.1", min_size=1, max_size=8))
    return st.one_of(good, good, good, wrong, st.none())


_metrics = st.fixed_dictionaries({}, optional={
    **{name: _value(name) for name in rd.LIMITS}, "speed": st.just(1.0)})
_reading = st.fixed_dictionaries({
    "code": st.sampled_from(["CN" + "A" * 27, "cn-" + "a" * 26, "X" * (rd.MAX_CODE + 1), ""]),
    "at": st.sampled_from(["2026-05-01T08:00:00Z", "2026-05-01T08:00:00.250+02:00",
                           "2030-01-01T00:00:00Z", "1999-12-31T23:59:59Z",
                           "2026-05-01T08:00:00"]),
    "metrics": _metrics,
})
_good_reading = st.fixed_dictionaries({
    "code": st.just("CN" + "B" * 27), "at": st.just("2026-05-01T08:00:00Z"),
    "metrics": st.fixed_dictionaries({"battery_soh": st.floats(0, 100)})})


def _stored(row: rd.Row) -> tuple[Any, ...]:
    return row[1:11]


def _integral_float_cycles(batch: list[dict[str, Any]]) -> bool:
    return any(type(r["metrics"].get("cycle_count")) is float for r in batch)


@settings(max_examples=800, deadline=None)
@given(st.lists(st.one_of(_reading, _good_reading), min_size=1, max_size=4))
def test_fast_and_exact_paths_accept_and_reject_the_same_readings(
        batch: list[dict[str, Any]]) -> None:
    body = orjson.dumps(batch)
    fast: list[tuple[Any, ...]] | None
    try:
        fast = [_stored(r) for r in rd.decode_fast(body, now_ms=NOW).rows()]
        fast_index = None
    except rd.NotFast as exc:
        fast, fast_index = None, exc.index
    items, bad = rd.parse_body(body)
    rows, rejected = rd.validate(items, now_ms=NOW)
    assert not bad
    if fast is not None:
        assert not rejected and [_stored(r) for r in rows] == fast
        return
    if not rejected:  # a good batch went the slow way: only for the documented case
        assert _integral_float_cycles(batch), batch
        return
    if fast_index is not None:  # the reading the fast path stopped at is the first rejected
        first = rejected[0]["index"]
        assert fast_index == first or (fast_index < first and _integral_float_cycles(
            batch[fast_index:fast_index + 1])), (fast_index, rejected)


@settings(max_examples=800, deadline=None)
@given(st.sampled_from(rd.METRICS).flatmap(lambda n: st.tuples(st.just(n), _value(n))))
def test_every_check_of_a_metric_comes_from_the_table(case: tuple[str, Any]) -> None:
    name, value = case
    exact = type(rd.check_metric(name, value)) is not rd._Bad
    other = {"firmware": "x"} if name != "firmware" else {"accuracy": 1}
    try:  # the whole fast path (msgspec types, then the checks made after decoding)
        rd.decode_fast(orjson.dumps([{"code": "CN" + "D" * 27, "at": "2026-05-01T08:00:00Z",
                                      "metrics": {name: value, **other}}]), now_ms=NOW)
        fast = True
    except rd.NotFast:
        fast = False
    try:
        schemas.Metrics.model_validate({name: value}, strict=True)
        openapi = True
    except pydantic.ValidationError:
        openapi = False
    if type(value) is float and rd.LIMITS[name].kind == "integer" and exact:
        assert not fast and not openapi  # the documented case: the exact path accepts 5.0
    else:
        assert exact == fast == openapi, (name, value, exact, fast, openapi)


def test_the_openapi_reading_names_every_limit_of_the_table() -> None:
    from robopass.telemetry.routes import READING_SCHEMA

    metrics = READING_SCHEMA["properties"]["metrics"]["properties"]  # type: ignore[index]
    assert list(metrics) == list(rd.LIMITS)
    assert metrics["firmware"]["maxLength"] == rd.LIMITS["firmware"].length
    assert metrics["fault_codes"]["maxItems"] == rd.LIMITS["fault_codes"].items
    assert metrics["joint_wear"]["propertyNames"]["maxLength"] == rd.LIMITS["joint_wear"].length


def test_a_good_reading_takes_the_fast_path_with_the_same_values() -> None:
    reading = {"code": "cn-" + "a" * 26, "at": "2026-05-01T08:00:00.250+02:00",
               "metrics": {"battery_soh": 100, "accuracy": 0.0, "cycle_count": rd.MAX_CYCLES,
                           "operating_hours": 0, "joint_wear": {"knee": 80.5},
                           "fault_codes": ["E1"], "firmware": "f" * rd.MAX_FIRMWARE}}
    body = orjson.dumps([reading])
    fast = [_stored(r) for r in rd.decode_fast(body, now_ms=NOW).rows()]
    rows, rejected = rd.validate(rd.parse_body(body)[0], now_ms=NOW)
    assert not rejected and fast == [_stored(r) for r in rows]


def _largest_reading(k: int) -> dict[str, Any]:
    """A valid reading with every limit at its maximum, strings full of quotes and commas
    (braces too would count as objects: the object bound is absolute, see ``too_big``)."""
    limits = rd.LIMITS
    joints = limits["joint_wear"]
    faults = limits["fault_codes"]
    return {"code": "CN" + "C" * 27, "at": f"2026-05-01T08:{k % 60:02d}:00Z", "metrics": {
        "battery_soh": 1, "accuracy": 2, "cycle_count": 3, "operating_hours": 4,
        "joint_wear": {f"{j:02d}" + '",",' * ((joints.length - 2) // 4): 5.0
                       for j in range(joints.items)},
        "fault_codes": ['",",' * (faults.length // 4)] * faults.items,
        "firmware": '",",' * (limits["firmware"].length // 4)}}


@pytest.mark.parametrize("ndjson", [False, True])
def test_the_body_guards_pass_the_largest_valid_batch(ndjson: bool) -> None:
    batch = [_largest_reading(k) for k in range(3)]
    body = b"\n".join(map(orjson.dumps, batch)) if ndjson else orjson.dumps(batch)
    assert rd.too_many_tokens(body, readings=3) is None
    assert rd.too_big(body, readings=3) is None
    rows, rejected = rd.validate(rd.parse_body(body)[0], now_ms=NOW)
    assert len(rows) == 3 and not rejected


@pytest.mark.parametrize("body", [
    b"[" + b",".join([b'"ab"'] * 20_000) + b"]",
    b"[" + b",".join([b"1.5"] * 20_000) + b"]",
    b'[{"code":"x","at":"y","metrics":{"fault_codes":[' + b",".join([b'"E"'] * 20_000) + b"]}}]",
    b"\n".join([b"12"] * 20_000),
    b"[" + b",".join([b"[]"] * 20_000) + b"]",
])
def test_the_body_guards_refuse_many_small_tokens_before_parsing(body: bytes) -> None:
    assert rd.too_big(body, readings=100) is not None
