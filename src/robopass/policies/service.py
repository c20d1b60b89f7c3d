"""Scenario policies: versioned documents, every version kept and ledgered (SPEC §14).

A ``PUT`` never edits a version: it appends the next one, with its reason, and a decision
record (and its ``decision`` ledger leaf) in the same transaction. The national regulator sets
a scenario's national policy; a provincial regulator may add a tightening of it for its own
province (every rule at least as strict as the national one's). The ``deployed`` rule judges
by both; see :func:`robopass.lifecycle.plan.applicable_rules`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from robopass import regions
from robopass.auth.service import Actor
from robopass.decisions import service as decision_service
from robopass.errors import Conflict, Forbidden, InvalidInput, NotFound
from robopass.ids import new_id
from robopass.lifecycle.policy_rules import (
    SCENARIOS,
    InvalidRules,
    looser_rules,
    validate_rules,
)
from robopass.policies.models import PolicyVersion
from robopass.timeutil import rfc3339, utcnow


def check_scenario(scenario: str) -> str:
    if scenario not in SCENARIOS:
        raise NotFound(f"no scenario {scenario!r}; scenarios: {', '.join(SCENARIOS)}",
                       code="scenario_not_found", field="scenario")
    return scenario


def checked_rules(rules: Any) -> dict[str, Any]:
    try:
        return validate_rules(rules)
    except InvalidRules as exc:
        raise InvalidInput(str(exc), field=exc.field, code="invalid_rules") from exc


def current(session: Session, scenario: str, province: str | None = None
            ) -> PolicyVersion | None:
    return session.scalars(select(PolicyVersion).where(
        PolicyVersion.scenario == scenario, PolicyVersion.province == (province or ""))
        .order_by(PolicyVersion.version.desc()).limit(1)).first()


def current_versions(session: Session) -> list[PolicyVersion]:
    """The version in force of every (scenario, province) policy, national ones first."""
    latest = (select(PolicyVersion.scenario, PolicyVersion.province,
                     func.max(PolicyVersion.version).label("version"))
              .group_by(PolicyVersion.scenario, PolicyVersion.province).subquery())
    rows = session.scalars(select(PolicyVersion).join(latest, (
        PolicyVersion.scenario == latest.c.scenario) & (
        PolicyVersion.province == latest.c.province) & (
        PolicyVersion.version == latest.c.version)))
    return sorted(rows, key=lambda p: (p.province != "", SCENARIOS.index(p.scenario)
                                       if p.scenario in SCENARIOS else 99, p.province))


def versions(session: Session, scenario: str, province: str | None = None
             ) -> list[PolicyVersion]:
    check_scenario(scenario)
    return list(session.scalars(select(PolicyVersion).where(
        PolicyVersion.scenario == scenario, PolicyVersion.province == (province or ""))
        .order_by(PolicyVersion.version)))


def _target_province(actor: Actor, province: str | None) -> str | None:
    if not actor.is_regulator:
        raise Forbidden("only a regulator sets policies", code="role_required",
                        roles=["regulator"])
    if province is not None and (regions.province_of(province) != province
                                 or not regions.is_valid_division(province)):
        raise InvalidInput(f"{province!r} is not a GB/T 2260 province code", field="province",
                           code="invalid_location")
    if actor.scope_province is None:
        return province
    mine = regions.province_of(actor.scope_province)
    if province is not None and province != mine:
        raise Forbidden("a provincial regulator sets policies for its own province only",
                        code="outside_province")
    return mine


def set_policy(session: Session, *, actor: Actor, scenario: str, rules: Any, reason: str,
               province: str | None = None) -> PolicyVersion:
    """Append the next version of a scenario's policy (national, or a province's tightening).

    Raises Forbidden (not a regulator; a provincial regulator outside its province),
    NotFound (unknown scenario), InvalidInput (rules, reason, province), Conflict (a
    provincial policy looser than the national one: ``policy_looser_than_national``).
    """
    check_scenario(scenario)
    province = _target_province(actor, province)
    clean = checked_rules(rules)
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("a policy change needs a reason", field="reason")
    if province is not None:
        national = current(session, scenario)
        loose = looser_rules(national.rules if national else {}, clean)
        if loose:
            raise Conflict(f"a province may tighten the national {scenario} policy, never "
                           f"loosen it: {', '.join(loose)}", code="policy_looser_than_national",
                           field=f"rules.{loose[0]}", rule=loose[0])
    previous = current(session, scenario, province)
    now = utcnow()
    row = PolicyVersion(id=new_id("pol"), scenario=scenario, province=province or "",
                        version=(previous.version if previous else 0) + 1, rules=clean,
                        reason=reason.strip()[:2000], effective_from=now,
                        created_by_id=actor.id)
    decision = decision_service.record_decision(
        session, actor=actor, action="policy_set", object_type="policy",
        object_id=f"{scenario}@{province}" if province else scenario,
        before=view(previous) if previous else None, after=view(row), reason=row.reason,
        province=province)
    row.ledger_index = decision.ledger_index
    session.add(row)
    session.flush()
    return row


def view(p: PolicyVersion) -> dict[str, Any]:
    return {"scenario": p.scenario, "province": p.province or None, "version": p.version,
            "rules": dict(p.rules), "reason": p.reason,
            "effective_from": rfc3339(p.effective_from), "ledger_index": p.ledger_index}
