from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from robopass.federation.service import FEDERATED_HEADER
from robopass.verification import service

router = APIRouter(tags=["verification"])

VERIFY_SCHEMA = {"200": {"description": "Always 200", "content": {"application/json": {
    "schema": {"type": "object", "required": ["code", "format_valid", "registered", "status",
                                              "model", "manufacturer", "open_recalls"],
               "properties": {"code": {"type": "string"}, "format_valid": {"type": "boolean"},
                              "registered": {"type": "boolean"},
                              "status": {"type": ["string", "null"]},
                              "model": {"type": ["object", "null"]},
                              "manufacturer": {"type": ["object", "null"]},
                              "open_recalls": {"type": "array"},
                              "registry": {"type": "string"},
                              "scenario": {"type": ["string", "null"]},
                              "reason": {"type": "string"},
                              "reason_code": {"type": "string"}}}}}}}


@router.get("/api/v1/verify/{code:path}", response_class=Response,
            responses={200: VERIFY_SCHEMA["200"]})
async def verify(code: str, request: Request) -> Response:
    """Public, no key. Always 200 with ``format_valid``/``registered`` and the reason; a peer
    registry's code is answered by that peer (passport checked), with ``registry``.

    Hot path: one indexed lookup on a pooled connection, no ORM session, on the event loop
    (DESIGN-NOTES); anything slower runs in the thread pool."""
    url = request.app.state.settings.database_url
    result = service.answer_fast(url, code)
    if result is None:  # bad input, unknown, foreign (network) or recalled: in the thread pool
        federate = FEDERATED_HEADER.lower() not in request.headers
        result = await run_in_threadpool(service.verify_fast, url, code, federate=federate)
    return Response(orjson.dumps(result), media_type="application/json")
