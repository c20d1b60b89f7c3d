"""Parsing and validating readings in bulk (pure: no database, no web).

Two paths give the same answer:

* fast: msgspec decodes the whole body straight into typed structs, checking types and ranges
  in C (:func:`decode_fast`); this is the normal case of a batch where every reading is good.
* exact: when the fast path meets anything wrong, orjson parses the body and
  :func:`validate` checks reading by reading, so each bad reading becomes a rejection
  ``{index, reason, field}`` and the others go on (SPEC §7).

Per-reading Pydantic models would cost several times more at 100,000+ readings/s
(DESIGN-NOTES).

A valid reading becomes a :class:`Row` tuple: ``at`` is integer epoch milliseconds (rounded to
the millisecond), ``fault_codes`` compact JSON text, ``max_joint_wear`` precomputed for alerts
and aggregates, and ``joint_wear`` packed (:func:`pack_wear`): an 8-byte key of the joint names
then one float32 per joint — 40 bytes for 8 joints instead of ~140 of JSON.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import repeat, starmap
from typing import Annotated, Any

import msgspec
import orjson


# --------------------------------------------------------------------------- the limits
@dataclass(frozen=True, slots=True)
class Limit:
    """How one metric is checked. ``kind``: ``percent`` and ``number`` (``lo``-``hi``),
    ``integer`` (``lo``-``hi``, whole), ``wear`` (an object of at most ``items`` joints named
    ``1``-``length`` characters, each a percentage), ``strings`` (a list of at most ``items``
    strings of ``1``-``length`` characters), ``string`` (``1``-``length`` characters)."""

    kind: str
    lo: float = 0
    hi: float = 0
    items: int = 0
    length: int = 0


#: THE table of telemetry limits: the fast path (:class:`_Metrics`, built from it), the exact
#: path (:func:`validate`), the OpenAPI shapes (``schemas.py``, ``routes.READING_SCHEMA``) and
#: the body scan (:func:`check_shape`) all read it; tests/telemetry/test_validation_paths.py
#: proves the two paths accept and reject the same readings with the same index and reason.
LIMITS: dict[str, Limit] = {
    "battery_soh": Limit("percent", 0, 100),
    "cycle_count": Limit("integer", 0, 10_000_000),
    "joint_wear": Limit("wear", 0, 100, items=64, length=40),
    "accuracy": Limit("percent", 0, 100),
    "operating_hours": Limit("number", 0, 1_000_000.0),
    "fault_codes": Limit("strings", items=32, length=32),
    "firmware": Limit("string", length=64),
}
METRICS = tuple(LIMITS)
METRIC_SET = frozenset(METRICS)
#: Readings before this instant are absurd (the platform's robots post-date it).
MIN_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
#: A unit's identity code, as sent (before normalising dashes, spaces and case).
MAX_CODE = 40
#: Length of ``at`` as RFC 3339 text.
AT_LENGTH = (20, 40)
#: JSON containers a body may nest inside its top-level array (reading > metrics > joints).
MAX_DEPTH = 3
#: JSON values (containers, keys and scalars) one valid reading can hold at most: the
#: reading's 3 keys and values, every metric's key and value, every joint's name and value,
#: every fault code. A body holding more per item cannot be valid and is not parsed.
VALUES_PER_READING = 6 + 2 * len(LIMITS) + 2 * LIMITS["joint_wear"].items \
    + LIMITS["fault_codes"].items
#: Items (readings) a body may hold, as a multiple of the batch limit (``max_readings``):
#: up to it the readings past the limit are rejected one by one; past it the body is refused.
ITEMS_PER_LIMIT = 2
#: JSON objects a reading holds at least (itself and ``metrics``) and at most (and
#: ``joint_wear``); containers at most (and ``fault_codes``).
OBJECTS_MIN, OBJECTS_MAX, CONTAINERS_MAX = 2, 3, 4
#: Strings one valid reading holds at most: its 3 keys, ``code`` and ``at``, the metric
#: names, ``firmware``, the joint names and the fault codes.
STRINGS_PER_READING = 3 + 2 + len(LIMITS) + 1 + LIMITS["joint_wear"].items \
    + LIMITS["fault_codes"].items
#: Commas one valid reading's text holds at most: one between any two of its values, and one
#: per character of its strings (a comma inside a string counts too).
COMMAS_PER_READING = VALUES_PER_READING + MAX_CODE + AT_LENGTH[1] \
    + LIMITS["firmware"].length + LIMITS["joint_wear"].items * LIMITS["joint_wear"].length \
    + LIMITS["fault_codes"].items * LIMITS["fault_codes"].length
#: A body the item-by-item split cannot read (e.g. ``NaN``, which the exact path rejects
#: per reading) is parsed whole only up to this size; a larger one is refused.
WHOLE_PARSE_BYTES = 1 << 20

MAX_CYCLES = int(LIMITS["cycle_count"].hi)
MAX_HOURS = LIMITS["operating_hours"].hi
MAX_JOINTS = LIMITS["joint_wear"].items
MAX_JOINT_NAME = LIMITS["joint_wear"].length
MAX_FAULTS = LIMITS["fault_codes"].items
MAX_FAULT_LEN = LIMITS["fault_codes"].length
MAX_FIRMWARE = LIMITS["firmware"].length


def metric_json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of a metric, from :data:`LIMITS` (the OpenAPI document's)."""
    limit = LIMITS[name]
    kind = limit.kind
    if kind in ("percent", "number", "integer"):
        return {"type": "integer" if kind == "integer" else "number",
                "minimum": limit.lo if kind != "integer" else int(limit.lo),
                "maximum": limit.hi if kind != "integer" else int(limit.hi)}
    if kind == "wear":
        return {"type": "object", "maxProperties": limit.items,
                "propertyNames": {"minLength": 1, "maxLength": limit.length},
                "additionalProperties": {"type": "number", "minimum": limit.lo,
                                         "maximum": limit.hi}}
    text = {"type": "string", "minLength": 1, "maxLength": limit.length}
    if kind == "strings":
        return {"type": "array", "maxItems": limit.items, "items": text}
    return text


