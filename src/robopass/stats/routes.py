"""``/api/v1/stats/*``: the aggregates behind the regulator dashboard's charts (regulator only;
a provincial regulator's figures are limited to its province)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from robopass.deps import ReadSession, RegulatorActor
from robopass.stats import service
from robopass.stats.schemas import FleetHealth, IncidentStats, Overview, SupplyChain

router = APIRouter(prefix="/api/v1/stats", tags=["stats"])
Province = Query(None, pattern=r"^\d{6}$", description="China division code (province part)")
Manufacturer = Query(None, max_length=40, description="organisation id of a manufacturer")


@router.get("/overview", response_model=Overview)
def overview(session: ReadSession, actor: RegulatorActor, province: str | None = Province,
             manufacturer: str | None = Manufacturer) -> dict[str, Any]:
    """Organisations, models by status, units by status/manufacturer/province, codes per month,
    recalls with completion rates, incidents by severity, fraud alerts, approval queue."""
    return service.overview(session, actor=actor, province=province, manufacturer_id=manufacturer)


@router.get("/fleet-health", response_model=FleetHealth)
def fleet_health(session: ReadSession, actor: RegulatorActor, province: str | None = Province,
                 manufacturer: str | None = Manufacturer) -> dict[str, Any]:
    """Battery state-of-health and joint-wear histograms, open health alerts by rule."""
    return service.fleet_health(session, actor=actor, province=province,
                                manufacturer_id=manufacturer)


@router.get("/incidents", response_model=IncidentStats)
def incidents(session: ReadSession, actor: RegulatorActor, province: str | None = Province,
              manufacturer: str | None = Manufacturer) -> dict[str, Any]:
    """Incidents by severity and by the most likely responsible party (trace reports)."""
    data = service.overview(session, actor=actor, province=province,
                            manufacturer_id=manufacturer)["incidents"]
    return {**data, "responsibility": service.responsibility(
        session, actor=actor, province=province, manufacturer_id=manufacturer)}


@router.get("/supply-chain", response_model=SupplyChain)
def supply_chain(session: ReadSession, actor: RegulatorActor,
                 province: str | None = Province) -> dict[str, Any]:
    """Key components by supplier and country, concentration (HHI, top-supplier share) per
    component type, and the suppliers whose failure would touch the most robots."""
    return service.supply_chain(session, actor=actor, province=province)
