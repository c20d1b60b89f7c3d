"""The plan step of recording events: pure, over facts loaded in bulk (SPEC §4, §13, §14).

``plan_events(facts, recorder, requests)`` walks a batch in order, each event checked against
the state the events before it left, and returns a :class:`Plan`: the planned changes (events
to store, unit states after them) or the first refusal (a batch is all or nothing). It does no
I/O; :mod:`robopass.lifecycle.service` loads the :class:`BatchFacts` before and applies the
plan after (storage-side checks that need the rows themselves — a recall's membership, a
component's binding — refuse there, by index, in the same way).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from robopass import idcode, regions
from robopass.errors import RobopassError
from robopass.lifecycle import rules
from robopass.lifecycle.policy_rules import (
    SCENARIOS,
    ModelFacts,
    OperatorFacts,
    UnitFacts,
    check_policy,
)
from robopass.timeutil import CLOCK_SKEW, as_utc, rfc3339


@dataclass
class EventRequest:
    code: str
    type: str
    at: datetime | None = None
    to_organization: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UnitRecord:
    """A unit's stored state and the facts around it, as loaded for a batch."""

    state: rules.UnitState
    model_id: str
    last_at: datetime | None
    issued_at: datetime
    month_start: datetime
    seq: int
    #: set when a peer registry imported the robot (SPEC §16): only corrections are taken here
    exported_to: str | None = None


@dataclass(frozen=True, slots=True)
class CorrectedEvent:
    id: str
    code: str
    type: str
    organization_id: str
    corrected: bool


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    """The version of a scenario's policy in force (``province`` None: national)."""

    scenario: str
    province: str | None
    version: int
    rules: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class PilotFacts:
    id: str
    scenario: str
    provinces: frozenset[str]
    starts: datetime
    ends: datetime
    ended_at: datetime | None
    participants: frozenset[str]
    rules: Mapping[str, Any]

    def runs_at(self, at: datetime) -> bool:
        end = self.ends if self.ended_at is None else min(self.ends, self.ended_at)
        return self.starts <= at < end


@dataclass
class BatchFacts:
    now: datetime
    units: dict[str, UnitRecord]
    #: roles of the organisations named as to_organization, and of deploying owners
    org_roles: dict[str, frozenset[str]]
    #: code (or ``*`` for every unit) → organisations that authorised the recorder
    provider_grants: dict[str, set[str]]
    models: dict[str, ModelFacts] = field(default_factory=dict)
    corrected: dict[str, CorrectedEvent] = field(default_factory=dict)
    policies: dict[tuple[str, str | None], PolicyVersion] = field(default_factory=dict)
    pilots: list[PilotFacts] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Recorder:
    id: str
    roles: frozenset[str]
    scope_province: str | None = None
    #: a provincial regulator's province's organisations (the gate's rule: a unit without a
    #: location lies in its manufacturer's province)
    scope_orgs: frozenset[str] = frozenset()

    @property
    def is_regulator(self) -> bool:
        return "regulator" in self.roles


@dataclass(slots=True)
class PlannedEvent:
    index: int
    code: str
    type: str
    at: datetime
    at_text: str
    to_organization: str | None
    details: dict[str, Any]
    details_json: str
    seq: int


@dataclass(slots=True)
class UnitPlan:
    state: rules.UnitState
    initial: rules.UnitState
    last_at: datetime | None
    seq: int
    changed: bool = False


@dataclass
class Plan:
    events: list[PlannedEvent]
    units: dict[str, UnitPlan]
    #: (corrected event id, code) of the batch's corrections
    corrections: list[tuple[str, str]]
    refusal: tuple[int, rules.Refusal] | None = None


def compact_codes(requests: Sequence[EventRequest]) -> list[str | None]:
    out: list[str | None] = []
    for req in requests:
        try:
            out.append(idcode.validate(req.code))
        except idcode.InvalidCode:
            out.append(None)
    return out


def plan_events(facts: BatchFacts, recorder: Recorder,
                requests: Sequence[EventRequest]) -> Plan:
    """Check every request in order; the plan stops at the first refusal."""
    units = {code: UnitPlan(state=u.state, initial=u.state, last_at=u.last_at, seq=u.seq)
             for code, u in facts.units.items()}
    plan = Plan(events=[], units=units, corrections=[])
    at_texts: dict[datetime, str] = {}
    for index, (req, code) in enumerate(zip(requests, compact_codes(requests), strict=True)):
        try:
            planned = _plan_one(facts, recorder, plan, index, req, code)
        except rules.Refusal as refusal:
            plan.refusal = (index, refusal)
            return plan
        except RobopassError as exc:
            plan.refusal = (index, refusal_of(exc))
            return plan
        text = at_texts.get(planned.at)
        if text is None:  # batches share few distinct instants: format each once
            text = at_texts[planned.at] = rfc3339(planned.at) or ""
        planned.at_text = text
        plan.events.append(planned)
    return plan


