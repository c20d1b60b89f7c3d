"""Compliance findings (SPEC §14), read through the gate; a regulator may run a scan now."""

from __future__ import annotations

from fastapi import APIRouter, Query

from robopass.compliance import dashboard, service
from robopass.compliance.schemas import (
    FindingList,
    FindingRead,
    RegulationOverview,
    ScanResult,
)
from robopass.db import transaction
from robopass.deps import CurrentActor, ReadSession, RegulatorActor, WriteSession
from robopass.errors import Forbidden

router = APIRouter(prefix="/api/v1", tags=["compliance"])


@router.get("/compliance/findings", response_model=FindingList)
def list_findings(session: ReadSession, actor: CurrentActor,
                  scenario: str | None = Query(None, max_length=24),
                  province: str | None = Query(None, max_length=6),
                  kind: str | None = Query(None, max_length=32),
                  open: bool | None = Query(None, description="true: open only; false: "
                                                                "resolved only"),
                  code: str | None = Query(None, max_length=29),
                  limit: int = Query(200, ge=1, le=1000),
                  offset: int = Query(0, ge=0)) -> FindingList:
    """The regulator sees findings in its scope; a unit's owner, operator and manufacturer
    those of their units."""
    return FindingList(findings=[FindingRead(**service.view(f)) for f in
                                 service.visible_findings(session, actor=actor,
                                                          scenario=scenario, province=province,
                                                          kind=kind, open_only=open, code=code,
                                                          limit=limit, offset=offset)])


@router.post("/compliance/scan", response_model=ScanResult)
def scan_now(session: WriteSession, actor: CurrentActor) -> ScanResult:
    """The national regulator runs a scan now (the server also runs one every few minutes)."""
    if not actor.is_national_regulator:
        raise Forbidden("only the national regulator runs a compliance scan",
                        code="national_regulator_only")
    with transaction(session, ledger=False):
        return ScanResult(**service.run_scan(session).as_dict())


@router.get("/stats/regulation", response_model=RegulationOverview)
def regulation_overview(session: ReadSession, actor: RegulatorActor) -> RegulationOverview:
    """The regulator's dashboard figures (its province only, for a provincial one): units in
    service by scenario and province, open findings by kind, pilots with their units."""
    return RegulationOverview(**dashboard.overview(session, actor=actor))
