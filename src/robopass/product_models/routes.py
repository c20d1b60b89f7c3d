from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query

from robopass.config import Settings
from robopass.db import transaction
from robopass.deps import CurrentActor, ManufacturerActor, ReadSession, SettingsDep, WriteSession
from robopass.errors import NotFound
from robopass.product_models import amendments, evaluations, service
from robopass.product_models.evaluations import EvaluationFacts
from robopass.product_models.models import ModelVersion, ProductModel
from robopass.product_models.schemas import (
    AmendmentCreate,
    AmendmentCreated,
    AmendmentRead,
    EvaluationCreate,
    EvaluationCreated,
    EvaluationRead,
    ModelCreate,
    ModelCreated,
    ModelDecision,
    ModelRead,
)
from robopass.robots import service as robot_service
from robopass.robots.schemas import CodesIssued, CodesRequest

router = APIRouter(prefix="/api/v1", tags=["product models"])


@router.post("/models", status_code=201, response_model=ModelCreated)
def file_model(body: ModelCreate, session: WriteSession, actor: ManufacturerActor) -> ModelCreated:
    with transaction(session):
        model = service.file(session, actor=actor, data=body)
    return ModelCreated(id=model.id, model_code=model.model_code, status=model.status)


@router.get("/models", response_model=list[ModelRead])
def list_models(session: ReadSession, actor: CurrentActor, status: str | None = None,
                manufacturer_id: str | None = None, limit: int = Query(200, ge=1, le=1000),
                offset: int = Query(0, ge=0, le=2_000_000_000)) -> list[ModelRead]:
    models = service.list_models(session, actor=actor, status=status,
                                 manufacturer_id=manufacturer_id, limit=limit, offset=offset)
    current = evaluations.latest_for_models(session, models)
    return [_read(m, current.get(m.id)) for m in models]


def _read(model: ProductModel, evaluation: EvaluationFacts | None) -> ModelRead:
    read = ModelRead.model_validate(model, from_attributes=True)
    if evaluation is not None:
        read.evaluation = EvaluationRead.model_validate(evaluation.as_dict())
    return read


def _readable(session: ReadSession, actor: CurrentActor, model_id: str) -> ProductModel:
    model = service.get_or_raise(session, model_id)
    if not service.can_read(session, actor, model):
        raise NotFound(f"no product model {model_id!r}", code="model_not_found")
    return model


@router.get("/models/{model_id}", response_model=ModelRead)
def get_model(model_id: str, session: ReadSession, actor: CurrentActor) -> ModelRead:
    """The model with its current version and current evaluation (lab, date, grades)."""
    model = _readable(session, actor, model_id)
    return _read(model, evaluations.current_evaluation(session, model.id))


@router.post("/models/{model_id}/evaluations", status_code=201,
             response_model=EvaluationCreated)
def file_evaluation(model_id: str, body: EvaluationCreate, session: WriteSession,
                    actor: CurrentActor) -> EvaluationCreated:
    """An accredited testing lab (within its scopes and validity) files an evaluation of the
    model's version under evaluation."""
    with transaction(session):
        row = evaluations.file_evaluation(session, actor=actor, model_id=model_id, data=body)
    return EvaluationCreated(id=row.id, model_id=row.model_id, model_version=row.model_version,
                             overall=row.overall)


@router.get("/models/{model_id}/evaluations", response_model=list[EvaluationRead])
def list_evaluations(model_id: str, session: ReadSession,
                     actor: CurrentActor) -> list[EvaluationRead]:
    """Every evaluation of the model, newest first (whoever may read the model)."""
    model = _readable(session, actor, model_id)
    return [EvaluationRead.model_validate(evaluations.facts_of(r).as_dict())
            for r in evaluations.all_of(session, model.id)]


def _amendment(row: ModelVersion) -> AmendmentRead:
    return AmendmentRead.model_validate(row, from_attributes=True)


@router.post("/models/{model_id}/amendments", status_code=201,
             response_model=AmendmentCreated)
def file_amendment(model_id: str, body: AmendmentCreate, session: WriteSession,
                   actor: CurrentActor) -> AmendmentCreated:
    """Its manufacturer files a new version (parameters, components or software)."""
    with transaction(session):
        row = amendments.file_amendment(session, actor=actor, model_id=model_id,
                                        changes=body.changes, reason=body.reason)
    return AmendmentCreated(id=row.id, model_id=row.model_id, version=row.version,
                            status=row.status, reevaluation_required=row.reevaluation_required)


@router.get("/models/{model_id}/versions", response_model=list[AmendmentRead])
def list_versions(model_id: str, session: ReadSession, actor: CurrentActor
                  ) -> list[AmendmentRead]:
    """Every version of the filing: 1 is the original, later ones amendments."""
    model = _readable(session, actor, model_id)
    return [_amendment(r) for r in amendments.list_versions(session, model.id)]


def _decide_amendment(decision: Literal["approve", "reject"]):  # type: ignore[no-untyped-def]
    def endpoint(model_id: str, amendment_id: str, session: WriteSession, actor: CurrentActor,
                 body: ModelDecision | None = None) -> AmendmentRead:
        with transaction(session):
            row = amendments.decide(session, actor=actor, model_id=model_id,
                                    amendment_id=amendment_id, decision=decision,
                                    reason=body.reason if body else None)
        return _amendment(row)

    endpoint.__name__ = f"{decision}_amendment"
    endpoint.__doc__ = f"Regulator: {decision} an amendment (a new version of the filing)."
    return endpoint


for _decision in ("approve", "reject"):
    router.add_api_route(f"/models/{{model_id}}/amendments/{{amendment_id}}/{_decision}",
                         _decide_amendment(_decision), methods=["POST"],  # type: ignore[arg-type]
                         response_model=AmendmentRead)


def _decide(decision: Literal["approve", "reject", "suspend", "revoke"]):  # type: ignore[no-untyped-def]
    def endpoint(model_id: str, session: WriteSession, actor: CurrentActor,
                 body: ModelDecision | None = None) -> ModelRead:
        with transaction(session):
            model = service.decide(session, actor=actor, model_id=model_id, decision=decision,
                                   reason=body.reason if body else None)
            read = _read(model, evaluations.current_evaluation(session, model.id))
        return read

    endpoint.__name__ = f"{decision}_model"
    endpoint.__doc__ = f"Regulator: {decision} a product model."
    return endpoint


for _decision in ("approve", "reject", "suspend", "revoke"):
    router.add_api_route(f"/models/{{model_id}}/{_decision}", _decide(_decision),  # type: ignore[arg-type]
                         methods=["POST"], response_model=ModelRead)


@router.post("/models/{model_id}/codes", status_code=201, response_model=CodesIssued)
def issue_codes(model_id: str, body: CodesRequest, session: WriteSession,
                actor: CurrentActor, settings: SettingsDep) -> CodesIssued:
    with transaction(session):
        codes = robot_service.issue_codes(
            session, actor=actor, model_id=model_id, count=body.count, plant=body.plant,
            production_month=body.production_month, max_count=_limit(settings))
    return CodesIssued(codes=codes)


def _limit(settings: Settings) -> int:
    return settings.max_codes_per_request
