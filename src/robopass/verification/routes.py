from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from robopass.deps import ReadSession
from robopass.verification import service

router = APIRouter(tags=["verification"])


@router.get("/api/v1/verify/{code}")
def verify(code: str, session: ReadSession) -> dict[str, Any]:
    """Public, no key. Always 200 with ``format_valid``/``registered`` and the reason."""
    return service.verify(session, code)