class BadBody(ValueError):
    """The body as a whole is not a batch of readings (nothing is stored)."""


#: A valid reading: ``(index, code, at_ms, battery_soh, cycle_count, accuracy,
#: operating_hours, max_joint_wear, joint_wear_packed, fault_codes_json, firmware, faults,
#: joint_wear_dict)`` — a plain tuple, the cheapest thing to build 200,000 times a second;
#: positions 3-10 are the stored metric columns in :data:`COLUMNS` order.
Row = tuple[Any, ...]
I_INDEX, I_CODE, I_AT, I_SOH, I_MAXWEAR, I_FAULTS, I_WEAR = 0, 1, 2, 3, 7, 11, 12
COLUMNS = ("battery_soh", "cycle_count", "accuracy", "operating_hours", "max_joint_wear",
           "joint_wear", "fault_codes", "firmware")


Rejection = dict[str, Any]


_LAYOUTS: dict[tuple[str, ...], bytes] = {}
#: Layout key → joint names, for every layout this process has packed or read.
LAYOUT_NAMES: dict[bytes, tuple[str, ...]] = {}
LAYOUT_KEY_BYTES = 8


def layout_key(names: tuple[str, ...]) -> bytes:
    """A stable 8-byte key of an ordered set of joint names (BLAKE2b of their JSON)."""
    key = _LAYOUTS.get(names)
    if key is None:
        if len(_LAYOUTS) > 10_000:  # bound the cache against junk joint names
            _LAYOUTS.clear()
        key = hashlib.blake2b(orjson.dumps(list(names)), digest_size=LAYOUT_KEY_BYTES).digest()
        _LAYOUTS[names] = key
        LAYOUT_NAMES[key] = names
    return key


def pack_wear(wear: dict[str, float]) -> bytes:
    """``layout key + float32 per joint``; :func:`unpack_wear` reverses it (3 decimals)."""
    names = tuple(wear)
    key = _LAYOUTS.get(names) or layout_key(names)
    return key + struct.pack(f"<{len(names)}f", *wear.values())


def unpack_wear(blob: bytes, names: tuple[str, ...]) -> dict[str, float]:
    if len(blob) != LAYOUT_KEY_BYTES + 4 * len(names):  # as struct.unpack of the tail would
        raise struct.error("joint wear does not match its layout")
    values = struct.unpack_from(f"<{len(names)}f", blob, LAYOUT_KEY_BYTES)
    return dict(zip(names, map(round, values, repeat(3, len(names))), strict=True))


