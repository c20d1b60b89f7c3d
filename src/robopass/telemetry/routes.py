"""Telemetry endpoints (SPEC §7, §9): ingest, health, history. Thin: services do the work."""

from __future__ import annotations

import asyncio
import threading
import weakref
from contextlib import nullcontext
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from robopass import gate
from robopass.db import is_sqlite, reading, shrink_after, transaction, write_session
from robopass.deps import CurrentActor, ReadSession
from robopass.errors import InvalidInput, PayloadTooLarge
from robopass.robots import service as robot_service
from robopass.telemetry import service
from robopass.telemetry.readings import LIMITS, MAX_CODE, BadBody, metric_json_schema
from robopass.telemetry.schemas import HealthView, IngestResult, TelemetrySeries
from robopass.telemetry.settings import get_telemetry_settings

router = APIRouter(prefix="/api/v1", tags=["telemetry"])

READING_SCHEMA = {  # the limits are readings.LIMITS, the table both validation paths read
    "type": "object", "required": ["code", "at", "metrics"],
    "properties": {
        "code": {"type": "string", "minLength": 1, "maxLength": MAX_CODE,
                 "description": "the unit's identity code"},
        "at": {"type": "string", "format": "date-time"},
        "metrics": {"type": "object", "minProperties": 1, "additionalProperties": False,
                    "properties": {name: metric_json_schema(name) for name in LIMITS}},
    },
}
INGEST_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"type": "array", "items": READING_SCHEMA}},
        "application/x-ndjson": {"schema": {"type": "string",
                                            "description": "one reading per line"}},
    },
}


async def _read_body(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(f"the body exceeds {limit} bytes; nothing was stored",
                              limit=limit)
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body exceeds {limit} bytes; nothing was stored",
                                  limit=limit)
        chunks.append(chunk)
    return b"".join(chunks)


#: SQLite: one batch at a time per server process. Decoding is CPU work that holds the GIL
#: for milliseconds; a second batch decoding in the same process would stall the thread that
#: holds the database's single write lock at every statement (it must win the GIL back each
#: time), and every writer of every process would wait for it. One at a time, a process
#: decodes its next batch while another process holds the write lock.
_ONE_SQLITE_BATCH = threading.Lock()
#: PostgreSQL: one batch per process at a time, decoded and stored. Batches that share units
#: serialise on those units' head rows; more of them waiting at once held PostgreSQL's snapshot
#: horizon back by every batch in the queue, so the rows they waited for could not be pruned
#: and every batch got slower (measured on the live shape, 8 connections: 15,000–19,000
#: readings/s and falling, against 75,000 with at most two). Two (one decoding while one was
#: stored) held a second batch's objects: the two workers' peaks summed 357–366 MB, 325–331
#: with one, at the same rate when both versions ran side by side
#: (``bench_telemetry_ab.py --backend postgresql``). The other process decodes meanwhile.
_PG_BATCHES = threading.BoundedSemaphore(1)
#: One write transaction per process (implied while ``_PG_BATCHES`` is one; kept for more).
_ONE_PG_WRITE = threading.Lock()


def _ingest(url: str, body: bytes, actor: Any) -> dict[str, Any]:
    sqlite = is_sqlite(url)
    with _ONE_SQLITE_BATCH if sqlite else _PG_BATCHES:
        try:  # parsed and checked before the write transaction
            decoded = service.decode_body(body, actor=actor)
        except BadBody as exc:
            raise InvalidInput(str(exc), field="body", code="malformed_body") from exc
        with reading(url) as session:  # outside the write lock
            service.read_facts(session, decoded)
            shrink_after(session)
        with nullcontext() if sqlite else _ONE_PG_WRITE, write_session(url) as session, \
                transaction(session, ledger=False):
            shrink_after(session)
            return service.store_decoded(session, decoded, actor=actor)


#: How many batches of a server process are read into memory at once — the one being stored
#: (one at a time: ``_ONE_SQLITE_BATCH``, ``_PG_BATCHES``) and the next, read while it is. A
#: batch's body is read once it has a slot; the others wait in their sockets' buffers (the
#: server stops reading a connection whose request body is not consumed), not in the
#: process's memory: with 4 connections on a worker, 4 bodies of 3.5 MB and their chunks were
#: held at once. (On PostgreSQL too since session 9: 511–537 → 499–501 MB, measured.)
BODIES_IN_MEMORY = 2
#: An upload still arriving after this many seconds gives its slot up and goes on without one
#: (as every upload did before the slots): a slow or stalled client must not hold up the rest.
SLOW_BODY_S = 1.0
_body_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary())


