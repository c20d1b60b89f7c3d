"""``GET /api/v1/status-list``: the signed status list (public)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from robopass.deps import ReadSession, SettingsDep
from robopass.statuslist import service

router = APIRouter(prefix="/api/v1", tags=["passports"])
MEDIA_TYPE = "application/statuslist+jwt"


@router.get("/status-list", response_class=Response,
            responses={200: {"content": {MEDIA_TYPE: {"schema": {"type": "string"}}},
                             "description": "Compact JWS (EdDSA, kid of the JWKS), payload "
                             "{sub, iss, iat, ttl, status_list: {bits: 2, lst}}"}})
def status_list(session: ReadSession, settings: SettingsDep) -> Response:
    """The registry's Token Status List (SPEC §16): 2 bits per code at the index its offline
    passport carries — 0 valid, 1 invalid, 2 suspended, 3 open recall. Rebuilt at most every
    few seconds."""
    jws = service.current(session, public_url=settings.public_url)
    return Response(jws, media_type=MEDIA_TYPE,
                    headers={"Cache-Control": f"public, max-age={int(service.MAX_AGE)}"})
