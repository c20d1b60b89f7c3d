"""Select options built from the registry (organisations by role, places, scenarios)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from robopass import regions
from robopass.auth.service import Actor
from robopass.lifecycle import policy_rules
from robopass.organizations.models import Organization
from robopass.web import public
from robopass.web.app.forms import Options
from robopass.web.i18n import N_

#: Deployment scenarios (SPEC §14): the policies' vocabulary (``policy_rules.SCENARIOS``), each
#: with its label for the page.
SCENARIO_LABELS: dict[str, str] = public.SCENARIO_LABELS
SCENARIOS: dict[str, str] = {s: SCENARIO_LABELS.get(s, s) for s in policy_rules.SCENARIOS}
COMPONENT_TYPES: dict[str, str] = {
    "battery_pack": N_("Battery pack"), "joint_actuator": N_("Joint actuator"),
    "controller": N_("Controller"), "sensor": N_("Sensor"), "compute": N_("Compute"),
    "other": N_("Other"),
}


def organisations(*roles: str, exclude_self: bool = False) -> Options:
    """Organisations holding any of ``roles`` (every organisation when none is given)."""

    def options(db: Session, actor: Actor, locale: str) -> Sequence[tuple[str, str]]:
        rows = db.execute(select(Organization.id, Organization.name, Organization.roles)
                          .order_by(Organization.name)).all()
        return [(oid, name) for oid, name, oroles in rows
                if (not roles or set(roles) & set(oroles or []))
                and not (exclude_self and oid == actor.id)]

    return options


def provinces(db: Session, actor: Actor, locale: str) -> Sequence[tuple[str, str]]:
    return [(code, regions.name(code, locale)) for code in regions.PROVINCES]


def cities(db: Session, actor: Actor, locale: str) -> Sequence[tuple[str, str]]:
    return [(code, f"{regions.name(regions.province_of(code), locale)} · "
                   f"{regions.name(code, locale)}") for code in regions.CITIES]


def labelled(table: dict[str, str]) -> Options:
    """A fixed vocabulary; labels are message ids, translated by the template."""

    def options(db: Session, actor: Actor, locale: str) -> Sequence[tuple[str, str]]:
        from robopass.web.i18n import gettext_for

        _ = gettext_for(locale)
        return [(k, _(v)) for k, v in table.items()]

    return options
