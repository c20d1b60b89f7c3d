"""Typed dependencies, so routes read like sentences.

``def create(body: X, session: WriteSession, actor: CurrentActor)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from robopass.auth import service as auth_service
from robopass.auth.service import Actor
from robopass.config import Settings
from robopass.db import read_session, write_session
from robopass.errors import Forbidden, Unauthorized
from robopass.ids import new_id


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_read_session(request: Request) -> Iterator[Session]:
    with read_session(request.app.state.settings.database_url) as session:
        yield session


def get_write_session(request: Request) -> Iterator[Session]:
    with write_session(request.app.state.settings.database_url) as session:
        # Groups the decision records one request writes (decisions.service.record_decision).
        session.info["request_id"] = request_id(request)
        yield session


def request_id(request: Request) -> str:
    """The client's ``X-Request-ID`` (up to 64 printable characters), else a new id."""
    given = request.headers.get("x-request-id", "")
    if 0 < len(given) <= 64 and given.isprintable():
        return given
    return new_id("req")


SettingsDep = Annotated[Settings, Depends(get_settings)]
ReadSession = Annotated[Session, Depends(get_read_session)]
WriteSession = Annotated[Session, Depends(get_write_session)]


def bearer_key(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("Authorization must be 'Bearer <api key>'", code="bad_authorization")
    return value.strip()


#: Methods that only read; any other request is a write (SPEC §13: a suspended organisation
#: authenticates and reads, and every write it attempts is refused here, once for all routes).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_actor(request: Request) -> Actor:
    key = bearer_key(request)
    if key is None:
        raise Unauthorized("this endpoint needs an API key (Authorization: Bearer <key>)",
                           code="missing_api_key")
    cached = getattr(request.state, "actor", None)
    if cached is None:
        with read_session(request.app.state.settings.database_url) as session:
            cached = auth_service.authenticate(session, key)
        request.state.actor = cached
    actor: Actor = cached
    if request.method not in SAFE_METHODS:
        auth_service.check_may_write(actor)
    return actor


def get_optional_actor(request: Request) -> Actor | None:
    if request.headers.get("authorization") is None:
        return None
    return get_actor(request)


CurrentActor = Annotated[Actor, Depends(get_actor)]
OptionalActor = Annotated[Actor | None, Depends(get_optional_actor)]


class RequireRole:
    """Route dependency: the acting organisation must hold one of these roles."""

    def __init__(self, *roles: str) -> None:
        self.roles = roles

    def __call__(self, actor: CurrentActor) -> Actor:
        if not actor.has(*self.roles):
            raise Forbidden(f"this needs one of the roles: {', '.join(self.roles)}",
                            code="role_required", roles=list(self.roles))
        return actor


RegulatorActor = Annotated[Actor, Depends(RequireRole("regulator"))]
ManufacturerActor = Annotated[Actor, Depends(RequireRole("manufacturer"))]
