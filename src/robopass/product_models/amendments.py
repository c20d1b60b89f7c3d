"""Amendments: new versions of a model's filing (SPEC §13).

An amendment changes parameters (those given), the component list (replaced) or the software
(fields given; ``builds`` replaced) and becomes a version awaiting the regulator. A change of
the software/AI stack (name, version, provider, AI stack — not the list of approved builds),
of actuators, battery (pack components, chemistry, capacity) or compute needs a new evaluation
before it can be approved. Approval makes it the model's current version: codes issued from
then on belong to it and carry its evaluated level.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from robopass.auth.service import Actor
from robopass.decisions import service as decision_service
from robopass.errors import Conflict, Forbidden, InvalidInput, NotFound
from robopass.ids import new_id
from robopass.organizations import service as org_service
from robopass.product_models import evaluations
from robopass.product_models import service as model_service
from robopass.product_models.models import ModelVersion, ProductModel
from robopass.product_models.schemas import AmendmentChanges, ModelParameters, SoftwareSpec
from robopass.timeutil import utcnow

AMENDABLE = frozenset({"approved", "suspended"})
#: Component types whose change needs re-evaluation.
SAFETY_COMPONENTS = frozenset({"joint_actuator", "battery_pack", "compute"})
SAFETY_PARAMETERS = ("battery_chemistry", "battery_capacity_wh")
SAFETY_SOFTWARE = ("name", "version", "provider_id", "ai_stack")


def needs_reevaluation(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Pure: does going from the ``old`` filing to the ``new`` one need a new evaluation?
    Both hold ``parameters``, ``components`` and ``software``."""
    if any(old["parameters"].get(k) != new["parameters"].get(k) for k in SAFETY_PARAMETERS):
        return True
    if any(old["software"].get(k) != new["software"].get(k) for k in SAFETY_SOFTWARE):
        return True

    def safety_parts(components: list[dict[str, Any]]) -> Counter[str]:
        return Counter(repr(sorted(c.items())) for c in components
                       if c.get("type") in SAFETY_COMPONENTS)

    return safety_parts(old["components"]) != safety_parts(new["components"])