_WEAR_JSON: dict[tuple[str, ...], tuple[Any, str]] = {}


def wear_json(blob: bytes, names: tuple[str, ...]) -> str:
    """``orjson.dumps(unpack_wear(blob, names))`` in value, ~10× faster (the fold writes one
    per unit): one C ``%`` format per layout, whose ``%.3f`` rounds the float32 values as
    ``round(v, 3)`` does (the nearest 3-decimal number; ties to even). Values are finite
    (validated 0–100); anything else takes the exact slow path."""
    if len(blob) != LAYOUT_KEY_BYTES + 4 * len(names):
        raise struct.error("joint wear does not match its layout")
    entry = _WEAR_JSON.get(names)
    if entry is None:
        if len(_WEAR_JSON) > 10_000:  # bound the cache against junk joint names
            _WEAR_JSON.clear()
        template = "{" + ",".join(orjson.dumps(n).decode().replace("%", "%%") + ":%.3f"
                                  for n in names) + "}"
        entry = _WEAR_JSON[names] = (struct.Struct(f"<{len(names)}f").unpack_from, template)
    unpack, template = entry
    text: str = template % unpack(blob, LAYOUT_KEY_BYTES)
    if "nan" in text or "inf" in text:  # not JSON (or a joint named so: the same result)
        return orjson.dumps(unpack_wear(blob, names)).decode()
    return text


