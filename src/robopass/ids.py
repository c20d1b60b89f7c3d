"""Opaque, roughly time-ordered identifiers (``prefix_`` + 20 lower-case hex/base32 chars)."""

from __future__ import annotations

import os
import time


def new_id(prefix: str) -> str:
    """Return ``{prefix}_{12 hex of ms time}{10 hex random}``; sortable by creation time."""
    return f"{prefix}_{int(time.time() * 1000):012x}{os.urandom(5).hex()}"