def _merged(model: ProductModel, changes: AmendmentChanges) -> dict[str, Any]:
    params = dict(model.parameters)
    software = dict(model.software)
    components = list(model.components)
    if changes.parameters is not None:
        params.update(changes.parameters.model_dump(exclude_unset=True))
        params = {k: v for k, v in params.items() if v is not None}
    if changes.software is not None:
        software.update(changes.software.model_dump(exclude_unset=True, mode="json"))
        software = {k: v for k, v in software.items() if v is not None}
    if changes.components is not None:
        components = [c.model_dump(exclude_none=True) for c in changes.components]
    for name, schema, value in (("parameters", ModelParameters, params),
                                ("software", SoftwareSpec, software)):
        try:
            schema.model_validate(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InvalidInput(f"the amended {name} are invalid: {first['msg']}",
                               field=f"changes.{name}.{where}") from exc
    if model.hardware_class == "S" and float(params.get("height_cm", 0)) >= 100:
        raise InvalidInput("hardware_class S is for robots under 1 m",
                           field="changes.parameters.height_cm")
    return {"parameters": params, "components": components, "software": software}


def _check_refs(session: Session, changes: AmendmentChanges) -> None:
    for i, comp in enumerate(changes.components or []):
        model_service._check_org_ref(session, comp.supplier_id, "component_supplier",
                                     f"changes.components[{i}].supplier_id")
    if changes.software is not None:
        model_service._check_org_ref(session, changes.software.provider_id, "software_provider",
                                     "changes.software.provider_id")


def file_amendment(session: Session, *, actor: Actor, model_id: str,
                   changes: AmendmentChanges, reason: str) -> ModelVersion:
    """The model's manufacturer files a new version. Raises NotFound, Forbidden (not its
    model), Conflict (model not approved or suspended, an amendment already pending),
    InvalidInput (no change, invalid result)."""
    model = model_service.get_or_raise(session, model_id)
    if actor.id != model.manufacturer_id:
        raise Forbidden("only the model's manufacturer amends its filing",
                        code="not_your_model", field="model_id")
    if model.status not in AMENDABLE:
        raise Conflict(f"model {model.model_code} is {model.status}: only approved or "
                       "suspended models are amended", code="model_not_amendable",
                       field="model_id", model_status=model.status)
    pending = session.scalar(select(ModelVersion.id).where(
        ModelVersion.model_id == model.id, ModelVersion.status == "submitted"))
    if pending is not None:
        raise Conflict(f"amendment {pending} awaits the regulator's decision; file the next "
                       "one after it", code="amendment_pending", field="model_id",
                       amendment_id=pending)
    _check_refs(session, changes)
    new = _merged(model, changes)
    old = {"parameters": model.parameters, "components": model.components,
           "software": model.software}
    if new == old:
        raise InvalidInput("the amendment changes nothing", field="changes",
                           code="no_changes")
    last = session.scalar(select(func.max(ModelVersion.version))
                          .where(ModelVersion.model_id == model.id))
    row = ModelVersion(
        id=new_id("amd"), model_id=model.id, version=int(last or 1) + 1, changes=changes
        .model_dump(exclude_unset=True, mode="json"), reason=reason.strip(),
        status="submitted", reevaluation_required=needs_reevaluation(old, new),
        filed_at=utcnow(), **new)
    session.add(row)
    session.flush()
    return row


def get_or_raise(session: Session, model_id: str, amendment_id: str) -> ModelVersion:
    row = session.get(ModelVersion, amendment_id)
    if row is None or row.model_id != model_id or row.version == 1:
        raise NotFound(f"no amendment {amendment_id!r} of model {model_id!r}",
                       code="amendment_not_found", field="amendment_id")
    return row


def decide(session: Session, *, actor: Actor, model_id: str, amendment_id: str,
           decision: Literal["approve", "reject"], reason: str | None = None) -> ModelVersion:
    """The regulator approves (needing a passing evaluation of the new version when
    ``reevaluation_required``) or rejects a submitted amendment; writes a decision record."""
    if not actor.is_regulator:
        raise Forbidden("only the regulator decides on amendments", code="regulator_only")
    model = model_service.get_or_raise(session, model_id)
    model_service.check_regulator_scope(session, actor, model.manufacturer_id)
    row = get_or_raise(session, model_id, amendment_id)
    if row.status != "submitted":
        raise Conflict(f"amendment {row.id} was already {row.status}",
                       code="amendment_decided", field="amendment_id", status_now=row.status)
    before = {"model": model_service.snapshot(model), "status": row.status}
    if decision == "approve":
        if model.status not in AMENDABLE:
            raise Conflict(f"model {model.model_code} is {model.status}",
                           code="model_not_amendable", field="model_id")
        if row.reevaluation_required:
            facts = evaluations.require_passing(session, model=model, version=row.version)
            model.evaluated_level, model.evaluation_id = facts.overall, facts.id
        model.version = row.version
        model.parameters, model.components, model.software = (
            row.parameters, row.components, row.software)
        model.software_provider_id = row.software.get("provider_id")
    row.status = "approved" if decision == "approve" else "rejected"
    row.decided_at, row.decision_reason = utcnow(), reason
    session.flush()
    maker = org_service.get(session, model.manufacturer_id)
    decision_service.record_decision(
        session, actor=actor, action=f"amendment.{decision}", object_type="amendment",
        object_id=row.id, before=before,
        after={"model": model_service.snapshot(model), "status": row.status,
               "version": row.version}, reason=reason, organization_id=model.manufacturer_id,
        province=maker.province if maker else None)
    return row


def list_versions(session: Session, model_id: str) -> list[ModelVersion]:
    return list(session.scalars(select(ModelVersion).where(ModelVersion.model_id == model_id)
                                .order_by(ModelVersion.version)))


def version_of(session: Session, model_id: str, version: int) -> ModelVersion | None:
    """One version of a model's filing (its software builds are in ``software.builds``)."""
    return session.scalar(select(ModelVersion).where(ModelVersion.model_id == model_id,
                                                     ModelVersion.version == version))