def _loads(text: bytes) -> Any:
    """orjson, falling back to the standard library for ``NaN``, ``Infinity`` and numbers
    like ``1e400`` that orjson refuses: they reach validation and are rejected one by one."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            return json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ValueError(str(exc)) from exc


def _too_many_strings(body: bytes, objects: int) -> str | None:
    most = max(1, objects // OBJECTS_MIN)  # every reading is at least OBJECTS_MIN objects
    strings = body.count(b'"') // 2
    if strings > STRINGS_PER_READING * most:  # escaped quotes are counted only then
        strings -= body.count(b'\\"') // 2 + 1
        if strings > STRINGS_PER_READING * most:
            return (f"the body holds {strings} JSON strings; {most} readings hold at most "
                    f"{STRINGS_PER_READING * most}")
    return None


def too_many_tokens(body: bytes, *, readings: int) -> str | None:
    """The fast path's guard, two counts at memchr speed BEFORE anything is parsed: more
    objects than ``readings`` readings hold (10⁶ empty objects in 3 MB), or more strings than
    the objects' readings can (10⁷ short strings, e.g. in one ``fault_codes``: msgspec checks
    a list's length after building it). Returns why, or None. Bounds: a quote or comma inside
    a string counts as one more, never one fewer, so no valid batch fails the string and
    value bounds; a brace inside a string counts as an object (as ``limits`` always did), so
    only a batch near the limit whose strings are full of braces could be refused whole."""
    objects = body.count(b"{")
    if objects > OBJECTS_MAX * readings + 1:
        return (f"the body holds more than {readings} readings' worth of JSON objects; "
                f"send at most {readings} readings per request")
    return _too_many_lines(body, readings) or _too_many_strings(body, objects)


_SPACE = re.compile(rb"\s*")


def _too_many_lines(body: bytes, readings: int) -> str | None:
    """NDJSON (not an array): more lines than items (each line becomes an object)."""
    start = _SPACE.match(body).end()  # type: ignore[union-attr]
    if body[start:start + 1] != b"[" and body.count(b"\n") > ITEMS_PER_LIMIT * readings:
        return f"the body holds more lines than {readings} readings; send at most {readings}"
    return None


def too_big(body: bytes, *, readings: int) -> str | None:
    """The exact path's guard (it parses the items into Python objects): as
    :func:`too_many_tokens`, and arrays, NDJSON lines and commas (numbers) too."""
    objects = body.count(b"{")
    containers = objects + body.count(b"[")
    if containers > CONTAINERS_MAX * readings + 1:
        return (f"the body holds more than {readings} readings' worth of JSON objects and "
                f"arrays; send at most {readings} readings per request")
    if reason := _too_many_lines(body, readings) or _too_many_strings(body, objects):
        return reason
    most = max(1, objects // OBJECTS_MIN)
    if body.count(b",") > COMMAS_PER_READING * most:
        return (f"the body holds more JSON values than {most} readings can "
                f"(at most {VALUES_PER_READING} each)")
    return None


_decode_raw = msgspec.json.Decoder(list[msgspec.Raw]).decode


def split_body(body: bytes, *, readings: int | None) -> tuple[Iterable[Any], list[Rejection]]:
    """The exact path's items, parsed one at a time as they are consumed (a chunk of them is
    in memory at once, never the whole body's objects): the top-level array is split into
    raw items in C, NDJSON into lines. Raises :class:`BadBody` like :func:`parse_body`, and
    when the body holds more than ``ITEMS_PER_LIMIT * readings`` items."""
    text = body.lstrip()
    if text[:1] != b"[":
        items, rejected = parse_body(body)
        return items, rejected
    try:
        raws = _decode_raw(text)
    except msgspec.DecodeError:
        if len(text) > WHOLE_PARSE_BYTES:  # not JSON, or NaN-like numbers: refuse
            raise BadBody("the body is not valid JSON (or too large to parse reading by "
                          "reading)") from None
        return parse_body(body)
    if readings is not None and len(raws) > ITEMS_PER_LIMIT * readings:
        raise BadBody(f"the body holds {len(raws)} items; send at most {readings} readings "
                      "per request")
    return _parsed(raws), []


def _parsed(raws: list[Any]) -> Iterable[Any]:
    for k, raw in enumerate(raws):
        raws[k] = None  # a parsed item need not keep its text
        try:
            yield _loads(bytes(raw))
        except ValueError:  # not after the split; should it happen, reject the item
            yield b""


def parse_body(body: bytes) -> tuple[list[Any], list[Rejection]]:
    """A JSON array, or NDJSON (one reading per line, blank lines skipped).

    Returns the items (``None`` for an NDJSON line that is not JSON, already rejected) and the
    rejections. Raises :class:`BadBody` when the body as a whole is not JSON, an array's JSON
    is malformed, or there is no reading at all.
    """
    text = body.lstrip()
    if not text:
        raise BadBody("the body is empty; send a JSON array or NDJSON of readings")
    if text[:1] == b"[":
        try:
            items = _loads(text)
        except ValueError as exc:
            raise BadBody(f"the body is not valid JSON: {exc}") from exc
        if not isinstance(items, list):
            raise BadBody("the body must be a JSON array or NDJSON of readings")
        return items, []
    items = []
    rejected: list[Rejection] = []
    loads = _loads
    parsed = 0
    for line in text.split(b"\n"):
        if not line.strip():
            continue
        try:
            items.append(loads(line))
            parsed += 1
        except ValueError:
            rejected.append({"index": len(items), "reason": "this NDJSON line is not valid JSON"})
            items.append(None)
    if not parsed:
        raise BadBody("the body is not JSON: send a JSON array or NDJSON of readings")
    return items, rejected


def _at_ms(value: Any) -> int | str:
    """Epoch ms of an RFC 3339 string (or an aware datetime from trusted Python callers)."""
    if type(value) is str:
        if not AT_LENGTH[0] <= len(value) <= AT_LENGTH[1]:
            return "at must be an RFC 3339 timestamp with a UTC offset, e.g. 2026-03-01T08:00:00Z"
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            return f"at {value[:40]!r} is not an RFC 3339 timestamp"
        if dt.tzinfo is None:
            return "at needs a UTC offset or Z"
    elif isinstance(value, datetime):
        dt = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    elif value is None:
        return "at is required"
    else:
        return "at must be an RFC 3339 string"
    return round(dt.timestamp() * 1000)


class _Bad:
    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _num(v: Any) -> bool:
    t = type(v)
    return t is float or t is int


def _plain(x: float) -> str:
    return str(int(x)) if x == int(x) else str(x)


def _range(limit: Limit) -> str:
    return f"{_plain(limit.lo)}-{_plain(limit.hi)}"


def check_metric(name: str, v: Any) -> Any:
    """``v`` as stored (``None`` when null), or :class:`_Bad` with the reason, per
    :data:`LIMITS`."""
    if v is None:
        return None
    limit = LIMITS[name]
    kind = limit.kind
    if kind == "percent":
        if not _num(v):
            return _Bad(f"{name} must be a number")
        if not limit.lo <= v <= limit.hi:  # also false for NaN
            return _Bad(f"{name} {v!r} is out of range {_range(limit)}")
        return float(v)
    if kind == "integer":
        if type(v) is float and v.is_integer():
            v = int(v)
        if type(v) is not int or not limit.lo <= v <= limit.hi:
            return _Bad(f"{name} must be an integer {_range(limit)}")
        return v
    if kind == "number":
        if not _num(v) or not limit.lo <= v <= limit.hi:
            return _Bad(f"{name} must be a number {_range(limit)}")
        return float(v)
    if kind == "wear":
        if type(v) is not dict or len(v) > limit.items:
            return _Bad(f"{name} must be an object of at most {limit.items} joints")
        for joint, w in v.items():
            if not _num(w) or not limit.lo <= w <= limit.hi or not joint \
                    or len(joint) > limit.length:
                return _Bad(f"{name}[{joint[:limit.length]!r}] must be a number "
                            f"{_range(limit)} (joint names 1-{limit.length} characters)")
        return v
    if kind == "strings":
        if type(v) is not list or len(v) > limit.items or not all(
                type(f) is str and 0 < len(f) <= limit.length for f in v):
            return _Bad(f"{name} must be a list of at most {limit.items} strings of "
                        f"1-{limit.length} characters")
        return v
    if type(v) is not str or not v or len(v) > limit.length:
        return _Bad(f"{name} must be a string of 1-{limit.length} characters")
    return v


def validate(items: Iterable[Any], *, now_ms: int, skew_ms: int = 120_000,
             min_ms: int = MIN_MS, max_readings: int | None = None,
             first_index: int = 0) -> tuple[list[Row], list[Rejection]]:
    """Check every reading; returns the valid rows and the rejections (index in the batch).

    Duplicates inside the batch (same code and ``at``) are not rejected here; the service
    counts them as duplicates.
    """
    rows: list[Row] = []
    rejected: list[Rejection] = []
    reject = rejected.append
    append = rows.append
    latest = now_ms + skew_ms
    dumps = orjson.dumps
    for index, r in enumerate(items, first_index):
        if max_readings is not None and index - first_index >= max_readings:
            reject({"index": index, "reason": f"the batch exceeds {max_readings} readings; "
                    "this one was not processed", "field": "batch"})
            continue
        if type(r) is not dict:
            if r is not None:  # None: an unparsable NDJSON line, already rejected
                reject({"index": index, "reason": "a reading must be a JSON object"})
            continue
        code = r.get("code")
        if type(code) is not str or not code or len(code) > MAX_CODE:
            reject({"index": index, "reason": "code must be a unit's identity code",
                    "field": "code"})
            continue
        if len(code) != 29 or not code.isupper():
            code = code.replace("-", "").replace(" ", "").upper()
        at = _at_ms(r.get("at"))
        if type(at) is str:
            reject({"index": index, "reason": at, "field": "at"})
            continue
        assert isinstance(at, int)
        if at > latest:
            reject({"index": index, "reason": "at is in the future", "field": "at"})
            continue
        if at < min_ms:
            reason = ("at is before 2000-01-01" if min_ms == MIN_MS
                      else "at is older than the raw retention period")
            reject({"index": index, "reason": reason, "field": "at"})
            continue
        m = r.get("metrics")
        if type(m) is not dict or not m:
            reject({"index": index, "reason": "metrics must be an object with at least one "
                    "metric", "field": "metrics"})
            continue
        if len(m) > 7 or not METRIC_SET.issuperset(m):
            unknown = sorted(set(m) - METRIC_SET)
            reject({"index": index, "reason": f"unknown metric {unknown[0]!r}; known: "
                    + ", ".join(METRICS), "field": f"metrics.{unknown[0]}"})
            continue
        values: dict[str, Any] = {}
        error = None
        for name, value in m.items():
            checked = check_metric(name, value)
            if type(checked) is _Bad:
                error = name, checked.reason
                break
            values[name] = checked
        if error is not None:
            reject({"index": index, "reason": error[1], "field": f"metrics.{error[0]}"})
            continue
        get = values.get
        soh, acc, cycles, hours = (get("battery_soh"), get("accuracy"), get("cycle_count"),
                                   get("operating_hours"))
        wear, faults, firmware = get("joint_wear"), get("fault_codes"), get("firmware")
        wear_text = max_wear = fault_text = None
        if wear is not None:
            if wear:
                max_wear = float(max(wear.values()))
                wear_text = pack_wear(wear)
            else:
                wear = None
        if faults is not None:
            fault_text = dumps(faults).decode()
        if soh is None and acc is None and cycles is None and hours is None and wear is None \
                and faults is None and firmware is None:
            reject({"index": index, "reason": "metrics must hold at least one metric",
                    "field": "metrics"})
            continue
        append((index, code, at, soh, cycles, acc, hours, max_wear, wear_text, fault_text,
                firmware, faults, wear))
    return rows, rejected


# --------------------------------------------------------------------------- fast path
def _fast_type(limit: Limit) -> Any:
    """The msgspec type of a metric, from :data:`LIMITS` (checked in C while decoding)."""
    kind = limit.kind
    if kind in ("percent", "number"):
        return Annotated[float, msgspec.Meta(ge=limit.lo, le=limit.hi)]
    if kind == "integer":
        return Annotated[int, msgspec.Meta(ge=int(limit.lo), le=int(limit.hi))]
    if kind == "wear":
        # joint names (1-length characters) are checked once per distinct layout in
        # _pack_column: a constrained key type would stop msgspec caching the keys
        return Annotated[dict[str, Annotated[float, msgspec.Meta(ge=limit.lo, le=limit.hi)]],
                         msgspec.Meta(max_length=limit.items)]
    if kind == "strings":
        return Annotated[list[Annotated[str, msgspec.Meta(min_length=1,
                                                          max_length=limit.length)]],
                         msgspec.Meta(max_length=limit.items)]
    return Annotated[str, msgspec.Meta(min_length=1, max_length=limit.length)]


_Metrics = msgspec.defstruct(
    "_Metrics", [(name, _fast_type(limit) | None, None) for name, limit in LIMITS.items()],
    forbid_unknown_fields=True, gc=False)


_Reading = msgspec.defstruct(
    "_Reading", [("code", Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_CODE)]),
                 ("at", datetime), ("metrics", _Metrics)], gc=False)


_READINGS: Any = list[_Reading]  # type: ignore[valid-type]
_decode_batch = msgspec.json.Decoder(_READINGS).decode
_convert = msgspec.convert
_decode_one = msgspec.json.Decoder(_Reading).decode
_EMPTY = _Metrics()


class NotFast(Exception):
    """The fast path cannot decide this batch; use the exact one. ``index``: the first
    reading it found wrong (None when the body as a whole is, or it cannot tell)."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