def refusal_of(exc: RobopassError) -> rules.Refusal:
    extra = {k: v for k, v in exc.extra.items() if k != "field"}
    return rules.Refusal(exc.code, exc.message, status=exc.status,
                         field=exc.extra.get("field"), extra=extra)


def _plan_one(facts: BatchFacts, recorder: Recorder, plan: Plan, index: int,
              req: EventRequest, code: str | None) -> PlannedEvent:
    details = dict(req.details or {})
    try:
        details_json = orjson.dumps(details).decode()
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise rules.Refusal("invalid_details", f"details cannot be stored: {exc}",
                            status=422, field="details") from exc
    if code is None and req.type in rules.MARKET_EVENTS:
        raise rules.Refusal("no_market_access", "no code, no market access: "
                            f"{str(req.code)[:40]!r} is not a valid identity code", fraud=True)
    if code is None:
        try:
            idcode.validate(req.code)
        except idcode.InvalidCode as exc:
            raise rules.Refusal(exc.code, exc.message, status=422, field="code") from exc
    w = plan.units.get(code) if code else None
    if req.to_organization and req.to_organization not in facts.org_roles:
        raise rules.Refusal("organization_not_found", f"no organisation {req.to_organization!r}",
                            status=422, field="to_organization")
    event = rules.EventInput(type=req.type, to_organization=req.to_organization,
                             to_roles=facts.org_roles.get(req.to_organization or "",
                                                          frozenset()),
                             details=details)
    actor = rules.ActorFacts(id=recorder.id, roles=recorder.roles,
                             authorised_provider=_granted(facts, code, w))
    _check_scope(recorder, w)
    unit = facts.units.get(code) if code else None
    exported = exported_refusal(unit.exported_to if unit else None, req.type)
    if exported:  # SPEC §16 hand-over: the robot lives in another registry now
        raise rules.Refusal("exported_unit", exported, field="code")
    model = facts.models.get(unit.model_id) if unit else None
    rules.check(w.state if w else None, event, actor, model.status if model else None)
    assert code is not None and w is not None and unit is not None
    at = _check_time(req.at, facts.now, w, unit)
    if req.type == "deployed":
        details = _judge_deployment(facts, recorder, code, w.state, model, event, at)
        details_json = orjson.dumps(details).decode()
        event = rules.EventInput(type=event.type, to_organization=event.to_organization,
                                 to_roles=event.to_roles, details=details)
    elif req.type == "correction":
        plan.corrections.append((_check_correction(facts, recorder, code, details,
                                                   plan.corrections), code))
    elif req.type == "recall_remedied":
        w.state = w.state._replace(open_recalls=max(0, w.state.open_recalls - 1))
    w.state = rules.effect(w.state, event, recorder.is_regulator)
    w.seq += 1
    w.last_at = at
    w.changed = True
    return PlannedEvent(index=index, code=code, type=req.type, at=at, at_text="",
                        to_organization=req.to_organization, details=details,
                        details_json=details_json, seq=w.seq)


def _granted(facts: BatchFacts, code: str | None, w: UnitPlan | None) -> bool:
    if w is None or not facts.provider_grants:
        return False
    grants = facts.provider_grants
    mine = grants.get(code or "", set())
    return w.state.owner_id in mine or w.state.operator_id in mine or bool(
        {w.state.owner_id, w.state.operator_id} & grants.get("*", set()))


def exported_refusal(exported_to: str | None, event_type: str) -> str | None:
    """Why a local event on a unit is refused because a peer registry imported it (SPEC §16),
    else None. Corrections stay possible (they fix the record of the time it lived here)."""
    if exported_to and event_type != "correction":
        return (f"this robot was exported to the {exported_to} registry, where it lives now; "
                f"record its events there (only corrections are taken here)")
    return None


def _check_scope(recorder: Recorder, w: UnitPlan | None) -> None:
    if w is None or recorder.scope_province is None:
        return
    province = w.state.province
    inside = (province[:2] == recorder.scope_province[:2] if province is not None
              else w.state.manufacturer_id in recorder.scope_orgs)
    if not inside:
        raise rules.Refusal("outside_province", "this unit is outside your province",
                            status=403)


def _check_time(at: datetime | None, now: datetime, w: UnitPlan, unit: UnitRecord) -> datetime:
    if at is None:
        at = now
    elif at.tzinfo is not UTC:
        at = as_utc(at)
    if at > now + CLOCK_SKEW:
        raise rules.Refusal("time_in_future", f"at {rfc3339(at)} is in the future", status=422,
                            field="at")
    if w.last_at is not None and at < w.last_at:
        raise rules.Refusal("time_before_previous_event",
                            f"at {rfc3339(at)} is before the unit's previous event "
                            f"({rfc3339(w.last_at)})", status=422, field="at")
    if at < unit.month_start:
        raise rules.Refusal("time_before_production",
                            f"at {rfc3339(at)} is before the unit's production month",
                            status=422, field="at")
    if at < unit.issued_at:
        raise rules.Refusal("time_before_issuance",
                            f"at {rfc3339(at)} is before the unit's code was issued "
                            f"({rfc3339(unit.issued_at)})", status=422, field="at")
    return at


