"""API keys in the browser (SPEC §9, §12): an organisation lists its keys, creates one (shown
once) and revokes one — through the same rule and service functions as
``/api/v1/organizations/{id}/keys``: ``organizations.service.check_manages_keys`` (the
organisation itself or the national regulator) and ``auth.service.create_key`` /
``list_keys`` / ``revoke_key``. A key's secret is never stored (only its hash), so a page can
show it only once, right after it was created."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from robopass.auth import service as auth_service
from robopass.auth.service import Actor
from robopass.db import read_session
from robopass.errors import RobopassError
from robopass.organizations import service as org_service
from robopass.timeutil import rfc3339
from robopass.web.app import common
from robopass.web.app.forms import Field, FieldError, Rendered, Values, WebForm, register
from robopass.web.i18n import N_

router = APIRouter(include_in_schema=False)
NAME_MAX = 100


def may_manage_keys(actor: Actor) -> bool:
    """Every organisation manages its own keys (the service decides which organisation's)."""
    return True


def _organisation(v: Values, actor: Actor) -> str:
    return v.text("organization_id") or actor.id


def _active_keys(db: Session, actor: Actor, locale: str) -> list[tuple[str, str]]:
    return [(k.id, f"{k.name} (rp_{k.prefix}_…)")
            for k in auth_service.list_keys(db, organization_id=actor.id)
            if k.revoked_at is None]


def _create(db: Session, actor: Actor, v: Values) -> dict[str, Any]:
    org_id = _organisation(v, actor)
    org_service.check_manages_keys(actor, org_id)
    org = org_service.get_or_raise(db, org_id, field="organization_id")
    name = v.need("name")
    if len(name) > NAME_MAX:
        raise FieldError("name", N_("Enter at most %(max_length)s characters."),
                         max_length=NAME_MAX)
    key = auth_service.create_key(db, organization_id=org.id, name=name)
    return {"organization": {"id": org.id, "name": org.name}, "name": name, "api_key": key,
            "own": org.id == actor.id}


def _revoke(db: Session, actor: Actor, v: Values) -> dict[str, str]:
    org_id = _organisation(v, actor)
    org_service.check_manages_keys(actor, org_id)
    key_id = v.need("key_id")
    auth_service.revoke_key(db, organization_id=org_id, key_id=key_id)
    return {"organization_id": org_id, "key_id": key_id}


def keys_href(org_id: str, actor: Actor, **params: str) -> str:
    query = {**({"organization": org_id} if org_id != actor.id else {}), **params}
    return "/app/keys" + (f"?{urlencode(query)}" if query else "")


register(WebForm(
    name="key-create", title=N_("Create an API key"),
    intro=N_("The new key is shown once, on the next page: copy it into the system that will "
             "use it. The registry keeps only its hash."),
    fields=(Field("organization_id", N_("Organisation"), kind="hidden", maxlength=40),
            Field("name", N_("Name of the key (e.g. the system that uses it)"), required=True,
                  maxlength=NAME_MAX)),
    allowed=may_manage_keys, submit=_create, button=N_("Create the key"),
    field_map={"organization": "organization_id"},
    done=lambda v, r: Rendered("app/key_created.html", {"created": r})))

register(WebForm(
    name="key-revoke", title=N_("Revoke an API key"),
    intro=N_("Systems and browser sessions using this key lose access at their next request."),
    fields=(Field("organization_id", N_("Organisation"), kind="hidden", maxlength=40),
            Field("key_id", N_("Key"), kind="select", required=True, options=_active_keys)),
    allowed=may_manage_keys, submit=_revoke, button=N_("Revoke the key"),
    done=lambda v, r: "/app/keys?" + urlencode(
        {"done": "key-revoke", "ref": r["key_id"],
         **({"organization": r["organization_id"]} if v.text("organization_id") else {})})))


@router.get("/app/keys")
def key_list(request: Request) -> Response:
    """The organisation's API keys (name, public prefix, created, last used, revoked); never a
    secret. The national regulator may open another organisation's (``?organization=``)."""
    ws = common.require(request)
    org_id = (request.query_params.get("organization") or ws.actor.id)[:40]
    try:
        org_service.check_manages_keys(ws.actor, org_id)
    except RobopassError:
        return common.forbidden(request, ws)
    with read_session(request.app.state.settings.database_url) as db:
        try:
            org = org_service.get_or_raise(db, org_id)
        except RobopassError:
            return common.not_found(request, ws)
        keys = [{"id": k.id, "name": k.name, "prefix": f"rp_{k.prefix}_…",
                 "created_at": (rfc3339(k.created_at) or "")[:16].replace("T", " "),
                 "last_used_at": (rfc3339(k.last_used_at) or "")[:16].replace("T", " "),
                 "revoked_at": (rfc3339(k.revoked_at) or "")[:16].replace("T", " "),
                 "current": k.id == ws.key_id}
                for k in auth_service.list_keys(db, organization_id=org.id)]
    return common.render(request, "app/keys.html", {
        "org": org, "keys": keys, "own": org.id == ws.actor.id,
        "create_href": "/app/act/key-create" + (
            "" if org.id == ws.actor.id else f"?{urlencode({'organization_id': org.id})}")},
        ws)
