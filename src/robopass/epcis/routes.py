"""EPCIS 2.0 export and capture (SPEC §9), on top of the pure ``epcis.document`` module."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from robopass import gate
from robopass.deps import CurrentActor, ReadSession, SettingsDep, WriteSession
from robopass.epcis import service as epcis_service
from robopass.epcis.document import EpcisError, build_document, parse_capture
from robopass.epcis.schemas import Captured
from robopass.epcis.vocabulary import VOCAB_BASE
from robopass.errors import InvalidInput, PayloadTooLarge
from robopass.lifecycle import service as lifecycle_service
from robopass.lifecycle.routes import record
from robopass.robots import service as robot_service
from robopass.timeutil import utcnow

router = APIRouter(prefix="/api/v1", tags=["epcis"])

MAX_CAPTURE_BYTES = 20 * 1024 * 1024
CAPTURE_BODY = {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "description": "an EPCIS 2.0 document"}},
    "application/ld+json": {"schema": {"type": "object"}}}}


class JsonLdResponse(JSONResponse):
    media_type = "application/ld+json"


EPCIS_DOCUMENT = {
    "type": "object", "description": "an EPCIS 2.0 document (GS1's JSON schema)",
    "required": ["@context", "type", "schemaVersion", "creationDate", "epcisBody"],
    "properties": {"@context": {"type": "array"}, "type": {"const": "EPCISDocument"},
                   "schemaVersion": {"type": "string"}, "creationDate": {"type": "string"},
                   "epcisBody": {"type": "object", "required": ["eventList"], "properties": {
                       "eventList": {"type": "array", "items": {"type": "object"}}}}}}


@router.get("/robots/{code}/epcis", response_class=JsonLdResponse, responses={200: {"content": {
    "application/ld+json": {"schema": EPCIS_DOCUMENT}}}})
def export(code: str, request: Request, session: ReadSession, actor: CurrentActor,
           settings: SettingsDep) -> JsonLdResponse:
    """The unit's events as an EPCIS 2.0 JSON-LD document (legitimate interest or authority)."""
    unit = robot_service.get_unit_or_raise(session, code)
    gate.see(session, actor, unit, need="legitimate", audit="read_epcis", path=request.url.path,
             message="EPCIS export needs legitimate interest or authority")
    events = lifecycle_service.history(session, unit.code)
    base = settings.public_url.rstrip("/")
    # the fixed vocabulary namespace (SPEC §16), event ids under our own address
    doc = build_document(robot_uri=f"{base}/r/{unit.code}",
                         events=epcis_service.records(session, events),
                         created_at=utcnow(), vocab_base=VOCAB_BASE, event_base=base)
    return JsonLdResponse(doc)


@router.post("/epcis/capture", status_code=201, response_model=Captured,
             openapi_extra={"requestBody": CAPTURE_BODY})
async def capture(request: Request, actor: CurrentActor, settings: SettingsDep) -> Any:
    """Record the ObjectEvents of an EPCIS 2.0 document through the lifecycle rules, all or
    nothing."""
    raw = await request.body()
    if len(raw) > MAX_CAPTURE_BYTES:
        raise PayloadTooLarge(f"EPCIS documents are limited to {MAX_CAPTURE_BYTES} bytes")
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"body is not JSON: {exc}", field="body", code="invalid_json") from exc
    try:
        captured = parse_capture(doc, vocab_base=VOCAB_BASE)
    except EpcisError as exc:
        raise InvalidInput(exc.message, field=exc.path or "document",
                           code="invalid_epcis") from exc
    from starlette.concurrency import run_in_threadpool

    from robopass.db import reading, write_session

    def _record() -> list[dict[str, Any]]:
        with reading(settings.database_url) as session:  # parties → local organisations
            resolved = epcis_service.capture_requests(session, captured)
        requests = [lifecycle_service.EventRequest(**r) for r in resolved]
        with write_session(settings.database_url) as session:
            return record(request, session, actor, requests, batch=True)

    return {"events": await run_in_threadpool(_record)}


__all__ = ["router", "WriteSession"]
