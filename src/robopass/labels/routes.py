"""Public label endpoints: ``GET /api/v1/robots/{code}/label.svg`` and ``.png``."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from robopass.deps import ReadSession, SettingsDep
from robopass.labels import render, service

router = APIRouter(prefix="/api/v1", tags=["labels"])
CACHE = {"Cache-Control": "public, max-age=86400"}


@router.get("/robots/{code}/label.svg", response_class=Response,
            responses={200: {"content": {"image/svg+xml": {"schema": {"type": "string"}}}}})
def label_svg(code: str, session: ReadSession, settings: SettingsDep) -> Response:
    """70 × 37 mm label: the code in display form and a QR of ``{public_url}/r/{code}``."""
    compact = service.registered_code(session, code)
    return Response(render.label_svg(compact, settings.public_url), media_type="image/svg+xml",
                    headers=CACHE)


@router.get("/robots/{code}/label.png", response_class=Response,
            responses={200: {"content": {"image/png": {"schema": {"type": "string",
                                                                      "format": "binary"}}}}})
def label_png(code: str, session: ReadSession, settings: SettingsDep) -> Response:
    compact = service.registered_code(session, code)
    return Response(render.label_png(compact, settings.public_url), media_type="image/png",
                    headers=CACHE)
