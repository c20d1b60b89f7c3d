"""Templates pre-rendered into static text and slots (pure: no I/O, no web framework).

A page whose structure is fixed for a given *shape* (its language, verdict, which optional
rows it shows) differs between requests only in a few values. :func:`compile_skeleton` renders
the real template once with a unique placeholder for each such value, then splits the output
at the placeholders: what is left is a list of static strings and slot names. Filling it is one
``str.join`` of the static text and the HTML-escaped values: the exact bytes the template
would have produced, without the template engine's per-render machinery (context objects,
block functions, generators).

This is only valid when no slot value steers the template's control flow (``{% if %}`` on the
value, a filter other than escaping): the caller makes everything that does part of the shape,
and checks each shape once against a real rendering before trusting it
(:meth:`Skeleton.matches`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from markupsafe import escape

#: Private-use code points bracket a slot name: no template text or filter produces them.
_OPEN, _CLOSE = "\ue000", "\ue001"
_SLOT = re.compile(f"{_OPEN}([A-Za-z0-9_]+){_CLOSE}")


def placeholder(name: str) -> str:
    """The text that stands for slot ``name`` while the skeleton is rendered."""
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise ValueError(f"slot names are letters, digits and _: {name!r}")
    return f"{_OPEN}{name}{_CLOSE}"


class NotASkeleton(ValueError):
    """The rendering cannot be split into static text and whole slots."""


class Skeleton:
    """Static text with named slots; :meth:`fill` escapes values as Jinja's autoescape does."""

    __slots__ = ("_parts", "_slots", "_escaped", "checked")

    def __init__(self, rendered: str, slots: frozenset[str] | set[str],
                 safe: frozenset[str] = frozenset()) -> None:
        """``safe``: slots whose values the caller builds only from characters that need no
        escaping in HTML text or attributes (letters, digits, ``-/?=_``) or from integers;
        they are inserted as they are. Every other slot's value is escaped."""
        pieces = _SLOT.split(rendered)
        statics = pieces[0::2]
        names = pieces[1::2]
        if any(_OPEN in s or _CLOSE in s for s in statics):
            raise NotASkeleton("a placeholder was altered by the template (filter or slice)")
        unknown = set(names) - set(slots)
        if unknown:
            raise NotASkeleton(f"unknown slots {sorted(unknown)}")
        #: alternating static text and slot names, static first and last
        self._parts: tuple[str, ...] = tuple(pieces)
        self._slots = tuple(names)
        #: per slot position of ``_parts``: whether its value is escaped
        self._escaped = tuple((i, pieces[i] not in safe) for i in range(1, len(pieces), 2))
        #: set once a real rendering of this shape was compared and found equal
        self.checked = False

    @property
    def slots(self) -> tuple[str, ...]:
        return self._slots

    def fill(self, values: Mapping[str, Any]) -> str:
        """The page with every slot replaced by its HTML-escaped value (``None`` → ``"None"``,
        as Jinja prints it; the caller keeps ``None`` out of slots that can hold it)."""
        parts = list(self._parts)
        for i, escaped in self._escaped:
            value = values[parts[i]]
            parts[i] = escape(value) if escaped else str(value)
        return "".join(parts)

    def matches(self, values: Mapping[str, Any], render: Callable[[], str]) -> bool:
        """Whether :meth:`fill` equals a real rendering for these values (marks it checked)."""
        ok = self.fill(values) == render()
        self.checked = ok
        return ok


def compile_skeleton(render: Callable[[Callable[[str], str]], str],
                     slots: frozenset[str] | set[str],
                     safe: frozenset[str] = frozenset()) -> Skeleton:
    """``render(slot)`` renders the template with ``slot(name)`` wherever a value goes;
    ``safe`` as for :class:`Skeleton`."""
    return Skeleton(render(placeholder), slots, safe)
