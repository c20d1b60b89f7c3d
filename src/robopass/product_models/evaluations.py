"""Evaluations of product models by accredited testing labs (SPEC §13): filing and reading.

:func:`current_evaluation` is what approval, the model page, verification, passports and the
compliance scan read; it returns plain facts, not ORM rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from robopass.auth.service import Actor
from robopass.errors import Conflict, Forbidden, InvalidInput, NotFound
from robopass.ids import new_id
from robopass.organizations import governance
from robopass.organizations import service as org_service
from robopass.product_models.models import (
    GRADE_DIMENSIONS,
    ModelEvaluation,
    ModelVersion,
    ProductModel,
)
from robopass.product_models.schemas import EvaluationCreate
from robopass.timeutil import rfc3339, utcnow

#: Models a lab may evaluate: a rejected or revoked filing is closed.
EVALUABLE = frozenset({"submitted", "approved", "suspended"})


@dataclass(frozen=True)
class EvaluationFacts:
    id: str
    model_id: str
    model_version: int
    lab_id: str
    lab_name: str
    grades: dict[str, int]
    overall: int
    safety_tests: list[dict[str, Any]]
    safety_passed: bool
    report_sha256: str
    valid_until: date
    evaluated_at: str
    #: Past ``valid_until`` (compared with today's UTC date when read).
    expired: bool

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "model_id": self.model_id, "model_version": self.model_version,
                "lab_id": self.lab_id, "lab_name": self.lab_name, "grades": dict(self.grades),
                "overall": self.overall, "safety_tests": list(self.safety_tests),
                "safety_passed": self.safety_passed, "report_sha256": self.report_sha256,
                "valid_until": self.valid_until.isoformat(), "evaluated_at": self.evaluated_at,
                "expired": self.expired}


def facts_of(row: ModelEvaluation, *, today: date | None = None) -> EvaluationFacts:
    today = today or utcnow().date()
    tests = list(row.safety_tests or [])
    return EvaluationFacts(
        id=row.id, model_id=row.model_id, model_version=int(row.model_version),
        lab_id=row.lab_id, lab_name=row.lab_name,
        grades={d: int(getattr(row, d)) for d in GRADE_DIMENSIONS}, overall=int(row.overall),
        safety_tests=tests, safety_passed=bool(tests) and all(
            t.get("result") == "pass" for t in tests),
        report_sha256=row.report_sha256, valid_until=row.valid_until,
        evaluated_at=rfc3339(row.evaluated_at) or "", expired=row.valid_until < today)


def latest(session: Session, *, model_id: str, version: int) -> ModelEvaluation | None:
    """The latest evaluation covering ``version``: of that version, or — when it is an
    amendment that needed no re-evaluation — of the version it amended, and so on down."""
    versions = {int(v): bool(r) for v, r in session.execute(
        select(ModelVersion.version, ModelVersion.reevaluation_required)
        .where(ModelVersion.model_id == model_id, ModelVersion.version <= version))}
    covered = [version]
    while covered[-1] > 1 and not versions.get(covered[-1], True):
        covered.append(covered[-1] - 1)
    rows = session.scalars(
        select(ModelEvaluation).where(ModelEvaluation.model_id == model_id,
                                      ModelEvaluation.model_version.in_(covered))
        .order_by(ModelEvaluation.model_version.desc(), ModelEvaluation.evaluated_at.desc(),
                  ModelEvaluation.id.desc()).limit(1))
    return rows.first()


def current_evaluation(session: Session, model_id: str, *,
                       version: int | None = None) -> EvaluationFacts | None:
    """The latest evaluation of the model's current approved version (or of ``version``);
    None when no lab evaluated it (models approved before evaluations existed). An expired
    evaluation is still returned, with ``expired`` set: it does not change issued codes."""
    if version is None:
        model = session.get(ProductModel, model_id)
        if model is None:
            return None
        version = int(model.version or 1)
    row = latest(session, model_id=model_id, version=version)
    return None if row is None else facts_of(row)


def certifications(session: Session, model_id: str) -> list[str]:
    """The safety certifications named on the model's filing."""
    model = session.get(ProductModel, model_id)
    return [] if model is None else list(model.certifications or [])


def version_under_evaluation(session: Session, model: ProductModel) -> int:
    """The version a new evaluation is of: a submitted amendment that needs re-evaluation,
    else the model's current version."""
    pending = session.scalar(
        select(ModelVersion.version).where(ModelVersion.model_id == model.id,
                                           ModelVersion.status == "submitted",
                                           ModelVersion.reevaluation_required.is_(True))
        .order_by(ModelVersion.version.desc()).limit(1))
    return int(pending) if pending is not None else int(model.version or 1)


