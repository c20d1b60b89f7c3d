"""Scenario policies (SPEC §14): public to read, set by the regulator."""

from __future__ import annotations

from fastapi import APIRouter, Query

from robopass.db import transaction
from robopass.deps import ReadSession, RegulatorActor, WriteSession
from robopass.lifecycle.policy_rules import SCENARIOS
from robopass.policies import service
from robopass.policies.schemas import PolicyList, PolicyRead, PolicySet, PolicyVersions

router = APIRouter(prefix="/api/v1", tags=["policies"])


@router.put("/policies/{scenario}", response_model=PolicyRead)
def set_policy(scenario: str, body: PolicySet, session: WriteSession,
               actor: RegulatorActor) -> PolicyRead:
    """The national regulator sets the next version of a scenario's policy; a provincial
    regulator (or the national one, naming ``province``) tightens it for a province. 409
    ``policy_looser_than_national`` when a province's rules would loosen the national ones."""
    with transaction(session):
        row = service.set_policy(session, actor=actor, scenario=scenario, rules=body.rules,
                                 reason=body.reason, province=body.province)
        return PolicyRead(**service.view(row))


@router.get("/policies", response_model=PolicyList)
def list_policies(session: ReadSession) -> PolicyList:
    """Public: the version in force of every scenario's policy, and provincial tightenings."""
    return PolicyList(scenarios=list(SCENARIOS), policies=[
        PolicyRead(**service.view(p)) for p in service.current_versions(session)])


@router.get("/policies/{scenario}/versions", response_model=PolicyVersions)
def policy_versions(scenario: str, session: ReadSession,
                    province: str | None = Query(None, max_length=6)) -> PolicyVersions:
    """Public: every version of a scenario's policy (national, or a province's), oldest
    first."""
    return PolicyVersions(scenario=scenario, province=province, versions=[
        PolicyRead(**service.view(p)) for p in service.versions(session, scenario, province)])