class _BodySlot:
    """One of this event loop's body slots, held until the batch is stored or, if its body
    is slow to arrive, until :data:`SLOW_BODY_S` has passed."""

    def __init__(self) -> None:
        self.held = False
        loop = asyncio.get_running_loop()
        slots = _body_slots.get(loop)
        if slots is None:
            slots = _body_slots[loop] = asyncio.Semaphore(BODIES_IN_MEMORY)
        self.slots = slots

    async def read(self, request: Request, limit: int) -> bytes:
        """Take a slot, then read the body (giving the slot up if that is slow)."""
        await self.slots.acquire()
        self.held = True
        slow = asyncio.get_running_loop().call_later(SLOW_BODY_S, self.release)
        try:
            return await _read_body(request, limit)
        finally:
            slow.cancel()

    def release(self) -> None:
        if self.held:
            self.held = False
            self.slots.release()


@router.post("/telemetry", response_model=IngestResult, openapi_extra={"requestBody": INGEST_BODY})
async def ingest(request: Request, actor: CurrentActor) -> dict[str, Any]:
    """Store readings from the units' owner or operator: a JSON array or NDJSON.

    Each reading is accepted or rejected on its own (``rejected: [{index, reason}]``); the
    same ``(code, at)`` is stored once. A body that is not JSON or is too large is a 4xx and
    stores nothing.
    """
    url = request.app.state.settings.database_url
    slot = _BodySlot()
    try:
        body = await slot.read(request, get_telemetry_settings().max_body_bytes)
        return await run_in_threadpool(_ingest, url, body, actor)
    finally:
        slot.release()


def _unit_with_interest(session: Any, actor: Any, code: str, request: Request,
                        action: str) -> Any:
    unit = robot_service.get_unit_or_raise(session, code)
    gate.see(session, actor, unit, need="legitimate", audit=action, path=request.url.path,
             message="telemetry needs legitimate interest or authority")
    return unit


@router.get("/robots/{code}/health", response_model=HealthView)
def get_health(code: str, request: Request, session: ReadSession,
               actor: CurrentActor) -> dict[str, Any]:
    """``{code, at, metrics, trend, alerts: [{rule, message, since}]}`` (``at`` null before the
    first reading)."""
    unit = _unit_with_interest(session, actor, code, request, "read_health")
    empty = {"code": unit.code, "at": None, "metrics": {}, "trend": {}, "alerts": []}
    if service.snapshot_pending(session, unit.code):  # a large live batch not folded yet
        url = request.app.state.settings.database_url
        with write_session(url) as writer, transaction(writer, ledger=False):
            service.fold_staged(writer)
        with reading(url) as fresh:
            return service.health(fresh, unit.code) or empty
    return service.health(session, unit.code) or empty


@router.get("/robots/{code}/telemetry", response_model=TelemetrySeries,
            response_model_exclude_unset=True)
def get_telemetry(code: str, request: Request, session: ReadSession, actor: CurrentActor,
                  from_: datetime | None = Query(None, alias="from"),
                  to: datetime | None = None,
                  metric: str | None = Query(None, description="one of: "
                                             + ", ".join(service.SERIES_METRICS)),
                  resolution: str = Query("auto", description="auto, raw, hour or day"),
                  limit: int = Query(10000, ge=1, le=100000)) -> dict[str, Any]:
    """History by time range (``from`` inclusive, ``to`` exclusive; default the last day);
    raw up to 2 days, hourly up to 90 days, daily beyond, unless ``resolution`` says."""
    unit = _unit_with_interest(session, actor, code, request, "read_telemetry")
    if metric is not None and metric not in service.SERIES_METRICS:
        raise InvalidInput(f"metric must be one of {', '.join(service.SERIES_METRICS)}",
                           field="metric")
    if resolution not in service.RESOLUTIONS:
        raise InvalidInput(f"resolution must be one of {', '.join(service.RESOLUTIONS)}",
                           field="resolution")
    for name, value in (("from", from_), ("to", to)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(f"{name} needs a UTC offset or Z", field=name)
    start, end = service.default_range(from_, to)
    if end <= start:
        raise InvalidInput("to must be after from", field="to")
    return service.series(session, code=unit.code, start=start, end=end, metric=metric,
                          resolution=resolution, limit=limit)
