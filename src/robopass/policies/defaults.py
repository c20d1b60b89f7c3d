"""The policies a new registry starts with (``robopass init``); the regulator changes them.

The reasoning, per scenario (docs/regulation.md has the table):

* ``industrial``, ``logistics``: robots work among trained staff behind fences or on marked
  routes; only reporting is asked (every 10 minutes).
* ``commercial_service``, ``education_research``: the public or students meet the robot in a
  supervised place: an evaluation no older than two years, reporting every 5 minutes.
* ``household``: unsupervised, at home: level 2 at least, a current evaluation, reporting.
* ``public_space``: crowds, no supervision: level 3 at least, perception and collaboration
  grade 3, no small (``S``) or other (``X``) hardware, ISO 13482 (personal care robots'
  safety), an operator organisation, an evaluation within a year, reporting every minute.
* ``healthcare``, ``eldercare``: vulnerable people, physical contact: level 3, perception,
  decision and collaboration grade 3 (execution 3 for eldercare's lifting), ISO 13482, an
  operator organisation, an evaluation within a year, reporting every 30 seconds.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from robopass.auth.service import Actor
from robopass.ids import new_id
from robopass.policies import service
from robopass.policies.models import PolicyVersion
from robopass.timeutil import utcnow

DEFAULT_RULES: dict[str, dict[str, Any]] = {
    "industrial": {"max_telemetry_interval_s": 600},
    "logistics": {"max_telemetry_interval_s": 600},
    "commercial_service": {"requires_evaluation_within_days": 730,
                           "max_telemetry_interval_s": 300},
    "education_research": {"requires_evaluation_within_days": 730,
                           "max_telemetry_interval_s": 300},
    "household": {"min_level": 2, "requires_evaluation_within_days": 730,
                  "max_telemetry_interval_s": 300},
    "public_space": {"min_level": 3, "min_grades": {"perception": 3, "collaboration": 3},
                     "allowed_hardware_classes": ["B", "W", "U"],
                     "required_certifications": ["ISO 13482"], "operator_roles": ["operator"],
                     "requires_evaluation_within_days": 365, "max_telemetry_interval_s": 60},
    "healthcare": {"min_level": 3, "min_grades": {"perception": 3, "decision": 3,
                                                  "collaboration": 3},
                   "allowed_hardware_classes": ["B", "W", "U"],
                   "required_certifications": ["ISO 13482"], "operator_roles": ["operator"],
                   "requires_evaluation_within_days": 365, "max_telemetry_interval_s": 30},
    "eldercare": {"min_level": 3, "min_grades": {"perception": 3, "decision": 3,
                                                 "execution": 3, "collaboration": 3},
                  "allowed_hardware_classes": ["B", "W", "U"],
                  "required_certifications": ["ISO 13482"], "operator_roles": ["operator"],
                  "requires_evaluation_within_days": 365, "max_telemetry_interval_s": 30},
}
REASON = "default policy shipped with robopass (docs/regulation.md)"


def install_defaults(session: Session, *, actor: Actor) -> int:
    """Write version 1 of every scenario that has no policy yet; returns how many.

    The defaults are part of the software release, identical in every registry and written
    before the registry's first leaf, so they are not decisions and carry no ledger index;
    every later version is the regulator's decision and is ledgered.
    """
    have = set(session.scalars(select(PolicyVersion.scenario).where(
        PolicyVersion.province == "")))
    made = 0
    for scenario, rules in DEFAULT_RULES.items():
        if scenario not in have:
            session.add(PolicyVersion(id=new_id("pol"), scenario=scenario, province="",
                                      version=1, rules=service.checked_rules(rules),
                                      reason=REASON, effective_from=utcnow(),
                                      created_by_id=actor.id, ledger_index=None))
            made += 1
    session.flush()
    return made


def install_missing(session: Session) -> int:
    """:func:`install_defaults` on an existing registry (``robopass init`` on a database
    migrated from before scenario policies), as its national regulator."""
    from robopass.organizations.models import Organization

    regulator = session.scalars(select(Organization).where(
        Organization.registration_number == "REGISTRY").order_by(Organization.created_at)
        .limit(1)).first()
    if regulator is None:
        return 0
    return install_defaults(session, actor=Actor.of(regulator))
