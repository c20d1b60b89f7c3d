"""Build and serve the registry's status list (SPEC §16).

How it stays cheap at 10,000,000 codes: the list is rebuilt from the few units whose value is
not 0, never from a scan of every unit —

1. the units whose own state lists them (suspended, scrapped, recycled, or an open recall),
   read through the partial index ``ix_units_status_listed`` (its predicate is
   :data:`robopass.robots.models.LISTED_WHERE`);
2. the units of suspended or revoked models, through ``ix_units_model_status``;

then a zeroed array of ``registry.next_status_index`` entries gets those values set, and zlib
compresses it (long runs of zero bytes compress to almost nothing). The signed token is kept
per process for :data:`MAX_AGE` seconds, so the list served reflects a committed change within
that many seconds (plus the time of one build) — ``bench/bench_status_list.py`` measures the
build.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from robopass.ledger import keys
from robopass.registry import service as registry_service
from robopass.registry.models import Registry
from robopass.robots.models import LISTED_WHERE
from robopass.statuslist import token
from robopass.timeutil import utcnow

#: Seconds a built list is reused by a server process.
MAX_AGE = 2.0
#: ``ttl`` of the token: how long a verifier may rely on a list before fetching a new one.
TTL = 3600
PATH = "/api/v1/status-list"

_UNIT_SQL = text(f"SELECT status_index, status, open_recalls FROM units "
                 f"WHERE ({LISTED_WHERE}) AND status_index IS NOT NULL")
_MODEL_SQL = text("SELECT u.status_index, u.status, u.open_recalls, m.status FROM units u "
                  "JOIN product_models m ON m.id = u.model_id "
                  "WHERE m.status IN ('suspended', 'revoked') AND u.status_index IS NOT NULL")


def value_for(unit_status: str, open_recalls: int, model_status: str | None = None) -> int:
    """The list value of one unit: invalid beats suspended beats open recall."""
    if unit_status in ("scrapped", "recycled") or model_status == "revoked":
        return token.INVALID
    if unit_status == "suspended" or model_status == "suspended":
        return token.SUSPENDED
    if open_recalls:
        return token.RECALL
    return token.VALID


def entries(session: Session) -> list[tuple[int, int]]:
    """``(index, value)`` for every unit whose value is not 0 (two indexed reads)."""
    out = [(int(i), value_for(s, int(r or 0)))
           for i, s, r in session.execute(_UNIT_SQL)]
    out += [(int(i), value_for(s, int(r or 0), m))
            for i, s, r, m in session.execute(_MODEL_SQL)]
    return [(i, v) for i, v in out if v]


def size(session: Session) -> int:
    reg = session.get(Registry, 1)
    return int(reg.next_status_index or 0) if reg is not None else 0


def uri_for(public_url: str) -> str:
    return f"{public_url.rstrip('/')}{PATH}"


def build(session: Session, *, public_url: str) -> dict[str, Any]:
    """The status list payload as of now (unsigned)."""
    array = token.pack(size(session), entries(session))
    return {"sub": uri_for(public_url), "iss": registry_service.origin(session),
            "iat": int(utcnow().timestamp()), "ttl": TTL,
            "status_list": {"bits": token.BITS, "lst": token.compress(array)}}


def signed(session: Session, *, public_url: str) -> str:
    """A freshly built and signed status list token."""
    kid, private = keys.active(session)
    return token.sign(private, kid, build(session, public_url=public_url))


_cache: dict[tuple[str, str], tuple[float, str]] = {}
_lock = threading.Lock()


def current(session: Session, *, public_url: str, max_age: float = MAX_AGE) -> str:
    """The signed list, rebuilt when the kept one is older than ``max_age`` seconds."""
    key = (str(session.get_bind().engine.url), public_url)
    now = time.monotonic()
    kept = _cache.get(key)
    if kept is not None and now - kept[0] < max_age:
        return kept[1]
    with _lock:  # one build at a time per process; the others take its result
        kept = _cache.get(key)
        if kept is not None and time.monotonic() - kept[0] < max_age:
            return kept[1]
        jws = signed(session, public_url=public_url)
        _cache[key] = (time.monotonic(), jws)
        return jws
