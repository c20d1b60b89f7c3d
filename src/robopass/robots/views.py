"""The unit as each tier sees it (SPEC §8)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from robopass.components import service as component_service
from robopass.lifecycle import service as lifecycle_service
from robopass.organizations.models import Organization
from robopass.product_models.models import ProductModel
from robopass.robots.models import Unit
from robopass.timeutil import rfc3339
from robopass.visibility import Tier, at_least


def unit_view(session: Session, unit: Unit, tier: Tier, as_of: datetime | None = None
              ) -> dict[str, Any]:
    model = session.get(ProductModel, unit.model_id)
    maker = session.get(Organization, unit.manufacturer_id)
    assert model is not None and maker is not None
    if as_of is not None:
        state = lifecycle_service.replay_state(session, unit.code, as_of)
        status, owner, operator = state.status, state.owner_id, state.operator_id
        firmware, province, city = state.firmware, state.province, state.city
    else:
        status, owner, operator = unit.status, unit.owner_id, unit.operator_id
        firmware, province, city = unit.firmware, unit.province, unit.city
    view: dict[str, Any] = {
        "code": unit.code,
        "tier": tier,
        "as_of": rfc3339(as_of),
        "status": status,
        "production_month": unit.production_month,
        "model_version": int(unit.model_version or 1),
        "model": {"id": model.id, "name": model.name, "model_code": model.model_code,
                  "hardware_class": model.hardware_class,
                  "intelligence_level": model.intelligence_level, "status": model.status},
        "manufacturer": {"id": maker.id, "name": maker.name, "company_code": maker.company_code,
                         "country": maker.country},
        "open_recalls": int(unit.open_recalls or 0),
        "imported_from": unit.imported_from,
    }
    if at_least(tier, "legitimate"):
        view.update({
            "owner": owner, "operator": operator, "province": province, "city": city,
            "firmware": firmware, "plant": unit.plant, "issued_at": rfc3339(unit.issued_at),
            "last_event_at": rfc3339(unit.last_event_at), "event_count": unit.event_count,
            "components": [{**c, "bound_at": rfc3339(c["bound_at"])}
                           for c in component_service.bound_components(session, unit.code,
                                                                       as_of)],
        })
    if at_least(tier, "authority"):
        view.update({"status_before_suspension": unit.status_before_suspension,
                     "suspended_by_authority": unit.suspended_by_authority,
                     "recycler": unit.recycler_id})
    return view