def _check_lab(session: Session, actor: Actor, model: ProductModel,
               data: EvaluationCreate) -> str:
    """The acting organisation must be a lab accredited, today, for every scope the
    evaluation covers: intelligence (the grades) and safety (the safety tests)."""
    if not actor.has("testing_lab"):
        raise Forbidden("only testing labs file evaluations", code="testing_lab_only",
                        field="authorization")
    if actor.id == model.manufacturer_id:
        raise Forbidden("a lab cannot evaluate its own organisation's model",
                        code="conflict_of_interest", field="model_id")
    lab = org_service.get_or_raise(session, actor.id)
    for scope, field in (("intelligence", "grades"), ("safety", "safety_tests")):
        if scope == "safety" and not data.safety_tests:
            continue
        problem = governance.accreditation_problem(lab, scope)
        if problem is not None:
            raise Forbidden(f"{problem}: it cannot file this evaluation",
                            code="not_accredited", field=field, scope=scope)
    return lab.name


def file_evaluation(session: Session, *, actor: Actor, model_id: str,
                    data: EvaluationCreate) -> ModelEvaluation:
    """An accredited lab files its evaluation of the model's version under evaluation.

    Raises NotFound (model), Forbidden (not an accredited lab within scope and validity, or
    its own model), Conflict (rejected or revoked model), InvalidInput (overall outside the
    grades, validity in the past).
    """
    model = session.get(ProductModel, model_id)
    if model is None:
        raise NotFound(f"no product model {model_id!r}", code="model_not_found",
                       field="model_id")
    lab_name = _check_lab(session, actor, model, data)
    if model.status not in EVALUABLE:
        raise Conflict(f"model {model.model_code} is {model.status}: its filing is closed",
                       code="model_not_evaluable", field="model_id", model_status=model.status)
    grades = data.grades.model_dump()
    if not min(grades.values()) <= data.overall <= max(grades.values()):
        raise InvalidInput(f"overall {data.overall} must lie between the lowest and the "
                           "highest of the four grades", field="overall",
                           code="overall_outside_grades")
    today = utcnow().date()
    if data.valid_until < today:
        raise InvalidInput(f"valid_until {data.valid_until} is in the past",
                           field="valid_until", code="date_in_past")
    row = ModelEvaluation(
        id=new_id("evl"), model_id=model.id, model_version=version_under_evaluation(session, model),
        lab_id=actor.id, lab_name=lab_name, overall=data.overall,
        safety_tests=[t.model_dump() for t in data.safety_tests],
        report_sha256=data.report_sha256.lower(), valid_until=data.valid_until,
        evaluated_at=utcnow(), **grades)
    session.add(row)
    session.flush()
    return row


def require_passing(session: Session, *, model: ProductModel, version: int) -> EvaluationFacts:
    """The current evaluation approval of ``version`` rests on; raises Conflict
    ``evaluation_required`` naming what is missing (none, expired, safety test failed or
    missing, lab no longer accredited)."""
    row = latest(session, model_id=model.id, version=version)
    if row is None:
        _refuse(model, version, "no accredited lab has evaluated it", "missing")
    assert row is not None
    facts = facts_of(row)
    if facts.expired:
        _refuse(model, version, f"its evaluation expired on {facts.valid_until}", "expired")
    if not facts.safety_tests:
        _refuse(model, version, "its evaluation lists no safety test", "no_safety_tests")
    if not facts.safety_passed:
        failed = [t.get("standard") for t in facts.safety_tests if t.get("result") != "pass"]
        _refuse(model, version, f"safety tests failed: {', '.join(map(str, failed))}",
                "safety_failed")
    lab = org_service.get(session, facts.lab_id)
    problem = None if lab is None else governance.accreditation_problem(lab, "intelligence")
    if lab is None or problem is not None:
        _refuse(model, version, problem or "its lab no longer exists", "lab_not_accredited")
    return facts


def _refuse(model: ProductModel, version: int, why: str, problem: str) -> None:
    raise Conflict(f"model {model.model_code} version {version} needs a current evaluation "
                   f"by an accredited lab with every safety test passed: {why}",
                   code="evaluation_required", field="evaluation", problem=problem,
                   model_version=version)


def latest_for_models(session: Session,
                      models: list[ProductModel]) -> dict[str, EvaluationFacts]:
    """Current evaluations of several models (model id → facts)."""
    found: dict[str, EvaluationFacts] = {}
    for model in models:
        row = latest(session, model_id=model.id, version=int(model.version or 1))
        if row is not None:
            found[model.id] = facts_of(row)
    return found


def all_of(session: Session, model_id: str) -> list[ModelEvaluation]:
    return list(session.scalars(select(ModelEvaluation)
                                .where(ModelEvaluation.model_id == model_id)
                                .order_by(ModelEvaluation.evaluated_at.desc(),
                                          ModelEvaluation.id.desc())))
