from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query

from robopass.config import Settings
from robopass.db import transaction
from robopass.deps import CurrentActor, ManufacturerActor, ReadSession, SettingsDep, WriteSession
from robopass.errors import NotFound
from robopass.product_models import service
from robopass.product_models.schemas import (
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
    return [ModelRead.model_validate(m, from_attributes=True)
            for m in service.list_models(session, actor=actor, status=status,
                                         manufacturer_id=manufacturer_id, limit=limit,
                                         offset=offset)]


@router.get("/models/{model_id}", response_model=ModelRead)
def get_model(model_id: str, session: ReadSession, actor: CurrentActor) -> ModelRead:
    model = service.get_or_raise(session, model_id)
    if not service.can_read(session, actor, model):
        raise NotFound(f"no product model {model_id!r}", code="model_not_found")
    return ModelRead.model_validate(model, from_attributes=True)


def _decide(decision: Literal["approve", "reject", "suspend", "revoke"]):  # type: ignore[no-untyped-def]
    def endpoint(model_id: str, session: WriteSession, actor: CurrentActor,
                 body: ModelDecision | None = None) -> ModelRead:
        with transaction(session):
            model = service.decide(session, actor=actor, model_id=model_id, decision=decision,
                                   reason=body.reason if body else None)
        return ModelRead.model_validate(model, from_attributes=True)

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
