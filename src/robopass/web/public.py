"""Public web pages: ``/r/{code}`` (what a phone opens after scanning a label), static files and
``/healthz``. Plain HTML that works without JavaScript, in Simplified Chinese and English.

``/r/{anything}`` always answers HTML with status 200: the page itself says whether the robot is
genuine and why not (malformed code and where, typo caught by the check character with the
registered code it most likely meant, unknown code, revoked model, recycled robot...).
"""

from __future__ import annotations

import mimetypes
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from babel.dates import format_skeleton
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.convertors import PathConvertor, register_url_convertor

from robopass import idcode
from robopass.db import get_engine
from robopass.errors import NotFound
from robopass.verification import service as verification_service
from robopass.web import i18n
from robopass.web.i18n import N_


class AnythingConvertor(PathConvertor):
    """``{name:anything}``: like ``path``, newlines too (``path`` is ``.*``, and ``/r/%0A``
    matched no route: a 404 where every input must get the page)."""

    regex = r"[\s\S]*"


register_url_convertor("anything", AnythingConvertor())
router = APIRouter(tags=["public pages"])
HTML = {"text/html": {"schema": {"type": "string"}}}
HEALTH = {"application/json": {"schema": {
    "type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}}}}
STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_ECHO = 80
#: Pages load nothing but our own stylesheet; no scripts at all.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; "
                               "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

#: The headers of every page, per language.
PAGE_HEADERS = {locale: {"Content-Language": i18n.HTML_LANG[locale],
                     "Vary": "Accept-Language, Cookie", **SECURITY_HEADERS}
            for locale in i18n.LOCALES}

STATUS_LABELS = {
    "coded": N_("Coded, not yet manufactured"),
    "manufactured": N_("Manufactured"),
    "in_distribution": N_("With a seller"),
    "sold": N_("Sold"),
    "in_service": N_("In service"),
    "under_maintenance": N_("Under maintenance"),
    "suspended": N_("Suspended"),
    "decommissioned": N_("Decommissioned"),
    "recycled": N_("Recycled"),
    "scrapped": N_("Scrapped"),
}
#: Deployment scenarios (SPEC §14), the policies' vocabulary. The public page names the one a
#: robot is deployed for (never its operator or place); the signed-in pages use the same labels.
SCENARIO_LABELS = {
    "industrial": N_("Industrial"), "logistics": N_("Logistics"),
    "commercial_service": N_("Commercial service"), "public_space": N_("Public space"),
    "healthcare": N_("Healthcare"), "eldercare": N_("Elder care"),
    "household": N_("Household"), "education_research": N_("Education and research"),
}
MODEL_STATUS_LABELS = {
    "approved": N_("Approved"),
    "submitted": N_("Submitted"),
    "rejected": N_("Rejected"),
    "suspended": N_("Suspended"),
    "revoked": N_("Revoked"),
}
BATTERY_LABELS = {
    "good": N_("Good (80 % or more of its original capacity)"),
    "fair": N_("Fair (70–80 % of its original capacity)"),
    "poor": N_("Poor (below 70 % of its original capacity)"),
    "unknown": N_("Not reported"),
}
#: reason_code → sentence; ``%(position)s``, ``%(length)s``, ``%(country)s`` are filled in.
REASONS = {
    "invalid_type": N_("This is not a robot code."),
    "invalid_length": N_("A robot code has 29 letters and digits; this one has %(length)s."),
    "invalid_character": N_("Character %(position)s is not a letter A–Z or a digit 0–9."),
    "invalid_country": N_("The first two characters are not a country code."),
    "invalid_component": N_("Character %(position)s cannot be I, O or Q: company, model and "
                            "plant codes never use them (they are easily mistaken for 1 and 0)."),
    "invalid_month": N_("Characters 13–16 are not a valid production month (YYMM)."),
    "invalid_level": N_("Character 19 must be an intelligence level from 0 to 5."),
    "invalid_class": N_("Character 20 must be a hardware class: B, W, U, S or X."),
    "invalid_sequence": N_("Characters 21–28 must be an 8-digit serial number, not all zero."),
    "invalid_checksum": N_("The check character (the last one) does not match the rest: the "
                           "code was mistyped or is forged."),
    "not_registered": N_("The code is well-formed, but no robot with it is registered. It may "
                         "be forged."),
    "foreign_code": N_("This code was issued by the %(country)s registry, which this registry "
                       "is not connected to. Check it with that registry."),
    "unknown_peer": N_("This code was issued by the %(country)s registry, which this registry "
                       "is not connected to. Check it with that registry."),
    "peer_unreachable": N_("The %(country)s registry that issued this code cannot be reached "
                           "right now. Please try again later."),
    "passport_invalid": N_("The answer of the %(country)s registry failed its signature check. "
                           "Do not trust this robot's papers."),
    "model_suspended": N_("The filing of this product model is suspended: the robot should not "
                          "be sold or used until it is reinstated."),
    "model_revoked": N_("The filing of this product model is revoked: the robot may not be sold "
                        "or used."),
    "unit_recycled": N_("This robot was recycled. It may not be sold, refurbished or used."),
    "unit_scrapped": N_("This robot was scrapped. It may not be sold, refurbished or used."),
    "open_recall": N_("This robot has an open safety recall. Ask the seller to have it remedied "
                      "before you buy or use it."),
}
FALLBACK_REASON = N_("This code could not be verified.")


def locale_of(request: Request) -> str:
    return i18n.choose(request.query_params.get("lang"), request.cookies.get(i18n.COOKIE),
                       request.headers.get("accept-language"))


def _language_links(request: Request, locale: str) -> list[dict[str, Any]]:
    return language_links(request.url.path, dict(request.query_params), locale)


def language_links(url_path: str, query: dict[str, str], locale: str) -> list[dict[str, Any]]:
    """The language switcher: this page (``url_path``, ``query``) in each language."""
    links = []
    path = quote(url_path)
    for other in i18n.LOCALES:
        params = dict(query)
        params["lang"] = other
        links.append({"locale": other, "name": i18n.NATIVE_NAMES[other],
                      "html_lang": i18n.HTML_LANG[other], "current": other == locale,
                      "href": f"{path}?{urlencode(params)}"})
    return links


def page(request: Request, template: str, context: dict[str, Any], *,
         status_code: int = 200, locale: str | None = None) -> HTMLResponse:
    """Render ``template`` in the request's language (``locale``, when the caller already chose
    it with :func:`locale_of`); remember an explicit ``?lang=``."""
    locale = locale or locale_of(request)
    html = i18n.render(locale, template, {**context, "language_links":
                                          _language_links(request, locale)})
    response = HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS[locale])
    explicit = i18n.normalise(request.query_params.get("lang"))
    if explicit:
        response.set_cookie(i18n.COOKIE, explicit, max_age=365 * 24 * 3600, samesite="lax")
    return response


@lru_cache(maxsize=1024)
def month_text(value: str | None, locale: str) -> str | None:
    if not value:
        return None
    try:
        year, month = (int(x) for x in value.split("-"))
        return format_skeleton("yMMMM", date(year, month, 1), locale=locale)
    except (ValueError, TypeError):
        return value


#: Reasons that make a registered robot one nobody may buy (SPEC: scrapped robots may not be
#: refurbished or resold) — stronger than a warning such as an open recall.
DO_NOT_BUY = frozenset({"unit_scrapped", "unit_recycled"})


def verdict_of(result: dict[str, Any]) -> str:
    """``genuine`` (registered, nothing wrong), ``do_not_buy`` (scrapped or recycled: it may
    never be sold again), ``warning`` (registered but recalled, revoked, suspended...),
    ``unknown`` (could not be checked now) or ``not_genuine``."""
    if result.get("registered"):
        if result.get("reason_code") in DO_NOT_BUY:
            return "do_not_buy"
        return "warning" if result.get("reason_code") else "genuine"
    if result.get("reason_code") in ("peer_unreachable", "foreign_code", "unknown_peer"):
        return "unknown"
    return "not_genuine"


def view_context(url: str, raw: str, locale: str,
                 fast: tuple[dict[str, Any], dict[str, Any]] | None = None) -> dict[str, Any]:
    """Everything the page shows. ``fast`` is :func:`verification.service.page_fast`'s answer
    (a registered unit without open recalls: one statement on a pooled connection); without
    it the full verification path runs (a read session, maybe a peer registry)."""
    translate = i18n.gettext_for(locale)
    summary: dict[str, Any] | None
    if fast is not None:
        result, summary = fast
    else:
        result = verification_service.verify_fast(url, raw)
        summary = None
    compact = result["code"] if result["format_valid"] else None
    echo = raw if len(raw) <= MAX_ECHO else raw[:MAX_ECHO] + "…"
    reason_code = result.get("reason_code")
    reason = None
    if reason_code:
        params = {"position": result.get("position") or "?",
                  "length": len(idcode.compact(raw)) if isinstance(raw, str) else 0,
                  "country": (compact or raw)[:2].upper()}
        reason = translate(REASONS.get(reason_code, FALLBACK_REASON)) % params
    if fast is None and result.get("registered"):
        if result.get("via_peer"):  # answered by a peer, from its verified passport
            summary = dict(result["summary"]) if result.get("summary") else None
        else:
            summary = verification_service.buyer_summary(
                get_engine(url), compact or "", result.get("production_month"),
                imported=bool(result.get("imported_from")))
    if summary is not None:
        summary["production_month_text"] = month_text(summary.get("production_month"), locale)
        summary["battery_text"] = translate(BATTERY_LABELS.get(summary.get("battery_health")
                                                             or "unknown", BATTERY_LABELS[
                                                                 "unknown"]))
    status = result.get("status")
    model = result.get("model") or {}
    return {
        "input": echo,
        "result": result,
        "verdict": verdict_of(result),
        "display_code": idcode.format(compact) if compact else None,
        "compact": compact,
        "reason": reason,
        "suggestion": result.get("suggestion"),
        "suggestion_display": idcode.format(result["suggestion"]) if result.get("suggestion")
        else None,
        "status_text": translate(STATUS_LABELS[status]) if status in STATUS_LABELS else status,
        "model_status_text": translate(MODEL_STATUS_LABELS[model["status"]])
        if model.get("status") in MODEL_STATUS_LABELS else model.get("status"),
        "summary": summary,
        "recalls": result.get("open_recalls") or [],
        "scenario_text": scenario_text(result.get("scenario"), locale),
    }


def scenario_text(scenario: str | None, locale: str) -> str | None:
    """The scenario a robot is deployed for, in the page's language (None when it has none)."""
    if not scenario:
        return None
    label = SCENARIO_LABELS.get(scenario)
    return i18n.gettext_for(locale)(label) if label else scenario


@router.get("/healthz", response_class=Response, responses={200: {"content": HEALTH}})
async def healthz() -> Response:
    """Liveness, and the ceiling the verify benchmark is measured against."""
    return Response(b'{"status":"ok"}', media_type="application/json")


@router.get("/r", response_class=HTMLResponse,
            responses={303: {"description": "to ``/r/{code}`` when ``code`` is given"}})
@router.get("/r/", response_class=HTMLResponse, include_in_schema=False)
def lookup_form(request: Request, code: str | None = None) -> Response:
    """The 'check a code' form; ``?code=`` goes to that code's page (works without JS)."""
    if code and code.strip():
        target = "/r/" + quote(code.strip()[:200], safe="")
        lang = request.query_params.get("lang")
        return RedirectResponse(target + (f"?lang={quote(lang)}" if lang else ""),
                                status_code=303)
    return page(request, "lookup.html", {"input": ""})


@router.get("/r/{code:anything}", response_class=HTMLResponse, responses={200: {"content": HTML}},
            openapi_extra={"x-always-200": True})
async def public_page(request: Request) -> HTMLResponse:
    """Genuine or not, and why; model, manufacturer, status, recalls, buyer summary.

    Hot path (a registered unit without open recalls): one statement on a pooled connection
    and a precompiled template, on the event loop (about as long as the thread-pool hop it
    saves); everything else (bad input, typo suggestions, unknown, foreign, recalled, imported)
    runs in the thread pool."""
    url = request.app.state.settings.database_url
    raw = request.path_params["code"][:200]  # a plain str: no parameter validation needed
    fast = verification_service.page_fast(url, raw)
    if fast is None:
        return await run_in_threadpool(_public_page_slow, request, url, raw)
    locale = locale_of(request)
    return page(request, "public.html", view_context(url, raw, locale, fast), locale=locale)


def _public_page_slow(request: Request, url: str, raw: str) -> HTMLResponse:
    locale = locale_of(request)
    return page(request, "public.html", view_context(url, raw, locale), locale=locale)


@router.get("/static/{name:path}", include_in_schema=False)
def static(name: str) -> FileResponse:
    path = (STATIC_DIR / name).resolve()
    if STATIC_DIR not in path.parents or not path.is_file():
        raise NotFound(f"no static file {name!r}", code="static_not_found")
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media_type,
                        headers={"Cache-Control": "public, max-age=3600"})