_AT_INDEX = re.compile(r"at `\$\[(\d+)\]")


def _error_index(exc: Exception) -> int | None:
    found = _AT_INDEX.search(str(exc))
    return int(found.group(1)) if found else None


def decode_fast(body: bytes, *, now_ms: int, skew_ms: int = 120_000, min_ms: int = MIN_MS,
                max_readings: int | None = None) -> Batch:
    """All readings of a JSON array or NDJSON body as rows, or :class:`NotFast` when any
    reading (or the body) is not good: then :func:`parse_body` + :func:`validate` say why."""
    text = body.strip()
    if text[:1] != b"[":
        text = b"[" + b",".join(line for line in text.split(b"\n") if line.strip()) + b"]"
    try:
        items = _decode_batch(text)
    except msgspec.ValidationError as exc:
        index = _error_index(exc)
        if index:  # a reading before it may break a check made after decoding
            prefix = [_decode_one(raw) for raw in _decode_raw(text)[:index]]
            index = _bad_prefix(prefix, index, now_ms=now_ms, skew_ms=skew_ms, min_ms=min_ms,
                                max_readings=max_readings)
        raise NotFast(str(exc), index) from exc
    except msgspec.DecodeError as exc:
        raise NotFast(str(exc)) from exc
    return _columns(items, now_ms=now_ms, skew_ms=skew_ms, min_ms=min_ms,
                    max_readings=max_readings)


