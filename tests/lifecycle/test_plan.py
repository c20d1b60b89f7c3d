"""The plan step is pure: facts in, a refusal or planned changes out (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from robopass.lifecycle.plan import (
    BatchFacts,
    EventRequest,
    PilotFacts,
    PolicyVersion,
    Recorder,
    UnitRecord,
    plan_events,
)
from robopass.lifecycle.policy_rules import ModelFacts
from robopass.lifecycle.rules import UnitState

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
CODE = "CN10000000012603A13B00000001V"
MAKER = Recorder(id="m", roles=frozenset({"manufacturer"}))
OWNER = Recorder(id="o", roles=frozenset({"operator"}))
PLACE = {"scenario": "public_space", "province": "420000", "city": "420100"}


def facts(status: str = "sold", model: ModelFacts | None = None, **kw: object) -> BatchFacts:
    state = UnitState(status=status, manufacturer_id="m", owner_id="o")
    unit = UnitRecord(state=state, model_id="mod", last_at=NOW - timedelta(days=30),
                      issued_at=NOW - timedelta(days=60),
                      month_start=datetime(2026, 3, 1, tzinfo=UTC), seq=3)
    return BatchFacts(now=NOW, units={CODE: unit}, org_roles={"o": frozenset({"operator"})},
                      provider_grants={},
                      models={"mod": model or ModelFacts(id="mod", status="approved",
                                                         hardware_class="B", level=2)},
                      **kw)  # type: ignore[arg-type]


def test_a_deployment_under_a_policy_it_breaks_is_a_refusal_naming_rule_and_version() -> None:
    policy = PolicyVersion(scenario="public_space", province=None, version=4,
                           rules={"min_level": 3})
    plan = plan_events(facts(policies={("public_space", None): policy}), OWNER,
                       [EventRequest(code=CODE, type="deployed", details=dict(PLACE))])
    assert plan.refusal is not None and not plan.events
    index, refusal = plan.refusal
    assert index == 0 and refusal.code == "policy_violation" and refusal.status == 409
    assert refusal.extra["rule"] == "min_level" and refusal.extra["policy_version"] == 4


def test_a_provinces_tightening_applies_and_a_pilot_replaces_both() -> None:
    national = PolicyVersion("public_space", None, 2, {"min_level": 1})
    hubei = PolicyVersion("public_space", "420000", 1, {"min_level": 3})
    policies = {("public_space", None): national, ("public_space", "420000"): hubei}
    req = [EventRequest(code=CODE, type="deployed", details=dict(PLACE))]
    refused = plan_events(facts(policies=policies), OWNER, req).refusal
    assert refused is not None and refused[1].extra["policy_version"] == 1
    pilot = PilotFacts(id="pilot_1", scenario="public_space", provinces=frozenset({"420000"}),
                       starts=NOW - timedelta(days=1), ends=NOW + timedelta(days=90),
                       ended_at=None, participants=frozenset({"o"}), rules={"min_level": 2})
    plan = plan_events(facts(policies=policies, pilots=[pilot]), OWNER, req)
    assert plan.refusal is None
    assert plan.events[0].details["pilot_id"] == "pilot_1"
    assert plan.units[CODE].state.pilot_id == "pilot_1"
    assert plan.units[CODE].state.scenario == "public_space"


def test_a_deployment_must_say_where_and_for_what() -> None:
    for details, field in (({}, "details.scenario"),
                           ({**PLACE, "province": "990000"}, "details.province"),
                           ({**PLACE, "city": "110100"}, "details.city")):
        plan = plan_events(facts(), OWNER, [EventRequest(code=CODE, type="deployed",
                                                         details=details)])
        assert plan.refusal is not None
        assert plan.refusal[1].status == 422 and plan.refusal[1].field == field


def test_the_plan_stops_at_the_first_refusal_and_keeps_the_state_before_it() -> None:
    revoked = ModelFacts(id="mod", status="revoked", hardware_class="B", level=2)
    plan = plan_events(facts(model=revoked), OWNER, [
        EventRequest(code=CODE, type="firmware_updated", details={"firmware": "1.1"}),
        EventRequest(code=CODE, type="deployed", details=dict(PLACE)),
        EventRequest(code=CODE, type="firmware_updated", details={"firmware": "1.2"})])
    assert plan.refusal is not None and plan.refusal[0] == 1
    assert plan.refusal[1].code == "model_revoked"
    assert [e.type for e in plan.events] == ["firmware_updated"]


def test_time_rules_in_the_plan() -> None:
    early = NOW - timedelta(days=61)
    plan = plan_events(facts(status="manufactured"), MAKER,
                       [EventRequest(code=CODE, type="firmware_updated", at=early,
                                     details={"firmware": "1"})])
    assert plan.refusal is not None
    # before the previous event is found first, then issuance
    assert plan.refusal[1].code == "time_before_previous_event"
    f = facts(status="manufactured")
    f.units[CODE] = UnitRecord(**dict(
        state=f.units[CODE].state, model_id="mod", last_at=None,
        issued_at=NOW - timedelta(days=60), month_start=datetime(2026, 3, 1, tzinfo=UTC),
        seq=0))
    plan = plan_events(f, MAKER, [EventRequest(code=CODE, type="firmware_updated", at=early,
                                               details={"firmware": "1"})])
    assert plan.refusal is not None and plan.refusal[1].code == "time_before_issuance"
