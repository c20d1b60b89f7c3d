"""Sign-in, sign-out and the landing page ``/``."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from robopass.auth import service as auth_service
from robopass.auth.models import ApiKey
from robopass.db import read_session
from robopass.errors import Unauthorized
from robopass.stats import service as stats_service
from robopass.web.app import common, session
from robopass.web.i18n import N_

router = APIRouter(include_in_schema=False)

REASONS = {
    "expired": N_("Your session expired. Please sign in again."),
    "revoked": N_("The API key of this session was revoked. Please sign in again."),
    "invalid": N_("Your session is not valid. Please sign in again."),
    "signed_out": N_("You are signed out."),
    "bad_key": N_("This API key is not valid."),
    "bad_form": N_("The sign-in form expired. Please try again."),
}


def _safe_next(value: str | None) -> str:
    if value and value.startswith("/app/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/app/"


def home_for(ws: session.WebSession) -> str:
    return "/app/dashboard" if ws.actor.is_regulator else "/app/portal"


@router.get("/")
def root(request: Request) -> Response:
    ws, _why = session.current(request)
    return RedirectResponse(home_for(ws) if ws else "/app/login", status_code=303)


@router.get("/app")
@router.get("/app/")
def app_home(request: Request) -> Response:
    ws = common.require(request)
    return RedirectResponse(home_for(ws), status_code=303)


def _login_page(request: Request, *, reason: str | None, next_: str, status: int = 200
                ) -> Response:
    token = secrets.token_urlsafe(24)
    message = common.gettext(request)(REASONS[reason]) if reason in REASONS else None
    response = common.render(request, "app/login.html", {"login_csrf": token, "next": next_,
                                                         "message": message,
                                                         "reason": reason}, None,
                             status_code=status)
    response.set_cookie(session.LOGIN_CSRF_COOKIE, token, max_age=3600, path="/app/login",
                        httponly=True, secure=session.secure_for(request), samesite="strict")
    return response


@router.get("/app/login")
def login_form(request: Request, next: str | None = None, reason: str | None = None
               ) -> Response:
    ws, _why = session.current(request)
    if ws is not None and reason is None:
        return RedirectResponse(_safe_next(next) if next else home_for(ws), status_code=303)
    return _login_page(request, reason=reason, next_=_safe_next(next))


@router.post("/app/login")
async def login(request: Request) -> Response:
    form = await request.form()
    next_ = _safe_next(str(form.get("next") or ""))
    cookie_token = request.cookies.get(session.LOGIN_CSRF_COOKIE) or ""
    form_token = str(form.get("csrf_token") or "")
    if not cookie_token or not secrets.compare_digest(cookie_token, form_token):
        return _login_page(request, reason="bad_form", next_=next_, status=403)
    key = str(form.get("api_key") or "").strip()
    try:
        with read_session(request.app.state.settings.database_url) as db:
            actor = auth_service.authenticate(db, key[:200])
            api_key = db.get(ApiKey, actor.key_id)
            assert api_key is not None
            value, expires = session.issue(api_key)
    except Unauthorized:
        return _login_page(request, reason="bad_key", next_=next_, status=401)
    if actor.is_regulator:
        stats_service.warm(request.app.state.settings.database_url, actor)
    target = next_ if next_ != "/app/" else ("/app/dashboard" if actor.is_regulator
                                             else "/app/portal")
    response = RedirectResponse(target, status_code=303)
    session.set_cookie(response, request, value, expires)
    response.delete_cookie(session.LOGIN_CSRF_COOKIE, path="/app/login")
    return response


@router.post("/app/logout")
async def logout(request: Request) -> Response:
    ws, _why = session.current(request)
    form = await request.form()
    if ws is not None and not common.csrf_ok(ws, form):
        return common.bad_csrf(request, ws)
    response = RedirectResponse("/app/login?reason=signed_out", status_code=303)
    session.clear_cookie(response, request)
    return response
