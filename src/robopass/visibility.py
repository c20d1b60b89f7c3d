"""Visibility tiers (SPEC §8), as in the EU battery passport.

* ``public``: anyone, no key.
* ``legitimate``: the unit's owner, operator, authorised service provider, its manufacturer.
* ``authority``: the regulator (a provincial regulator for its province's units).
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy.orm import Session

from robopass.auth.service import Actor
from robopass.organizations import service as org_service
from robopass.robots.models import Unit

Tier = Literal["public", "legitimate", "authority"]
ORDER = {"public": 0, "legitimate": 1, "authority": 2}


def tier_for(session: Session, actor: Actor | None, unit: Unit) -> Tier:
    if actor is None:
        return "public"
    if actor.is_regulator:
        if actor.scope_province is None:
            return "authority"
        if unit.province and unit.province[:2] == actor.scope_province[:2]:
            return "authority"
    if actor.id in (unit.owner_id, unit.operator_id, unit.manufacturer_id):
        return "legitimate"
    if "service_provider" in actor.roles and org_service.is_authorised_provider(
            session, provider_id=actor.id, code=unit.code, owner_id=unit.owner_id,
            operator_id=unit.operator_id):
        return "legitimate"
    return "public"


def at_least(tier: Tier, needed: Tier) -> bool:
    return ORDER[tier] >= ORDER[needed]