def convert_fast(items: list[Any], *, now_ms: int, skew_ms: int = 120_000,
                 min_ms: int = MIN_MS, first_index: int = 0) -> Batch:
    """Like :func:`decode_fast` for readings already in Python (``at`` a datetime or an RFC
    3339 string): the seeder's bulk path. Raises :class:`NotFast` on anything wrong."""
    try:
        structs = _convert(items, _READINGS)
    except msgspec.ValidationError as exc:
        index = _error_index(exc)
        if index:  # a reading before it may break a check made after decoding
            index = _bad_prefix(_convert(items[:index], _READINGS), index, now_ms=now_ms,
                                skew_ms=skew_ms, min_ms=min_ms, max_readings=None)
        raise NotFast(str(exc), None if index is None else index + first_index) from exc
    except TypeError as exc:
        raise NotFast(str(exc)) from exc
    try:
        batch = _columns(structs, now_ms=now_ms, skew_ms=skew_ms, min_ms=min_ms,
                         max_readings=None)
    except NotFast as exc:
        raise NotFast(str(exc), None if exc.index is None else exc.index + first_index) \
            from None
    return batch.shifted(first_index)


class Batch:
    """Valid readings column by column (positions are the same in every column): the fast
    paths build columns with comprehensions and C builtins, and the store builds its insert
    rows with one ``zip``, so no per-reading tuple is built twice. ``layouts`` holds the
    layout key of every packed ``joint_wear`` in the batch (a superset after :meth:`take`).
    """

    __slots__ = ("index", "codes", "ats", "soh", "cycles", "acc", "hours", "max_wear", "wear",
                 "fault_text", "firmware", "faults", "wears", "layouts")

    index: Sequence[int]
    codes: Sequence[str]
    ats: Sequence[int]

    def __init__(self, columns: Sequence[Sequence[Any]], layouts: set[bytes]) -> None:
        """``columns`` in :data:`Row` order."""
        (self.index, self.codes, self.ats, self.soh, self.cycles, self.acc, self.hours,
         self.max_wear, self.wear, self.fault_text, self.firmware, self.faults,
         self.wears) = columns
        self.layouts = layouts

    def __len__(self) -> int:
        return len(self.codes)

    @classmethod
    def from_rows(cls, rows: Sequence[Row]) -> Batch:
        if not rows:
            return cls([()] * 13, set())
        cols = list(zip(*rows, strict=True))
        return cls(cols, {w[:LAYOUT_KEY_BYTES] for w in cols[8] if w is not None})

    def row(self, i: int) -> Row:
        """Position ``i`` as a :data:`Row`."""
        return (self.index[i], self.codes[i], self.ats[i], self.soh[i], self.cycles[i],
                self.acc[i], self.hours[i], self.max_wear[i], self.wear[i], self.fault_text[i],
                self.firmware[i], self.faults[i], self.wears[i])

    def rows(self) -> list[Row]:
        return list(zip(self.index, self.codes, self.ats, self.soh, self.cycles, self.acc,
                        self.hours, self.max_wear, self.wear, self.fault_text, self.firmware,
                        self.faults, self.wears, strict=True))

    def take(self, keep: Sequence[int]) -> Batch:
        """The readings at positions ``keep``, in that order."""
        return Batch([[col[i] for i in keep] for col in (
            self.index, self.codes, self.ats, self.soh, self.cycles, self.acc, self.hours,
            self.max_wear, self.wear, self.fault_text, self.firmware, self.faults,
            self.wears)], self.layouts)

    def shifted(self, offset: int) -> Batch:
        """The same readings with ``offset`` added to every index."""
        if offset:
            self.index = range(offset, offset + len(self.codes))
        return self


