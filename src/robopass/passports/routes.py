"""``GET /api/v1/robots/{code}/passport`` and ``.../passport.qr`` — public, public-tier content
for every caller."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from robopass.deps import ReadSession, SettingsDep
from robopass.passports import service
from robopass.passports.schemas import PassportIssued

router = APIRouter(prefix="/api/v1", tags=["passports"])


@router.get("/robots/{code}/passport", response_model=PassportIssued)
def passport(code: str, session: ReadSession, settings: SettingsDep) -> dict[str, Any]:
    """``{passport: "<compact JWS>", history: [...]}``: EdDSA, ``kid`` in the header; verify
    against ``/.well-known/jwks.json`` (retired keys included). ``exp`` is one day after
    ``iat``; ``status_list`` points at the robot's entry in ``/api/v1/status-list``."""
    return service.issue(session, code, public_url=settings.public_url)


@router.get("/robots/{code}/passport.qr", response_class=PlainTextResponse,
            responses={200: {"content": {"text/plain": {}},
                             "description": "RP1: + base45(zlib(COSE_Sign1 over CWT claims))"},
                       404: {"description": "No robot with this code is registered"},
                       422: {"description": "The code is malformed"}})
def passport_qr(code: str, session: ReadSession, settings: SettingsDep) -> PlainTextResponse:
    """The offline label passport (SPEC §16): ``RP1:`` + base45(zlib(COSE_Sign1)), Ed25519
    (COSE alg -8), ``kid`` of the JWKS in the protected header; claims iss, sub, iat, model,
    manufacturer, level, production month and the status-list reference. Verify with no
    network: ``robopass passport verify-offline TEXT --jwks FILE [--status FILE]``."""
    return PlainTextResponse(service.issue_offline(session, code,
                                                   public_url=settings.public_url))
