"""Is a ledger entry a well-formed public leaf record (SPEC §5)? Pure.

A leaf is the JCS (RFC 8785) text of ``{kind, code, type, at, id, digest}``: ``kind`` one of
code / event / decision, ``code``, ``type`` and ``id`` non-empty strings (``code`` empty for
a decision about something that is not a unit), ``at`` an RFC 3339 UTC
time or null, ``digest`` 64 lowercase hex digits — and nothing else.
"""

from __future__ import annotations

import re

import orjson

from robopass.canonical import canonical_json
from robopass.ledger.heads import parse_timestamp

KINDS = frozenset({"code", "event", "decision"})
FIELDS = frozenset({"kind", "code", "type", "at", "id", "digest"})
_DIGEST = re.compile(r"[0-9a-f]{64}")


def problem(leaf: bytes) -> str | None:
    """None for a well-formed leaf, else what is wrong with it."""
    try:
        record = orjson.loads(leaf)
    except orjson.JSONDecodeError:
        return "not JSON"
    if not isinstance(record, dict):
        return "not a JSON object"
    if set(record) != FIELDS:
        return f"fields {sorted(record)} are not {sorted(FIELDS)}"
    if record["kind"] not in KINDS:
        return f"kind {record['kind']!r} is not one of {sorted(KINDS)}"
    for name in ("code", "type", "id"):
        if not isinstance(record[name], str):
            return f"{name} is not a string"
        # a decision about something that is not a unit has an empty code (SPEC §13)
        if not record[name] and not (name == "code" and record["kind"] == "decision"):
            return f"{name} is not a non-empty string"
    if record["at"] is not None:
        try:
            parse_timestamp(record["at"])
        except ValueError:
            return f"at {record['at']!r} is not an RFC 3339 UTC time"
    if not isinstance(record["digest"], str) or not _DIGEST.fullmatch(record["digest"]):
        return "digest is not 64 lowercase hex digits"
    if canonical_json(record) != leaf:
        return "not in JCS (RFC 8785) form"
    return None
