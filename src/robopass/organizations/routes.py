from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query

from robopass.auth import service as auth_service
from robopass.db import transaction
from robopass.deps import CurrentActor, ReadSession, RegulatorActor, WriteSession
from robopass.organizations import governance, service
from robopass.organizations.schemas import (
    AccreditationRequest,
    KeyCreated,
    KeyRead,
    OrganizationCreate,
    OrganizationCreated,
    OrganizationRead,
    OrganizationStatusChange,
    OrganizationUpdate,
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
            for o in service.list_all(session, actor=actor, role=role, limit=limit,
                                      offset=offset)]


@router.get("/organizations/me", response_model=OrganizationRead)
def me(session: ReadSession, actor: CurrentActor) -> OrganizationRead:
    return OrganizationRead.model_validate(service.get_or_raise(session, actor.id))


@router.get("/organizations/{org_id}", response_model=OrganizationRead)
def get_organization(org_id: str, session: ReadSession, actor: CurrentActor) -> OrganizationRead:
    return OrganizationRead.model_validate(service.read(session, actor=actor, org_id=org_id))


@router.patch("/organizations/{org_id}", response_model=OrganizationRead)
def update_organization(org_id: str, body: OrganizationUpdate, session: WriteSession,
                        actor: RegulatorActor) -> OrganizationRead:
    """Regulator (a provincial one within its province): change name, name_zh, province or
    city; the change is a decision record."""
    changes = body.model_dump(exclude_unset=True)
    reason = changes.pop("reason", None)
    with transaction(session):
        org = governance.update(session, actor=actor, org_id=org_id, changes=changes,
                                reason=reason)
    return OrganizationRead.model_validate(org)


def _status_change(action: Literal["suspend", "reinstate", "deregister"]):  # type: ignore[no-untyped-def]
    def endpoint(org_id: str, body: OrganizationStatusChange, session: WriteSession,
                 actor: RegulatorActor) -> OrganizationRead:
        with transaction(session):
            org = governance.change_status(session, actor=actor, org_id=org_id, action=action,
                                           reason=body.reason)
        return OrganizationRead.model_validate(org)

    endpoint.__name__ = f"{action}_organization"
    endpoint.__doc__ = (f"Regulator: {action} an organisation, with a reason (a suspended one "
                        "reads but every write it attempts is 403 organization_suspended).")
    return endpoint


for _action in ("suspend", "reinstate", "deregister"):
    router.add_api_route(f"/organizations/{{org_id}}/{_action}", _status_change(_action),  # type: ignore[arg-type]
                         methods=["POST"], response_model=OrganizationRead)


@router.post("/organizations/{org_id}/accreditation", response_model=OrganizationRead)
def accredit(org_id: str, body: AccreditationRequest, session: WriteSession,
             actor: RegulatorActor) -> OrganizationRead:
    """Regulator: accredit a testing lab for scopes until a date (replaces the previous one)."""
    with transaction(session):
        org = governance.accredit(session, actor=actor, org_id=org_id, scopes=list(body.scopes),
                                  valid_until=body.valid_until, reason=body.reason)
    return OrganizationRead.model_validate(org)




@router.post("/organizations/{org_id}/keys", status_code=201, response_model=KeyCreated)
def create_key(org_id: str, session: WriteSession, actor: CurrentActor) -> KeyCreated:
    """Create an additional key (rotation: create a new key, then revoke the old one)."""
    service.check_manages_keys(actor, org_id)
    with transaction(session):
        service.get_or_raise(session, org_id)
        key = auth_service.create_key(session, organization_id=org_id)
    return KeyCreated(api_key=key)


@router.get("/organizations/{org_id}/keys", response_model=list[KeyRead])
def list_keys(org_id: str, session: ReadSession, actor: CurrentActor) -> list[KeyRead]:
    service.check_manages_keys(actor, org_id)
    keys = auth_service.list_keys(session, organization_id=org_id)
    return [KeyRead.model_validate(k) for k in keys]


@router.delete("/organizations/{org_id}/keys/{key_id}", status_code=204)
def revoke_key(org_id: str, key_id: str, session: WriteSession, actor: CurrentActor) -> None:
    service.check_manages_keys(actor, org_id)
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
