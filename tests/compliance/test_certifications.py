"""Which kind a missing required certification is (SPEC §14), in the one pure check that the
``deployed`` rule and the compliance scan share."""

from __future__ import annotations

from datetime import UTC, datetime

from robopass.lifecycle.policy_rules import ModelFacts, OperatorFacts, UnitFacts, check_policy

NOW = datetime(2027, 7, 1, tzinfo=UTC)
RULES = {"required_certifications": ["ISO 13482"]}
OPERATOR = OperatorFacts(id="org_1", roles=frozenset({"operator"}))


def kinds(**facts: object) -> list[tuple[str, str]]:
    model = ModelFacts(id="mdl_1", status="approved", hardware_class="B", level=3,
                       **facts)  # type: ignore[arg-type]
    return [(v.kind, v.rule) for v in check_policy(UnitFacts(code=""), model, OPERATOR, RULES,
                                                   now=NOW)]


def test_an_unexpired_filing_entry_or_a_valid_evaluation_test_holds_it() -> None:
    assert kinds(certifications={"ISO 13482:2014": datetime(2027, 12, 31, tzinfo=UTC)}) == []
    assert kinds(certifications={"ISO 13482": None}) == []
    assert kinds(evaluation_standards=frozenset({"ISO 13482:2014"}),
                 evaluated_at=datetime(2026, 1, 1, tzinfo=UTC),
                 evaluation_valid_until=datetime(2028, 1, 1, tzinfo=UTC)) == []
    # an expired filing entry is covered by a valid evaluation test of the same standard
    assert kinds(certifications={"ISO 13482": datetime(2027, 1, 1, tzinfo=UTC)},
                 evaluation_standards=frozenset({"ISO 13482"}),
                 evaluated_at=datetime(2026, 1, 1, tzinfo=UTC),
                 evaluation_valid_until=datetime(2028, 1, 1, tzinfo=UTC)) == []


def test_an_expired_filing_entry_is_certification_expired() -> None:
    assert kinds(certifications={"ISO 13482:2014": datetime(2027, 6, 30, tzinfo=UTC)}) == [
        ("certification_expired", "required_certifications")]


def test_a_test_of_an_expired_evaluation_is_evaluation_expired_not_both() -> None:
    assert kinds(evaluation_standards=frozenset({"ISO 13482:2014"}),
                 evaluated_at=datetime(2025, 1, 1, tzinfo=UTC),
                 evaluation_valid_until=datetime(2027, 6, 30, tzinfo=UTC)) == [
        ("evaluation_expired", "required_certifications")]


def test_a_certification_never_held_is_a_plain_rule_violation() -> None:
    assert kinds(certifications={"ISO 10218-1": None}) == [
        ("policy_changed", "required_certifications")]
