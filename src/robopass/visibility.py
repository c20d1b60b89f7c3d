"""Visibility tiers (SPEC §8), as in the EU battery passport — decided by :mod:`robopass.gate`.

* ``public``: anyone, no key.
* ``legitimate``: the unit's owner, operator, authorised service provider, its manufacturer.
* ``authority``: the regulator (a provincial regulator for its province's units).

This module only keeps the names older callers import; the one decision is ``gate.decide``.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from robopass import gate
from robopass.auth.service import Actor
from robopass.gate import ORDER, Tier, at_least
from robopass.robots.models import Unit

__all__ = ["ORDER", "Tier", "at_least", "tier_for"]


def tier_for(session: Session, actor: Actor | None, unit: Unit) -> Tier:
    """The tier ``actor`` holds on ``unit`` (no audit entry: use ``gate.see`` to show data)."""
    return gate.decide(actor, gate.unit_subject(session, unit, actor))