def _check_correction(facts: BatchFacts, recorder: Recorder, code: str,
                      details: dict[str, Any], pending: list[tuple[str, str]]) -> str:
    target_id = details.get("corrects")
    reason = details.get("reason")
    if not isinstance(target_id, str):
        raise rules.Refusal("invalid_details", "correction needs details.corrects (an event id)",
                            status=422, field="details.corrects")
    if not isinstance(reason, str) or not reason.strip():
        raise rules.Refusal("invalid_details", "correction needs details.reason", status=422,
                            field="details.reason")
    target = facts.corrected.get(target_id)
    if target is None or target.code != code:
        raise rules.Refusal("event_not_found", f"no event {target_id!r} on this unit",
                            status=404, field="details.corrects")
    if target.type == "correction":
        raise rules.Refusal("invalid_correction", "a correction cannot itself be corrected; "
                            "record the right event instead")
    if target.corrected or any(t == target_id for t, _ in pending):
        raise rules.Refusal("already_corrected", f"event {target_id} is already corrected")
    if not recorder.is_regulator and recorder.id != target.organization_id:
        raise rules.Refusal("not_entitled", "only the recorder of an event or the regulator "
                            "corrects it", status=403)
    return target_id


def _deployment_place(details: dict[str, Any]) -> tuple[str, str, str]:
    scenario, province, city = (details.get(k) for k in ("scenario", "province", "city"))
    if scenario not in SCENARIOS:
        raise rules.Refusal("invalid_details", "deployed needs details.scenario, one of: "
                            + ", ".join(SCENARIOS), status=422, field="details.scenario")
    if not isinstance(province, str) or regions.province_of(province) != province \
            or not regions.is_valid_division(province):
        raise rules.Refusal("invalid_location", "deployed needs details.province, a GB/T 2260 "
                            "province code (e.g. 420000)", status=422, field="details.province")
    if not isinstance(city, str) or not regions.is_valid_division(city) \
            or regions.province_of(city) != province or city == province:
        raise rules.Refusal("invalid_location", "deployed needs details.city, a GB/T 2260 city "
                            f"code inside province {province}", status=422,
                            field="details.city")
    return str(scenario), province, city


def applicable_rules(facts: BatchFacts, *, scenario: str, province: str, at: datetime,
                     parties: set[str | None]) -> tuple[PilotFacts | None,
                                                       list[PolicyVersion]]:
    """The pilot a deployment falls under (a running pilot of the scenario and province in
    which one of ``parties`` participates), else the national policy and the province's
    tightening of it."""
    for pilot in facts.pilots:
        if pilot.scenario == scenario and province in pilot.provinces and pilot.runs_at(at) \
                and parties & pilot.participants:
            return pilot, []
    found = [facts.policies.get((scenario, None)), facts.policies.get((scenario, province))]
    return None, [p for p in found if p is not None]


def _judge_deployment(facts: BatchFacts, recorder: Recorder, code: str,
                      state: rules.UnitState, model: ModelFacts | None,
                      event: rules.EventInput, at: datetime) -> dict[str, Any]:
    """Refuse a deployment the scenario's policy (or the pilot's) forbids; returns the details
    to record (``pilot_id`` and ``policy_version`` stamped by the registry)."""
    details = dict(event.details)
    scenario, province, _city = _deployment_place(details)
    details.pop("pilot_id", None)
    details.pop("policy_version", None)
    operator_id = event.to_organization or state.owner_id
    operator = OperatorFacts(id=operator_id, roles=facts.org_roles.get(operator_id or "",
                                                                       frozenset()))
    pilot, policies = applicable_rules(facts, scenario=scenario, province=province, at=at,
                                       parties={recorder.id, operator_id})
    judged: list[tuple[Mapping[str, Any], int, str | None]] = (
        [(pilot.rules, 1, pilot.id)] if pilot else [(p.rules, p.version, None) for p in policies])
    subject = UnitFacts(code=code)
    for rule_set, version, pilot_id in judged:
        if model is None:
            break
        violations = check_policy(subject, model, operator, rule_set, now=at)
        if violations:
            v = violations[0]
            extra: dict[str, Any] = {"rule": v.rule, "policy_version": version,
                                     "scenario": scenario}
            where = f"pilot {pilot_id}" if pilot_id else f"the {scenario} policy (version " \
                f"{version})"
            if pilot_id:
                extra["pilot_id"] = pilot_id
            raise rules.Refusal("policy_violation", f"{where} forbids this deployment: "
                                f"{v.rule}: {v.message}", extra=extra)
    if pilot is not None:
        details["pilot_id"] = pilot.id
    elif policies and policies[0].province is None:
        details["policy_version"] = policies[0].version
    return details
