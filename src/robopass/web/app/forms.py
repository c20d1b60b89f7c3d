"""The web forms' one pattern: a declared :class:`WebForm` per write the API allows.

A form is data: its fields, one small permission function (which roles see it: the service
still decides every single case, and the integrator's gate replaces these functions one by
one), a ``submit`` that parses the posted strings and calls the SAME service function as the
API route, and where to go afterwards. One pair of routes serves every form:

* ``GET  /app/act/{name}?field=value`` renders the form, prefilled from the query string;
* ``POST /app/act/{name}`` checks the CSRF token and the permission, runs ``submit`` in ONE
  write transaction, and either redirects (303) or renders the form again with field-level
  errors in the page's language (422 input, 409 rule, 403 not entitled, 404 unknown).

A refused lifecycle event is stored as a refused attempt in a second transaction, exactly as the
API's ``POST /robots/{code}/events`` does. Adding a capability's form is one ``register(...)``
call in the module of its domain (``lifecycle_forms``, ``registry_forms``, ``safety_forms``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from robopass.auth.service import Actor
from robopass.db import read_session, transaction, write_session
from robopass.errors import RobopassError
from robopass.lifecycle import service as lifecycle_service
from robopass.web.app import common, messages
from robopass.web.i18n import N_

router = APIRouter(include_in_schema=False)

#: ``(session, actor, locale) → [(value, label)]`` for a select built from the registry.
Options = Callable[[Session, Actor, str], Sequence[tuple[str, str]]]


class FieldError(Exception):
    """A posted value that cannot be parsed; ``message`` is a catalogue message id."""

    def __init__(self, field: str, message: str, **params: Any) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.params = params


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str = "text"  # text | textarea | number | select | month | datetime | checkboxes
    required: bool = False
    options: Options | Sequence[tuple[str, str]] | None = None
    hint: str | None = None
    maxlength: int = 200
    placeholder: str | None = None


class Values:
    """The posted strings of one form, with parsers that raise :class:`FieldError`."""

    def __init__(self, raw: Mapping[str, str | list[str]]) -> None:
        self.raw = raw

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self.raw.get(name)
        value = (value[0] if value else "") if isinstance(value, list) else (value or "")
        value = value.strip()
        if not value:
            if required:
                raise FieldError(name, N_("This field is required."))
            return None
        return value

    def need(self, name: str) -> str:
        value = self.text(name, required=True)
        assert value is not None
        return value

    def many(self, name: str) -> list[str]:
        value = self.raw.get(name)
        items = value if isinstance(value, list) else ([value] if value else [])
        return [v for v in (s.strip() for s in items) if v]

    def number(self, name: str, *, required: bool = False, integer: bool = False
               ) -> float | int | None:
        value = self.text(name, required=required)
        if value is None:
            return None
        try:
            return int(value) if integer else float(value)
        except ValueError:
            raise FieldError(name, N_("Enter a whole number.") if integer
                             else N_("Enter a number.")) from None

    def when(self, name: str, *, required: bool = False) -> datetime | None:
        """A ``datetime-local`` value (read as UTC) or RFC 3339."""
        value = self.text(name, required=required)
        if value is None:
            return None
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise FieldError(name, N_("Enter a date and time.")) from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    def get(self, name: str) -> str:
        return self.text(name) or ""


@dataclass(frozen=True)
class Rendered:
    """``done`` may render a page instead of redirecting (e.g. an API key shown once)."""

    template: str
    context: dict[str, Any]


@dataclass(frozen=True)
class WebForm:
    name: str
    title: str
    fields: tuple[Field, ...]
    #: The permission decision of this form (roles only; the service decides the case).
    allowed: Callable[[Actor], bool]
    #: Parse and call the service; runs inside the one write transaction.
    submit: Callable[[Session, Actor, Values], Any]
    #: Redirect target (or a page to render) after a successful submit.
    done: Callable[[Values, Any], str | Rendered]
    intro: str | None = None
    button: str = N_("Save")
    #: API field paths → form field (``parameters.height_cm`` → ``height_cm``).
    field_map: Mapping[str, str] = field(default_factory=dict)
    ledger: bool = True


FORMS: dict[str, WebForm] = {}


def register(form: WebForm) -> WebForm:
    assert form.name not in FORMS, form.name
    FORMS[form.name] = form
    return form


def href(name: str, **prefill: str | None) -> str:
    from urllib.parse import urlencode

    query = urlencode({k: v for k, v in prefill.items() if v})
    return f"/app/act/{name}" + (f"?{query}" if query else "")


def available(actor: Actor, *names: str) -> list[dict[str, str]]:
    """The listed forms this actor may open, as ``{name, title, href}`` (title untranslated)."""
    return [{"name": n, "title": FORMS[n].title, "href": href(n)}
            for n in names if n in FORMS and FORMS[n].allowed(actor)]


# -- rendering -------------------------------------------------------------------------------

def _options(f: Field, db: Session, actor: Actor, locale: str) -> list[tuple[str, str]]:
    if f.options is None:
        return []
    if callable(f.options):
        return list(f.options(db, actor, locale))
    return list(f.options)


def _page(request: Request, ws: Any, form: WebForm, values: Mapping[str, Any],
          errors: Mapping[str, str], status: int = 200) -> Response:
    loc = common.locale(request)
    _ = common.gettext(request)
    with read_session(request.app.state.settings.database_url) as db:
        fields = [{"f": f, "options": _options(f, db, ws.actor, loc),
                   "value": values.get(f.name, ""), "error": errors.get(f.name),
                   "selected": values.get(f.name) if isinstance(values.get(f.name), list)
                   else [values.get(f.name, "")]}
                  for f in form.fields]
    general = [msg for key, msg in errors.items() if key not in {f.name for f in form.fields}]
    summary = [{"field": f["f"].name, "label": _(f["f"].label), "message": f["error"]}
               for f in fields if f["error"]]
    return common.render(request, "app/form.html", {
        "form": form, "fields": fields, "general_errors": general, "summary": summary,
        "action": f"/app/act/{form.name}"}, ws, status_code=status)


def _refusal_field(form: WebForm, path: str | None) -> str:
    names = {f.name for f in form.fields}
    if not path:
        return "__all__"
    if path in form.field_map:
        return form.field_map[path]
    for part in reversed(path.replace("]", "").replace("[", ".").split(".")):
        if part in names:
            return part
    return "__all__"


def _validation_errors(request: Request, form: WebForm, exc: ValidationError
                       ) -> dict[str, str]:
    out: dict[str, str] = {}
    for err in exc.errors():
        path = ".".join(str(p) for p in err.get("loc", ()))
        out.setdefault(_refusal_field(form, path), messages.pydantic(request, err))
    return out


@router.get("/app/act/{name}")
def show(name: str, request: Request) -> Response:
    ws = common.require(request)
    form = FORMS.get(name)
    if form is None:
        return common.not_found(request, ws)
    if not form.allowed(ws.actor):
        return common.forbidden(request, ws)
    prefill = {k: v for k, v in request.query_params.items() if len(v) <= 2000}
    return _page(request, ws, form, prefill, {})


@router.post("/app/act/{name}")
async def post(name: str, request: Request) -> Response:
    try:
        ws = common.require(request)
    except RobopassError as exc:  # e.g. a suspended organisation: it reads, never writes
        signed_in, _why = common.current(request)
        return common.error_page(request, signed_in, exc.status,
                                 messages.refusal(request, exc))
    form = FORMS.get(name)
    if form is None:
        return common.not_found(request, ws)
    posted = await request.form()
    if not common.csrf_ok(ws, posted):
        return common.bad_csrf(request, ws)
    if not form.allowed(ws.actor):
        return common.forbidden(request, ws)
    raw: dict[str, Any] = {}
    for key in {k for k in posted.keys() if k != "csrf_token"}:
        items = [str(v)[:5000] for v in posted.getlist(key) if isinstance(v, str)]
        raw[key] = items if len(items) > 1 or any(
            f.name == key and f.kind == "checkboxes" for f in form.fields) else (
            items[0] if items else "")
    values = Values(raw)
    url = request.app.state.settings.database_url
    try:
        with write_session(url) as db, transaction(db, ledger=form.ledger):
            result = form.submit(db, ws.actor, values)
    except FieldError as exc:
        _ = common.gettext(request)
        return _page(request, ws, form, raw, {exc.field: _(exc.message) % exc.params}, 422)
    except ValidationError as exc:
        return _page(request, ws, form, raw, _validation_errors(request, form, exc), 422)
    except lifecycle_service.EventRefused as refused:
        with write_session(url) as other, transaction(other):
            lifecycle_service.record_refusals(other, actor=ws.actor, attempts=refused.attempts)
        return _page(request, ws, form, raw, {
            _refusal_field(form, refused.extra.get("field")):
            messages.refusal(request, refused)}, refused.status)
    except RobopassError as exc:
        return _page(request, ws, form, raw, {
            _refusal_field(form, exc.extra.get("field")): messages.refusal(request, exc)},
            exc.status)
    target = form.done(values, result)
    if isinstance(target, Rendered):
        return common.render(request, target.template, target.context, ws)
    return RedirectResponse(target, status_code=303)
