"""Shared helpers of the signed-in pages: rendering, sign-in guard, CSRF, error pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException

from robopass.auth import service as auth_service
from robopass.web import i18n, public
from robopass.web.app.session import WebSession, current
from robopass.web.i18n import N_

SECURITY_HEADERS = {"Cache-Control": "no-store", "X-Frame-Options": "DENY",
                    "Referrer-Policy": "same-origin", "X-Content-Type-Options": "nosniff"}

ROLE_LABELS = {
    "regulator": N_("Regulator"),
    "manufacturer": N_("Manufacturer"),
    "component_supplier": N_("Component supplier"),
    "software_provider": N_("Software provider"),
    "seller": N_("Seller"),
    "operator": N_("Operator"),
    "service_provider": N_("Service provider"),
    "recycler": N_("Recycler"),
    "testing_lab": N_("Testing lab"),
}
#: Every role but the regulator lands on the portal (a section per role it holds).
PORTAL_ROLES = ("manufacturer", "component_supplier", "software_provider", "seller", "operator",
                "service_provider", "recycler", "testing_lab")


def locale(request: Request) -> str:
    return public.locale_of(request)


def gettext(request: Request) -> Any:
    return i18n.gettext_for(locale(request))


def nav(ws: WebSession | None) -> list[dict[str, str]]:
    if ws is None:
        return []
    items = []
    actor = ws.actor
    if actor.is_regulator:
        items += [{"href": "/app/dashboard", "label": N_("Dashboard")},
                  {"href": "/app/models", "label": N_("Models")},
                  {"href": "/app/organizations", "label": N_("Organisations")},
                  {"href": "/app/policies", "label": N_("Policies")},
                  {"href": "/app/pilots", "label": N_("Pilots")},
                  {"href": "/app/findings", "label": N_("Findings")},
                  {"href": "/app/supply-chain", "label": N_("Supply chain")},
                  {"href": "/app/units", "label": N_("Units")}]
    if actor.has(*PORTAL_ROLES):
        items.append({"href": "/app/portal", "label": N_("Portal")})
        if actor.has("manufacturer", "operator", "seller"):
            items.append({"href": "/app/findings", "label": N_("Findings")})
    if not actor.is_regulator:
        items.append({"href": f"/app/organizations/{actor.id}", "label": N_("Your organisation")})
    items.append({"href": "/app/keys", "label": N_("API keys")})
    if actor.has("regulator", "manufacturer"):
        items += [{"href": "/app/recalls", "label": N_("Recalls")},
                  {"href": "/app/signals", "label": N_("Defect signals")}]
    items.append({"href": "/app/search", "label": N_("Search")})
    return items


def done_notice(request: Request) -> dict[str, str] | None:
    """The "done" banner after a form redirected here (``?done=<form>&ref=...``)."""
    from robopass.web.app.forms import FORMS

    name = request.query_params.get("done")
    if not name or name not in FORMS:
        return None
    return {"title": FORMS[name].title, "ref": request.query_params.get("ref", "")[:80],
            "form": name}


def render(request: Request, template: str, context: dict[str, Any], ws: WebSession | None,
           *, status_code: int = 200) -> HTMLResponse:
    ctx = {**context, "ws": ws, "me": ws.actor if ws else None,
           "csrf": ws.csrf if ws else "", "nav": nav(ws), "path": request.url.path,
           "role_labels": ROLE_LABELS, "done_notice": done_notice(request)}
    response = public.page(request, template, ctx, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    return response


def require(request: Request) -> WebSession:
    """The signed-in session, or a 303 to the sign-in page (``reason`` says why)."""
    ws, why = current(request)
    if ws is None:
        # after signing in, come back to this page (a form post cannot be replayed: start page)
        target = (request.url.path + (f"?{request.url.query}" if request.url.query else "")
                  if request.method == "GET" else "/app/")
        location = f"/app/login?next={quote(target, safe='')}"
        if why in ("expired", "revoked", "invalid"):
            location += f"&reason={why}"
        raise HTTPException(303, detail="sign in first", headers={"Location": location})
    if request.method not in ("GET", "HEAD"):
        # A suspended organisation reads but never writes (SPEC §13), forms included.
        auth_service.check_may_write(ws.actor)
    return ws


def error_page(request: Request, ws: WebSession | None, status: int, message: str
               ) -> HTMLResponse:
    return render(request, "app/error.html", {"status": status, "message": message}, ws,
                  status_code=status)


def forbidden(request: Request, ws: WebSession | None) -> HTMLResponse:
    _ = gettext(request)
    return error_page(request, ws, 403, _("You may not open this page."))


def not_found(request: Request, ws: WebSession | None) -> HTMLResponse:
    _ = gettext(request)
    return error_page(request, ws, 404, _("Nothing here that your organisation may see."))


def bad_csrf(request: Request, ws: WebSession | None) -> HTMLResponse:
    _ = gettext(request)
    return error_page(request, ws, 403, _(
        "The form expired or did not come from this site. Reload the page and try again."))


def csrf_ok(ws: WebSession, form: Any) -> bool:
    token = form.get("csrf_token")
    return isinstance(token, str) and ws.csrf_ok(token)
