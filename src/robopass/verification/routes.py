from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from robopass.deps import ReadSession
from robopass.federation.service import FEDERATED_HEADER
from robopass.verification import service

router = APIRouter(tags=["verification"])


@router.get("/api/v1/verify/{code}")
def verify(code: str, request: Request, session: ReadSession) -> dict[str, Any]:
    """Public, no key. Always 200 with ``format_valid``/``registered`` and the reason; a peer
    registry's code is answered by that peer (passport checked), with ``registry``."""
    federate = FEDERATED_HEADER.lower() not in request.headers
    return service.verify(session, code, federate=federate)
