"""The one pure policy check shared by the deployed rule and the compliance scan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from robopass.lifecycle.policy_rules import (
    InvalidRules,
    ModelFacts,
    OperatorFacts,
    UnitFacts,
    check_policy,
    looser_rules,
    validate_rules,
)

NOW = datetime(2026, 12, 1, tzinfo=UTC)
OPERATOR = OperatorFacts(id="o", roles=frozenset({"operator"}))


def model(**over: object) -> ModelFacts:
    base: dict[str, object] = dict(
        id="m", status="approved", hardware_class="B", level=3,
        grades={"perception": 3, "decision": 2, "execution": 3, "collaboration": 3},
        evaluated_at=NOW - timedelta(days=100), evaluation_valid_until=NOW + timedelta(days=300),
        certifications={"ISO 13482:2014": NOW + timedelta(days=300), "GB/T 44840": None})
    base.update(over)
    return ModelFacts(**base)  # type: ignore[arg-type]


def rules_broken(rules: dict[str, object], m: ModelFacts | None = None,
                 operator: OperatorFacts = OPERATOR, unit: UnitFacts | None = None
                 ) -> list[tuple[str, str]]:
    return [(v.rule, v.kind) for v in check_policy(unit or UnitFacts(code="c"), m or model(),
                                                   operator, rules, now=NOW)]


def test_each_rule_and_the_finding_kind_it_files_under() -> None:
    assert rules_broken({}) == []
    assert rules_broken({"min_level": 4}) == [("min_level", "policy_changed")]
    assert rules_broken({"max_level": 2}) == [("max_level", "policy_changed")]
    assert rules_broken({"min_grades": {"decision": 3}}) == [("min_grades", "policy_changed")]
    assert rules_broken({"allowed_hardware_classes": ["W"]}) == [
        ("allowed_hardware_classes", "policy_changed")]
    assert rules_broken({"operator_roles": ["operator", "service_provider"]}) == [
        ("operator_roles", "policy_changed")]
    assert rules_broken({"required_certifications": ["ISO 13482", "GB/T 44840"]}) == []
    assert rules_broken({"required_certifications": ["ISO 10218-1"]}) == [
        ("required_certifications", "policy_changed")]
    expired = model(certifications={"ISO 13482": NOW - timedelta(days=1)})
    assert rules_broken({"required_certifications": ["ISO 13482"]}, expired) == [
        ("required_certifications", "certification_expired")]
    assert rules_broken({"requires_evaluation_within_days": 365}) == []
    assert rules_broken({"requires_evaluation_within_days": 30}) == [
        ("requires_evaluation_within_days", "evaluation_expired")]
    stale = model(evaluation_valid_until=NOW - timedelta(days=1))
    assert rules_broken({"requires_evaluation_within_days": 365}, stale) == [
        ("requires_evaluation_within_days", "evaluation_expired")]
    never = model(evaluated_at=None, evaluation_valid_until=None)
    assert rules_broken({"requires_evaluation_within_days": 365}, never) == [
        ("requires_evaluation_within_days", "evaluation_expired")]


def test_telemetry_interval_with_one_interval_of_grace() -> None:
    rules = {"max_telemetry_interval_s": 60}
    deployed = UnitFacts(code="c", in_service_since=NOW - timedelta(hours=1),
                         last_reading_at=NOW - timedelta(seconds=110))
    assert rules_broken(rules, unit=deployed) == []
    late = UnitFacts(code="c", in_service_since=NOW - timedelta(hours=1),
                     last_reading_at=NOW - timedelta(seconds=130))
    assert rules_broken(rules, unit=late) == [("max_telemetry_interval_s", "telemetry_gap")]
    # at deployment time (no in-service instant yet) reporting is not judged
    assert rules_broken(rules) == []


def test_rules_are_validated_and_normalised() -> None:
    assert validate_rules({"allowed_hardware_classes": ["W", "B", "W"]}) == {
        "allowed_hardware_classes": ["B", "W"]}
    for bad, field in (({"min_level": True}, "rules.min_level"),
                       ({"min_grades": {"speed": 2}}, "rules.min_grades"),
                       ({"operator_roles": []}, "rules.operator_roles"),
                       ({"min_level": 4, "max_level": 2}, "rules.min_level"),
                       ({"max_telemetry_interval_s": 0}, "rules.max_telemetry_interval_s")):
        with pytest.raises(InvalidRules) as info:
            validate_rules(bad)
        assert info.value.field == field


def test_a_province_may_only_tighten() -> None:
    national = {"min_level": 2, "max_telemetry_interval_s": 300,
                "allowed_hardware_classes": ["B", "W"], "operator_roles": ["operator"],
                "min_grades": {"perception": 2}}
    tighter = {"min_level": 3, "max_telemetry_interval_s": 60, "allowed_hardware_classes": ["B"],
               "operator_roles": ["operator", "service_provider"],
               "min_grades": {"perception": 3}, "required_certifications": ["ISO 13482"]}
    assert looser_rules(national, tighter) == []
    assert looser_rules(national, {**tighter, "min_level": 1}) == ["min_level"]
    assert looser_rules(national, {**tighter, "allowed_hardware_classes": ["B", "U"]}) == [
        "allowed_hardware_classes"]
    dropped = dict(tighter)
    del dropped["operator_roles"]
    assert looser_rules(national, dropped) == ["operator_roles"]
