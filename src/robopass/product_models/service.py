"""Filing and deciding product models (SPEC §3)."""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from robopass import gate
from robopass.auth.service import Actor
from robopass.decisions import service as decision_service
from robopass.errors import Conflict, Forbidden, InvalidInput, NotFound
from robopass.ids import new_id
from robopass.organizations import service as org_service
from robopass.organizations.service import encode_number, next_counter
from robopass.product_models import evaluations
from robopass.product_models.models import ModelVersion, ProductModel
from robopass.product_models.schemas import ModelCreate
from robopass.timeutil import utcnow

Decision = Literal["approve", "reject", "suspend", "revoke"]

#: decision → (states it may be taken from, resulting state)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "approve": (frozenset({"submitted", "suspended"}), "approved"),
    "reject": (frozenset({"submitted"}), "rejected"),
    "suspend": (frozenset({"approved"}), "suspended"),
    "revoke": (frozenset({"approved", "suspended"}), "revoked"),
}


def _check_org_ref(session: Session, org_id: str | None, role: str, field: str) -> None:
    if org_id is None:
        return
    org = org_service.get(session, org_id)
    if org is None:
        raise InvalidInput(f"no organisation {org_id!r}", field=field,
                           code="organization_not_found")
    if role not in org.roles:
        raise InvalidInput(f"{org.name} is not a {role}", field=field, code="wrong_role")


def file(session: Session, *, actor: Actor, data: ModelCreate) -> ProductModel:
    """File a model for the acting manufacturer; it starts ``submitted``."""
    if not actor.has("manufacturer"):
        raise Forbidden("only manufacturers file product models", code="manufacturer_only")
    manufacturer = org_service.get_or_raise(session, actor.id)
    assert manufacturer.company_code is not None
    for i, comp in enumerate(data.components):
        _check_org_ref(session, comp.supplier_id, "component_supplier",
                       f"components[{i}].supplier_id")
    _check_org_ref(session, data.software.provider_id, "software_provider",
                   "software.provider_id")
    _check_org_ref(session, data.testing_lab_id, "testing_lab", "testing_lab_id")
    duplicate = session.scalar(select(ProductModel.id).where(
        ProductModel.manufacturer_id == actor.id, ProductModel.name == data.name))
    if duplicate is not None:
        raise Conflict(f"you already filed a model named {data.name!r} ({duplicate})",
                       code="duplicate_model", field="name")
    number = next_counter(session, f"model_code:{manufacturer.company_code}")
    model = ProductModel(
        id=new_id("mdl"), manufacturer_id=actor.id, company_code=manufacturer.company_code,
        model_code=encode_number(number, 6), name=data.name,
        hardware_class=data.hardware_class, intelligence_level=data.intelligence_level,
        parameters=data.parameters.model_dump(exclude_none=True),
        components=[c.model_dump(exclude_none=True) for c in data.components],
        software=data.software.model_dump(exclude_none=True),
        software_provider_id=data.software.provider_id, testing_lab_id=data.testing_lab_id,
        certifications=[c.stored() for c in data.certifications], status="submitted",
        filed_at=utcnow(), version=1)
    session.add(model)
    session.flush()
    session.add(ModelVersion(
        id=new_id("ver"), model_id=model.id, version=1, parameters=model.parameters,
        components=model.components, software=model.software, status="submitted",
        reevaluation_required=False, filed_at=model.filed_at))
    session.flush()
    return model


def get_or_raise(session: Session, model_id: str) -> ProductModel:
    model = session.get(ProductModel, model_id)
    if model is None:
        raise NotFound(f"no product model {model_id!r}", code="model_not_found")
    return model


def check_regulator_scope(session: Session, actor: Actor, manufacturer_id: str) -> None:
    """A provincial regulator acts only on its province's companies (SPEC §1; the gate's
    rule)."""
    org = org_service.get_or_raise(session, manufacturer_id)
    gate.act(session, actor, org, need="authority")


def snapshot(model: ProductModel) -> dict[str, Any]:
    """What a decision about a model freezes before and after."""
    return {"status": model.status, "version": model.version,
            "evaluated_level": model.evaluated_level, "evaluation_id": model.evaluation_id}


def decide(session: Session, *, actor: Actor, model_id: str, decision: Decision,
           reason: str | None = None) -> ProductModel:
    """Approve, reject, suspend or revoke; approval needs a current, passing evaluation by an
    accredited lab (Conflict ``evaluation_required``) and sets the level digit of codes issued
    from then on. Writes a decision record. Raises Forbidden, Conflict."""
    if not actor.is_regulator:
        raise Forbidden("only the regulator decides on product models", code="regulator_only")
    model = get_or_raise(session, model_id)
    check_regulator_scope(session, actor, model.manufacturer_id)
    allowed_from, target = TRANSITIONS[decision]
    if model.status not in allowed_from:
        raise Conflict(f"cannot {decision} a model that is {model.status}",
                       code="invalid_model_transition", field="status",
                       status_now=model.status)
    before = snapshot(model)
    version = int(model.version or 1)
    if decision == "approve":
        facts = evaluations.require_passing(session, model=model, version=version)
        model.evaluated_level = facts.overall
        model.evaluation_id = facts.id
    if decision in ("approve", "reject") and version == 1:
        filed = session.scalar(select(ModelVersion).where(ModelVersion.model_id == model.id,
                                                          ModelVersion.version == 1))
        if filed is not None and filed.status == "submitted":
            filed.status = "approved" if decision == "approve" else "rejected"
            filed.decided_at, filed.decision_reason = utcnow(), reason
    model.status = target
    model.status_reason = reason
    model.decided_at = utcnow()
    session.flush()
    maker = org_service.get(session, model.manufacturer_id)
    decision_service.record_decision(
        session, actor=actor, action=f"model.{decision}", object_type="model",
        object_id=model.id, before=before, after=snapshot(model), reason=reason,
        organization_id=model.manufacturer_id, province=maker.province if maker else None)
    return model


def can_read(session: Session, actor: Actor, model: ProductModel) -> bool:
    """Approved models are public; a filing otherwise is for its manufacturer and the regulator
    in scope (the gate decides)."""
    return model.status == "approved" or gate.at_least(
        gate.decide(actor, gate.model_subject(session, model)), "legitimate")


def list_models(session: Session, *, actor: Actor, status: str | None = None,
                manufacturer_id: str | None = None, limit: int = 200,
                offset: int = 0) -> list[ProductModel]:
    query = select(ProductModel).order_by(ProductModel.filed_at)
    if status:
        query = query.where(ProductModel.status == status)
    if manufacturer_id:
        query = query.where(ProductModel.manufacturer_id == manufacturer_id)
    if not actor.is_national_regulator:
        query = query.where((ProductModel.manufacturer_id == actor.id)
                            | (ProductModel.status == "approved") | gate.model_filter(actor))
    return list(session.scalars(query.limit(limit).offset(offset)))
