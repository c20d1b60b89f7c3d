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
def label_svg(code: str, session: ReadSession, settings: SettingsDep,
              passport: bool = False) -> Response:
    """70 × 37 mm label: the code in display form and a QR of ``{public_url}/r/{code}``. With
    ``passport=true``: a 70 × 42.3 mm label whose one QR is ``{public_url}/r/{code}#RP1:…``
    (the offline passport as the URL's fragment; modules never under 0.5 mm)."""
    compact = service.registered_code(session, code)
    if not passport:
        return Response(render.label_svg(compact, settings.public_url),
                        media_type="image/svg+xml", headers=CACHE)
    from robopass.passports import service as passport_service

    text = passport_service.issue_offline(session, compact, public_url=settings.public_url)
    try:
        svg = render.label_svg(compact, settings.public_url, text)
    except render.LabelTooDense as exc:
        from robopass.errors import Conflict

        raise Conflict(str(exc), code="passport_too_long") from exc
    # the passport is signed now: a fresh one per request, not cached for a day
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


@router.get("/robots/{code}/label.png", response_class=Response,
            responses={200: {"content": {"image/png": {"schema": {"type": "string",
                                                                      "format": "binary"}}}}})
def label_png(code: str, session: ReadSession, settings: SettingsDep) -> Response:
    compact = service.registered_code(session, code)
    return Response(render.label_png(compact, settings.public_url), media_type="image/png",
                    headers=CACHE)
