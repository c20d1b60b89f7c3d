from __future__ import annotations

from fastapi import APIRouter, Query

from robopass.auth import service as auth_service
from robopass.db import transaction
from robopass.deps import CurrentActor, ReadSession, RegulatorActor, WriteSession
from robopass.errors import Forbidden
from robopass.organizations import service
from robopass.organizations.schemas import (
    KeyCreated,
    KeyRead,
    OrganizationCreate,
    OrganizationCreated,
    OrganizationRead,
    ServiceAuthorization,
    ServiceAuthorizationCreate,
)

router = APIRouter(prefix="/api/v1", tags=["organizations"])


@router.post("/organizations", status_code=201, response_model=OrganizationCreated)
def create_organization(body: OrganizationCreate, session: WriteSession,
                        actor: RegulatorActor) -> OrganizationCreated:
    with transaction(session):
        org, key = service.create(session, actor=actor, **body.model_dump())
    return OrganizationCreated(id=org.id, company_code=org.company_code, api_key=key)


@router.get("/organizations", response_model=list[OrganizationRead])
def list_organizations(session: ReadSession, actor: RegulatorActor,
                       role: str | None = None, limit: int = Query(500, ge=1, le=5000),
                       offset: int = Query(0, ge=0, le=2_000_000_000)) -> list[OrganizationRead]:
    return [OrganizationRead.model_validate(o)
            for o in service.list_all(session, role=role, limit=limit, offset=offset)]


@router.get("/organizations/me", response_model=OrganizationRead)
def me(session: ReadSession, actor: CurrentActor) -> OrganizationRead:
    return OrganizationRead.model_validate(service.get_or_raise(session, actor.id))


@router.get("/organizations/{org_id}", response_model=OrganizationRead)
def get_organization(org_id: str, session: ReadSession, actor: CurrentActor) -> OrganizationRead:
    if not actor.is_regulator and actor.id != org_id:
        raise Forbidden("you can read your own organisation only", code="not_your_organization")
    return OrganizationRead.model_validate(service.get_or_raise(session, org_id))


def _check_self_or_regulator(actor: CurrentActor, org_id: str) -> None:
    if actor.id != org_id and not actor.is_national_regulator:
        raise Forbidden("only the organisation itself or the regulator manages its keys",
                        code="not_your_organization")


@router.post("/organizations/{org_id}/keys", status_code=201, response_model=KeyCreated)
def create_key(org_id: str, session: WriteSession, actor: CurrentActor) -> KeyCreated:
    """Create an additional key (rotation: create a new key, then revoke the old one)."""
    _check_self_or_regulator(actor, org_id)
    with transaction(session):
        service.get_or_raise(session, org_id)
        key = auth_service.create_key(session, organization_id=org_id)
    return KeyCreated(api_key=key)


@router.get("/organizations/{org_id}/keys", response_model=list[KeyRead])
def list_keys(org_id: str, session: ReadSession, actor: CurrentActor) -> list[KeyRead]:
    _check_self_or_regulator(actor, org_id)
    keys = auth_service.list_keys(session, organization_id=org_id)
    return [KeyRead.model_validate(k) for k in keys]


@router.delete("/organizations/{org_id}/keys/{key_id}", status_code=204)
def revoke_key(org_id: str, key_id: str, session: WriteSession, actor: CurrentActor) -> None:
    _check_self_or_regulator(actor, org_id)
    with transaction(session):
        auth_service.revoke_key(session, organization_id=org_id, key_id=key_id)


@router.post("/service-authorizations", status_code=201,
             response_model=ServiceAuthorization)
def authorize_service(body: ServiceAuthorizationCreate, session: WriteSession,
                      actor: CurrentActor) -> dict[str, str | None]:
    """An owner or operator authorises a service provider (SPEC §4, §6)."""
    with transaction(session):
        auth = service.authorize_service(session, actor=actor, provider_id=body.provider_id,
                                         code=body.code)
    return {"id": auth.id, "provider_id": auth.provider_id, "code": auth.code}
