"""``GET /api/v1/robots/{code}/passport`` — public, public-tier content for every caller."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from robopass.deps import ReadSession
from robopass.passports import service
from robopass.passports.schemas import PassportIssued

router = APIRouter(prefix="/api/v1", tags=["passports"])


@router.get("/robots/{code}/passport", response_model=PassportIssued)
def passport(code: str, session: ReadSession) -> dict[str, Any]:
    """``{passport: "<compact JWS>", history: [...]}``: EdDSA, ``kid`` in the header; verify
    against ``/.well-known/jwks.json`` (retired keys included)."""
    return service.issue(session, code)