def _normal_codes(codes: list[str]) -> list[str]:
    if set(map(len, codes)) == {29} and all(map(str.isupper, codes)):
        return codes  # the usual batch, checked in C
    odd = [c for c in set(codes) if len(c) != 29 or not c.isupper()]
    if not odd:
        return codes
    fixed = {c: c.replace("-", "").replace(" ", "").upper() for c in odd}
    get = fixed.get
    return [get(c, c) for c in codes]


_PACKERS: dict[int, Any] = {}


def _packer(n: int) -> Any:
    pack = _PACKERS.get(n)
    if pack is None:
        pack = _PACKERS[n] = struct.Struct(f"<{n}f").pack
    return pack


def _pack_column(wears: list[dict[str, float] | None]) -> tuple[list[bytes | None], set[bytes]]:
    """:func:`pack_wear` of a whole column: one layout lookup per distinct set of joint
    names, one C ``struct`` call per reading."""
    present = [w for w in wears if w is not None]
    names = list(map(tuple, present))
    distinct = set(names)
    for nm in distinct:
        if not all(0 < len(name) <= MAX_JOINT_NAME for name in nm):
            raise NotFast("joint name length")
    keys = {nm: _LAYOUTS.get(nm) or layout_key(nm) for nm in distinct}
    if len(distinct) == 1 and len(present) == len(wears):
        (nm,) = distinct
        key = keys[nm]
        packed = [key + b for b in starmap(_packer(len(nm)), map(dict.values, present))]
        return packed, {key}  # type: ignore[return-value]
    it = iter(names)
    out: list[bytes | None] = []
    for w in wears:
        if w is None:
            out.append(None)
        else:
            nm = next(it)
            out.append(keys[nm] + _packer(len(nm))(*w.values()))
    return out, set(keys.values())


