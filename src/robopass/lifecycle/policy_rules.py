"""Scenario policies as data, and the one check that judges a unit against them (SPEC §14).

Pure: no database, no web. :func:`check_policy` is called by the ``deployed`` rule (through
:mod:`robopass.lifecycle.plan`) and by the compliance scan (:mod:`robopass.compliance`), so a
deployment refused today and a finding opened tomorrow always agree on what the rules mean.

A policy's ``rules`` (all optional):

| rule | meaning |
|---|---|
| ``min_level`` / ``max_level`` | the model's evaluated overall level (1–5; 0 = not graded) |
| ``min_grades`` | ``{dimension: level}`` over perception, decision, execution, collaboration |
| ``allowed_hardware_classes`` | the model's hardware class must be one of these |
| ``required_certifications`` | each must be on the model's filing and unexpired |
| ``max_telemetry_interval_s`` | the unit must report at least this often while in service |
| ``operator_roles`` | the operator must hold every one of these roles |
| ``requires_evaluation_within_days`` | the model's evaluation is at most this old |
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

SCENARIOS = ("industrial", "logistics", "commercial_service", "public_space", "healthcare",
             "eldercare", "household", "education_research")
GRADE_DIMENSIONS = ("perception", "decision", "execution", "collaboration")
HARDWARE_CLASSES = ("B", "W", "U", "S", "X")
OPERATOR_ROLES = ("regulator", "manufacturer", "component_supplier", "software_provider",
                  "seller", "operator", "service_provider", "recycler", "testing_lab")
RULE_NAMES = ("min_level", "max_level", "min_grades", "allowed_hardware_classes",
              "required_certifications", "max_telemetry_interval_s", "operator_roles",
              "requires_evaluation_within_days")


class InvalidRules(ValueError):
    """The rules document is malformed; ``field`` names the offending rule."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class ModelFacts:
    """What a policy asks of a unit's model (its filing and current evaluation)."""

    id: str
    status: str
    hardware_class: str
    level: int  # the evaluated overall level; 0 = not graded
    grades: Mapping[str, int] = field(default_factory=dict)
    evaluated_at: datetime | None = None
    evaluation_valid_until: datetime | None = None
    #: the filing's certifications: name → valid until (None: no expiry stated)
    certifications: Mapping[str, datetime | None] = field(default_factory=dict)
    #: standards whose safety test the current evaluation passed (held while it is valid)
    evaluation_standards: frozenset[str] = frozenset()
    #: approved firmware builds of the model (version strings); empty: none declared
    builds: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class OperatorFacts:
    id: str | None
    roles: frozenset[str]


@dataclass(frozen=True, slots=True)
class UnitFacts:
    """The unit-level facts a policy may judge; ``last_reading_at`` None = never reported."""

    code: str
    in_service_since: datetime | None = None
    last_reading_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str
    message: str
    #: the finding kind the compliance scan files this under
    kind: str = "policy_changed"


def validate_rules(rules: Any) -> dict[str, Any]:
    """The rules document, checked and normalised; raises :class:`InvalidRules`."""
    if not isinstance(rules, dict):
        raise InvalidRules("rules must be an object", "rules")
    out: dict[str, Any] = {}
    for name, value in rules.items():
        where = f"rules.{name}"
        if name not in RULE_NAMES:
            raise InvalidRules(f"unknown rule {name!r}; known: {', '.join(RULE_NAMES)}", where)
        if value is None:
            continue
        if name in ("min_level", "max_level"):
            if not _int_in(value, 0, 5):
                raise InvalidRules(f"{name} must be an integer 0-5", where)
        elif name == "min_grades":
            if not isinstance(value, dict) or not all(
                    k in GRADE_DIMENSIONS and _int_in(v, 1, 5) for k, v in value.items()):
                raise InvalidRules("min_grades maps dimensions (" + ", ".join(GRADE_DIMENSIONS)
                                   + ") to levels 1-5", where)
            value = dict(sorted(value.items()))
        elif name == "allowed_hardware_classes":
            value = _str_list(value, HARDWARE_CLASSES, where)
        elif name == "operator_roles":
            value = _str_list(value, OPERATOR_ROLES, where)
        elif name == "required_certifications":
            if not isinstance(value, list) or not all(
                    isinstance(v, str) and 0 < len(v) <= 100 for v in value):
                raise InvalidRules("required_certifications is a list of certification names",
                                   where)
            value = sorted(set(value))
        elif name in ("max_telemetry_interval_s", "requires_evaluation_within_days"):
            if not _int_in(value, 1, 10_000_000):
                raise InvalidRules(f"{name} must be a positive integer", where)
        out[name] = value
    if out.get("min_level") is not None and out.get("max_level") is not None \
            and out["min_level"] > out["max_level"]:
        raise InvalidRules("min_level is above max_level", "rules.min_level")
    return out


