"""Units' facts for ingest (status, owner, operator, sid), kept per process between batches.

Every live batch needs the facts of every unit in it (who may report, whether the unit is
terminal, its telemetry sid). Read from the database they cost ~2–3 µs a unit on the live
shape (the ``units`` row of each, measured; docs/performance.md), a tenth of the server's
CPU per reading, for facts that change rarely. So a server process keeps them, per engine
(each database its own), as long as they cannot have changed:

* a unit's status, owner and operator change only through events (``lifecycle.service``,
  the federation hand-over), and every event appends a leaf to the ledger in the same
  transaction, so **the ledger's size** (``ledger_state.size``, one row) moves with every
  such change. Each batch reads it first; a different size empties the cache. The size is
  read before the facts, so cached facts are never older than the size they are kept under
  (on PostgreSQL, read committed, a change committing in between shows in the facts and
  in the next size read);
* a change made outside the application (SQL by hand, which ``robopass ledger statecheck``
  reports as tampering) is seen after :data:`MAX_AGE_S` at most: the cache is also emptied
  that often;
* only units with a sid are kept (a sid never changes); unknown units and units without
  telemetry yet are read every time, so the first batch of a new unit creates its row.

The result is what reading the facts at the moment the batch read the ledger's size gives,
which is what :func:`service.read_facts` promised before (facts read before the write
transaction; a change committed between that read and the write orders the batch before it).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from robopass.telemetry import snapshots

#: Facts of a unit: ``(status, owner_id, operator_id, sid | None)``.
Facts = dict[str, tuple[Any, ...]]
#: Seconds after which the cache is emptied whatever the ledger says (changes made outside
#: the application).
MAX_AGE_S = 30.0
#: Units kept per database at most (~200 bytes each); past it the cache starts again.
MAX_UNITS = 50_000


class _Cache:
    __slots__ = ("facts", "lock", "since", "strings", "version")

    def __init__(self) -> None:
        self.version: int | None = None
        self.since = 0.0
        self.facts: Facts = {}
        self.strings: dict[str, str] = {}
        self.lock = threading.Lock()


_caches: weakref.WeakKeyDictionary[Engine, _Cache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def _shared(fact: tuple[Any, ...], strings: dict[str, str]) -> tuple[Any, ...]:
    """``fact`` with its statuses and organisation ids shared among the kept units (a fleet
    has few owners: half the memory of a unit's facts)."""
    return tuple(strings.setdefault(v, v) if type(v) is str else v for v in fact)


def ledger_size(session: Session) -> int:
    """The ledger's size as the database has it now. Not ``ledger.service.size``: that is
    ``session.get``, which answers from the session's identity map when the row was loaded
    before: a size older than the database's could keep facts a later event changed."""
    rows = snapshots.query(session, "SELECT size FROM ledger_state WHERE id = 1", [])
    return int(rows[0][0]) if rows else 0


def _cache_of(session: Session) -> _Cache:
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine  # a session on a connection
    with _caches_lock:
        cache = _caches.get(engine)
        if cache is None:
            cache = _caches[engine] = _Cache()
    return cache


def cached(session: Session, codes: list[str],
           read: Callable[[Session, list[str]], Facts]) -> Facts:
    """code → facts of ``codes`` (distinct): those kept since the ledger last grew,
    the others read with ``read`` (and kept when the unit has a sid). Unknown codes are
    absent, as from ``read``."""
    cache = _cache_of(session)
    version = ledger_size(session)  # before the facts: see the module docstring
    now = time.monotonic()
    with cache.lock:
        if version != cache.version or now - cache.since > MAX_AGE_S \
                or len(cache.facts) > MAX_UNITS:
            cache.version, cache.since, cache.facts, cache.strings = version, now, {}, {}
        kept = cache.facts
    out = {code: fact for code in codes if (fact := kept.get(code)) is not None}
    if len(out) < len(codes):
        fresh = read(session, [code for code in codes if code not in out])
        out.update(fresh)
        with cache.lock:
            if cache.version == version and cache.facts is kept:
                kept.update((code, _shared(fact, cache.strings)) for code, fact in fresh.items()
                            if fact[3] is not None)
    return out
