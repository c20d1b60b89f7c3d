"""Size limits of free-form JSON the registry stores and ledgers forever (SPEC §12).

Pure: no web, no database. ``details`` of an event is at most :data:`MAX_DETAILS_BYTES` of
compact JSON and at most :data:`MAX_DETAILS_DEPTH` containers deep; schemas use
:data:`Details` so a violation is a 422 naming the field (``details``, or
``events[3].details`` in a batch).
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from pydantic import AfterValidator

MAX_DETAILS_BYTES = 16 * 1024
MAX_DETAILS_DEPTH = 8


def depth(value: Any, *, limit: int) -> int:
    """Nesting depth of containers in ``value`` (a scalar is 0), counting no further than
    ``limit + 1`` (so a hostile document costs no more than the limit)."""
    if isinstance(value, dict):
        children: Any = value.values()
    elif isinstance(value, list):
        children = value
    else:
        return 0
    if limit < 0:
        return 1
    return 1 + max((depth(c, limit=limit - 1) for c in children), default=0)


def check_details(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """``value`` unchanged, or ValueError saying which limit it passes."""
    if value is None:
        return None
    if depth(value, limit=MAX_DETAILS_DEPTH) > MAX_DETAILS_DEPTH:
        raise ValueError(f"details may nest at most {MAX_DETAILS_DEPTH} levels deep")
    try:
        size = len(orjson.dumps(value))
    except TypeError as exc:  # e.g. a lone surrogate ("\ud800"): not storable text
        raise ValueError(f"details cannot be stored: {exc}") from exc
    if size > MAX_DETAILS_BYTES:
        raise ValueError(f"details is {size} bytes of JSON; at most {MAX_DETAILS_BYTES}")
    return value


Details = Annotated[dict[str, Any] | None, AfterValidator(check_details)]


#: Containers (objects and arrays) one telemetry reading may hold: itself, ``metrics``,
#: ``joint_wear``, ``fault_codes``.
CONTAINERS_PER_READING = 4


def too_many_containers(body: bytes, *, readings: int) -> bool:
    """Whether a JSON/NDJSON body holds more objects and arrays than ``readings`` readings can
    (an upper bound counted at memchr speed before parsing: braces inside strings count too, so
    it never lets a larger document through). Parsing a body allocates a Python object per
    container, so this bounds the memory a hostile body (10⁶ empty objects in 3 MB) can take."""
    budget = CONTAINERS_PER_READING * readings + 1
    return body.count(b"{") + body.count(b"[") > budget