def _first_bad(items: list[Any], *, now_ms: int, skew_ms: int, min_ms: int,
               max_readings: int | None) -> int | None:
    """The first reading the checks of :func:`_columns` refuse (only run when one did)."""
    for i, r in enumerate(items):
        m = r.metrics
        if (max_readings is not None and i >= max_readings) or r.at.tzinfo is None \
                or not min_ms <= round(r.at.timestamp() * 1000) <= now_ms + skew_ms \
                or m == _EMPTY or (m.joint_wear == {} and msgspec.structs.replace(
                    m, joint_wear=None) == _EMPTY) \
                or (m.joint_wear and not all(0 < len(k) <= MAX_JOINT_NAME
                                             for k in m.joint_wear)):
            return i
    return None


def _bad_prefix(prefix: list[Any], index: int, **checks: Any) -> int:
    """``index`` (where decoding failed), or the first reading of ``prefix`` (the readings
    before it, decoded) that a check after decoding refuses."""
    first = _first_bad(prefix, **checks)
    return index if first is None else first


def _columns(items: list[Any], *, now_ms: int, skew_ms: int, min_ms: int,
             max_readings: int | None) -> Batch:
    try:
        return _checked_columns(items, now_ms=now_ms, skew_ms=skew_ms, min_ms=min_ms,
                                max_readings=max_readings)
    except NotFast as exc:
        raise NotFast(str(exc), _first_bad(items, now_ms=now_ms, skew_ms=skew_ms,
                                           min_ms=min_ms, max_readings=max_readings)) from None


def _checked_columns(items: list[Any], *, now_ms: int, skew_ms: int, min_ms: int,
                     max_readings: int | None) -> Batch:
    n = len(items)
    if max_readings is not None and n > max_readings:
        raise NotFast("too many readings")
    if not n:
        raise NotFast("no readings")
    # Column by column: comprehensions and C builtins instead of one Python loop per reading.
    codes = _normal_codes([r.code for r in items])
    stamps = [r.at for r in items]
    if None in {dt.tzinfo for dt in stamps}:
        raise NotFast("naive at")
    ats = [round(t * 1000) for t in map(datetime.timestamp, stamps)]
    if max(ats) > now_ms + skew_ms or min(ats) < min_ms:
        raise NotFast("at out of range")
    metrics = [r.metrics for r in items]
    if _EMPTY in metrics:
        raise NotFast("empty metrics")
    raw_wears = [m.joint_wear for m in metrics]
    if {} in raw_wears and _EMPTY in [msgspec.structs.replace(m, joint_wear=None)
                                     for m in metrics if m.joint_wear == {}]:
        raise NotFast("no metric but an empty joint_wear")  # the exact path rejects it
    wears = [w or None for w in raw_wears]
    if None in wears:
        max_wear = [None if w is None else max(w.values()) for w in wears]
    else:
        max_wear = list(map(max, map(dict.values, wears)))  # type: ignore[arg-type]
    wear_packed, layouts = _pack_column(wears)
    faults = [m.fault_codes for m in metrics]
    encode = msgspec.json.encode
    fault_text = [None if f is None else "[]" if not f else encode(f).decode() for f in faults]
    return Batch((range(n), codes, ats, [m.battery_soh for m in metrics],
                  [m.cycle_count for m in metrics], [m.accuracy for m in metrics],
                  [m.operating_hours for m in metrics], max_wear, wear_packed, fault_text,
                  [m.firmware for m in metrics], faults, wears), layouts)
