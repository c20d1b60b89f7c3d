"""The compliance scan (SPEC §14): which units in service break the rules now.

Set-based, so it stays cheap at a million units in service:

* **Policy rules** depend on the model, the operator and where and under what the unit was
  deployed — not on the unit itself. One ``GROUP BY`` over the units in service yields the few
  thousand distinct (model, operator, scenario, province, pilot, policy version) groups; the
  one pure check (:func:`robopass.lifecycle.policy_rules.check_policy`, the same the
  ``deployed`` rule calls) judges each group once, and only the units of failing groups are
  read.
* **Telemetry gaps**: one query per policy (national, provincial, pilot) that states an
  interval, returning only the late units (no reading and no event within two intervals).
* **Unapproved software**: one ``GROUP BY`` (model, model version, firmware); only the units of
  unapproved combinations are read.

The result is the set of findings that should be open; :mod:`robopass.compliance.service`
compares it with the open ones and opens and resolves the difference.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from robopass.lifecycle import facts as lifecycle_facts
from robopass.lifecycle.plan import BatchFacts, PilotFacts, PolicyVersion
from robopass.lifecycle.policy_rules import OperatorFacts, UnitFacts, check_policy
from robopass.robots.models import Unit
from robopass.telemetry.models import TelemetryUnit

IN_SERVICE = ("in_service", "under_maintenance")


@dataclass(frozen=True, slots=True)
class Wanted:
    """A finding that should be open: its detail and where the unit is."""

    detail: str
    policy_version: int | None
    scenario: str | None
    province: str | None
    since: datetime


#: (kind, code) → the finding that should be open
Desired = dict[tuple[str, str], Wanted]


def _in_service() -> Any:
    return and_(Unit.scenario.is_not(None), Unit.status.in_(IN_SERVICE))


def _codes(session: Session, *conditions: Any) -> Iterator[tuple[str, str | None]]:
    rows = session.execute(select(Unit.code, Unit.province).where(_in_service(), *conditions))
    yield from ((code, province) for code, province in rows)


def _group_rules(facts: BatchFacts, scenario: str, province: str | None,
                 pilot: PilotFacts | None) -> list[tuple[dict[str, Any], int | None]]:
    if pilot is not None:
        return [(dict(pilot.rules), None)]
    found = [facts.policies.get((scenario, None)),
             facts.policies.get((scenario, province)) if province else None]
    return [(dict(p.rules), p.version if p.province is None else None)
            for p in found if p is not None]


def policy_findings(session: Session, facts: BatchFacts, now: datetime, out: Desired) -> None:
    """policy_changed / certification_expired / evaluation_expired / pilot_ended."""
    groups = list(session.execute(
        select(Unit.model_id, Unit.operator_id, Unit.scenario, Unit.province, Unit.pilot_id,
               Unit.policy_version, func.count()).where(_in_service())
        .group_by(Unit.model_id, Unit.operator_id, Unit.scenario, Unit.province, Unit.pilot_id,
                  Unit.policy_version)))
    facts.models = lifecycle_facts.model_facts(session, {g[0] for g in groups})
    roles = lifecycle_facts.org_roles(session, {g[1] for g in groups if g[1]})
    pilots = {p.id: p for p in facts.pilots}
    for model_id, operator_id, scenario, province, pilot_id, deployed_version, _n in groups:
        where = (Unit.model_id == model_id, Unit.scenario == scenario,
                 Unit.operator_id.is_(None) if operator_id is None
                 else Unit.operator_id == operator_id,
                 Unit.province.is_(None) if province is None else Unit.province == province,
                 Unit.pilot_id.is_(None) if pilot_id is None else Unit.pilot_id == pilot_id,
                 Unit.policy_version.is_(None) if deployed_version is None
                 else Unit.policy_version == deployed_version)
        pilot = pilots.get(pilot_id) if pilot_id else None
        if pilot is not None and not pilot.runs_at(now):
            detail = f"deployed under pilot {pilot.id}, which has ended"
            for code, prov in _codes(session, *where):
                out[("pilot_ended", code)] = Wanted(detail, None, scenario, prov, now)
            continue
        model = facts.models.get(model_id)
        if model is None:
            continue
        operator = OperatorFacts(id=operator_id, roles=roles.get(operator_id or "",
                                                                 frozenset()))
        found: dict[str, tuple[str, int | None]] = {}
        for rules, version in _group_rules(facts, str(scenario), province, pilot):
            for v in check_policy(UnitFacts(code=""), model, operator, rules, now=now):
                if v.kind == "policy_changed" and version is not None \
                        and deployed_version is not None and version <= deployed_version:
                    continue  # the same policy it was admitted under: nothing changed
                found.setdefault(v.kind, (f"{v.rule}: {v.message}", version))
        if not found:
            continue
        for code, prov in _codes(session, *where):
            for kind, (detail, version) in found.items():
                out[(kind, code)] = Wanted(detail, version, scenario, prov, now)


def _late(session: Session, interval: int, now: datetime, *conditions: Any
          ) -> Iterator[tuple[str, str | None, str | None, datetime | None, int | None]]:
    cutoff = now - timedelta(seconds=2 * interval)
    cutoff_ms = int(cutoff.timestamp() * 1000)
    query = (select(Unit.code, Unit.scenario, Unit.province, Unit.last_event_at,
                    TelemetryUnit.at)
             .outerjoin(TelemetryUnit, TelemetryUnit.code == Unit.code)
             .where(_in_service(), *conditions, Unit.last_event_at < cutoff,
                    or_(TelemetryUnit.at.is_(None), TelemetryUnit.at < cutoff_ms)))
    yield from session.execute(query)  # type: ignore[misc]


def telemetry_findings(session: Session, facts: BatchFacts, now: datetime,
                       out: Desired) -> None:
    """A unit in service with no reading (and no event) within two of its policy's
    intervals: one interval of grace (SPEC §14)."""
    plans: list[tuple[int, str, tuple[Any, ...], int | None]] = []
    where: tuple[Any, ...]
    provincial = {(s, p): pv for (s, p), pv in facts.policies.items() if p is not None}
    for (scenario, province), pv in facts.policies.items():
        if province is not None:
            continue
        national = pv.rules.get("max_telemetry_interval_s")
        overridden = [p for (s, p) in provincial if s == scenario]
        if national:
            where = (Unit.scenario == scenario, Unit.pilot_id.is_(None))
            if overridden:
                where += (or_(Unit.province.is_(None), Unit.province.not_in(overridden)),)
            plans.append((national, f"the {scenario} policy (version {pv.version})", where,
                          pv.version))
        for p in overridden:
            local: PolicyVersion = provincial[(scenario, p)]
            stated = [x for x in (national, local.rules.get("max_telemetry_interval_s")) if x]
            if stated:
                interval = min(stated)
                plans.append((interval, f"the {scenario} policy of province {p}",
                              (Unit.scenario == scenario, Unit.pilot_id.is_(None),
                               Unit.province == p), pv.version))
    for pilot in facts.pilots:
        interval = pilot.rules.get("max_telemetry_interval_s")
        if interval and pilot.runs_at(now):
            plans.append((interval, f"pilot {pilot.id}", (Unit.pilot_id == pilot.id,), None))
    for interval, source, conditions, version in plans:
        for code, unit_scenario, province, last_event, reading_ms in _late(
                session, interval, now, *conditions):
            last = last_event
            if reading_ms is not None:
                reading = datetime.fromtimestamp(reading_ms / 1000, tz=now.tzinfo)
                last = max(last, reading) if last else reading
            out[("telemetry_gap", code)] = Wanted(
                f"no telemetry since {last.isoformat() if last else 'deployment'}; {source} "
                f"asks for a reading every {interval} s", version, unit_scenario, province,
                (last or now) + timedelta(seconds=interval))


def software_findings(session: Session, facts: BatchFacts, now: datetime,
                      out: Desired) -> None:
    """Units in service whose firmware (as last reported by telemetry, else as recorded by
    ``firmware_updated``) is not an approved build of their model version. Model versions
    whose filing lists no builds are not judged."""
    from robopass.product_models.builds import build_versions
    from robopass.product_models.models import ModelVersion, ProductModel

    firmware = func.coalesce(TelemetryUnit.firmware, Unit.firmware)
    combos = list(session.execute(
        select(Unit.model_id, Unit.model_version, firmware).outerjoin(
            TelemetryUnit, TelemetryUnit.code == Unit.code)
        .where(_in_service(), firmware.is_not(None))
        .group_by(Unit.model_id, Unit.model_version, firmware)))
    model_ids = {c[0] for c in combos}
    if not model_ids:
        return
    builds: dict[tuple[str, int], set[str]] = {}
    for mid, version, software in session.execute(
            select(ModelVersion.model_id, ModelVersion.version, ModelVersion.software)
            .where(ModelVersion.model_id.in_(model_ids))):
        builds[(mid, int(version))] = {str(b["version"]).strip()
                                       for b in build_versions(software)}
    for mid, version, software in session.execute(
            select(ProductModel.id, ProductModel.version, ProductModel.software)
            .where(ProductModel.id.in_(model_ids))):
        builds.setdefault((mid, int(version or 1)), {str(b["version"]).strip()
                                                     for b in build_versions(software)})
    for mid, version, fw in combos:
        approved = builds.get((mid, int(version or 1)))
        if not approved or str(fw).strip() in approved:
            continue
        detail = (f"firmware {fw} is not an approved build of the model's version "
                  f"{int(version or 1)} (approved: {', '.join(sorted(approved))})")
        for code, scenario, province in session.execute(
                select(Unit.code, Unit.scenario, Unit.province)
                .outerjoin(TelemetryUnit, TelemetryUnit.code == Unit.code)
                .where(_in_service(), Unit.model_id == mid,
                       Unit.model_version == version, firmware == fw)):
            out[("unapproved_software", code)] = Wanted(detail, None, scenario, province, now)


def desired_findings(session: Session, now: datetime) -> Desired:
    facts = BatchFacts(now=now, units={}, org_roles={}, provider_grants={},
                       policies=lifecycle_facts.current_policies(session),
                       pilots=lifecycle_facts.pilots(session))
    out: Desired = {}
    policy_findings(session, facts, now, out)
    telemetry_findings(session, facts, now, out)
    software_findings(session, facts, now, out)
    return out
