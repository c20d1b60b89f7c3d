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

from robopass.product_models.models import GRADE_DIMENSIONS, ModelEvaluation, ProductModel
from robopass.timeutil import rfc3339, utcnow


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
    return session.scalars(
        select(ModelEvaluation).where(ModelEvaluation.model_id == model_id,
                                      ModelEvaluation.model_version == version)
        .order_by(ModelEvaluation.evaluated_at.desc(), ModelEvaluation.id.desc())
        .limit(1)).first()


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