def _int_in(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _str_list(value: Any, allowed: tuple[str, ...], where: str) -> list[str]:
    if not isinstance(value, list) or not value or not all(v in allowed for v in value):
        raise InvalidRules(f"{where[6:]} is a non-empty list of: {', '.join(allowed)}", where)
    return sorted(set(value))


def looser_rules(national: Mapping[str, Any], provincial: Mapping[str, Any]) -> list[str]:
    """The rules in which ``provincial`` is looser than (or drops) ``national``: a province
    may tighten a national policy, never loosen it."""
    loose: list[str] = []
    for name, value in national.items():
        mine = provincial.get(name)
        if mine is None:
            loose.append(name)
        elif name in ("min_level", "requires_evaluation_within_days",
                      "max_telemetry_interval_s", "max_level"):
            if (name == "min_level" and mine < value) or (name != "min_level" and mine > value):
                loose.append(name)
        elif name == "min_grades":
            if any(mine.get(k, 0) < v for k, v in value.items()):
                loose.append(name)
        elif name == "allowed_hardware_classes":
            if not set(mine) <= set(value):
                loose.append(name)
        elif not set(value) <= set(mine):  # certifications, operator roles: a superset
            loose.append(name)
    return loose


def check_policy(unit: UnitFacts, model: ModelFacts, operator: OperatorFacts,
                 rules: Mapping[str, Any], *, now: datetime) -> list[Violation]:
    """Every rule of ``rules`` the unit breaks, in rule order (empty: compliant)."""
    out: list[Violation] = []
    lo, hi = rules.get("min_level"), rules.get("max_level")
    if lo is not None and model.level < lo:
        out.append(Violation("min_level", f"the model's evaluated level {model.level} is below "
                             f"the policy's minimum {lo}"))
    if hi is not None and model.level > hi:
        out.append(Violation("max_level", f"the model's evaluated level {model.level} is above "
                             f"the policy's maximum {hi}"))
    for dim, need in (rules.get("min_grades") or {}).items():
        have = model.grades.get(dim, 0)
        if have < need:
            out.append(Violation("min_grades", f"the model's {dim} grade {have} is below the "
                                 f"policy's minimum {need}"))
            break
    classes = rules.get("allowed_hardware_classes")
    if classes and model.hardware_class not in classes:
        out.append(Violation("allowed_hardware_classes", f"hardware class "
                             f"{model.hardware_class} is not allowed (allowed: "
                             f"{', '.join(classes)})"))
    for cert in rules.get("required_certifications") or ():
        missing = _certification(model, cert, now)
        if missing is not None:
            out.append(missing)
    roles = rules.get("operator_roles")
    if roles and not set(roles) <= operator.roles:
        out.append(Violation("operator_roles", "the operator must hold the role(s) "
                             f"{', '.join(roles)}"))
    out += _evaluation(model, rules, now)
    interval = rules.get("max_telemetry_interval_s")
    if interval and unit.in_service_since is not None:
        # One interval of grace: a unit is late after two intervals without a reading.
        since = max(unit.last_reading_at or unit.in_service_since, unit.in_service_since)
        if now - since > timedelta(seconds=2 * interval):
            out.append(Violation("max_telemetry_interval_s", f"no telemetry for "
                                 f"{int((now - since).total_seconds())} s (the policy asks for "
                                 f"a reading every {interval} s)", kind="telemetry_gap"))
    return out


def _held(certifications: Mapping[str, datetime | None] | frozenset[str], required: str
          ) -> list[str]:
    """The held names that satisfy ``required``: the same name, or the same standard in a
    stated edition (``ISO 13482`` is met by ``ISO 13482:2014``)."""
    return [name for name in certifications
            if name == required or name.startswith(required + ":")]


def _certification(model: ModelFacts, cert: str, now: datetime) -> Violation | None:
    """Whether the model holds ``cert``: a filing entry not past its ``valid_until``, or a
    standard whose safety test the model's current evaluation passed while that evaluation is
    valid. A filing entry past its expiry is ``certification_expired``; a certification only
    the (expired) evaluation vouched for is ``evaluation_expired`` — one cause, one kind; a
    certification held nowhere is a plain rule violation."""
    filed = [model.certifications[n] for n in _held(model.certifications, cert)]
    if any(until is None or until >= now for until in filed):
        return None
    by_evaluation = bool(_held(model.evaluation_standards, cert))
    evaluation_valid = model.evaluated_at is not None and (
        model.evaluation_valid_until is None or model.evaluation_valid_until >= now)
    if by_evaluation and evaluation_valid:
        return None
    if filed:
        until = max(u for u in filed if u is not None)
        return Violation("required_certifications", f"certification {cert!r} on the model's "
                         f"filing expired on {until.date().isoformat()}",
                         kind="certification_expired")
    if by_evaluation:
        assert model.evaluation_valid_until is not None
        return Violation("required_certifications", f"certification {cert!r} rests on the "
                         "model's evaluation, which expired on "
                         f"{model.evaluation_valid_until.date().isoformat()}",
                         kind="evaluation_expired")
    return Violation("required_certifications",
                     f"certification {cert!r} is not on the model's filing")


def _evaluation(model: ModelFacts, rules: Mapping[str, Any], now: datetime) -> list[Violation]:
    days = rules.get("requires_evaluation_within_days")
    if days is None:
        return []
    if model.evaluated_at is None:
        return [Violation("requires_evaluation_within_days", "the model has no current "
                          "evaluation", kind="evaluation_expired")]
    if model.evaluation_valid_until is not None and model.evaluation_valid_until < now:
        return [Violation("requires_evaluation_within_days", "the model's evaluation expired "
                          f"on {model.evaluation_valid_until.date().isoformat()}",
                          kind="evaluation_expired")]
    if now - model.evaluated_at > timedelta(days=days):
        return [Violation("requires_evaluation_within_days", f"the model's evaluation is older "
                          f"than {days} days", kind="evaluation_expired")]
    return []
