"""RFC 8785 JSON Canonicalization Scheme (JCS) and the digests built on it.

The ``rfc8785`` package is the reference implementation. Issuance serialises millions of small
records made only of str / int / bool / None / dict / list, and for exactly those values JCS
equals orjson's sorted-key output, so that case takes a fast path:

- strings: orjson and JCS both escape only ``"``, ``\\`` and U+0000..U+001F (``\\b \\f \\n \\r \\t``
  by name, the rest as lowercase ``\\u00xx``) and write everything else as raw UTF-8;
- integers: identical digits, but JCS allows only the IEEE-754 safe range ±(2**53 - 1);
- keys: JCS orders by UTF-16 code units, orjson by code points; the two orders differ only when a
  key holds a character beyond U+FFFF, so such objects are left to the reference.

Anything else (floats, big ints, tuples of odd types, subclasses, non-str keys, lone surrogates)
goes to ``rfc8785.dumps``, which also raises its ``CanonicalizationError`` for values JCS cannot
represent.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson
import rfc8785

__all__ = ["CanonicalizationError", "canonical_json", "sha256_hex"]

CanonicalizationError = rfc8785.CanonicalizationError

_INT_MAX = 2**53 - 1
_INT_MIN = -(2**53) + 1
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_SORT_KEYS = orjson.OPT_SORT_KEYS


def _fast_path_ok(value: Any) -> bool:
    """True when ``value`` is made only of types whose orjson output is already JCS."""
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or (not key.isascii() and _ASTRAL.search(key)):
                return False
            item_kind = type(item)
            if item_kind is str or item_kind is bool or item is None:
                continue
            if item_kind is int:
                if not _INT_MIN <= item <= _INT_MAX:
                    return False
                continue
            if not _fast_path_ok(item):
                return False
        return True
    if kind is list:
        return all(_fast_path_ok(item) for item in value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(_INT_MIN <= value <= _INT_MAX)
    return False


def fast_path_ok(value: Any) -> bool:
    """True when orjson with sorted keys serialises ``value`` exactly as JCS does (no floats,
    no integers beyond ±(2**53 - 1), no keys outside the BMP)."""
    return _fast_path_ok(value)


def canonical_json(value: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 serialisation of a JSON-like ``value``.

    Raises ``CanonicalizationError`` (a ``ValueError``) for values JCS cannot represent:
    integers beyond ±(2**53 - 1), NaN or infinite floats, non-str keys, unpaired surrogates,
    unsupported types."""
    if _fast_path_ok(value):
        try:
            return orjson.dumps(value, option=_SORT_KEYS)
        except (TypeError, orjson.JSONEncodeError):
            pass  # e.g. a lone surrogate or deep nesting: let the reference decide
    return rfc8785.dumps(value)


def sha256_hex(data: bytes) -> str:
    """Lowercase hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()
