"""Registry pages: product models (the filing, the decision forms) and organisations."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import func, select

from robopass import gate, regions
from robopass.auth.service import Actor
from robopass.db import read_session
from robopass.errors import RobopassError
from robopass.organizations import service as org_service
from robopass.organizations.models import Organization
from robopass.product_models import evaluations
from robopass.product_models import service as model_service
from robopass.product_models.models import ModelVersion, ProductModel
from robopass.robots.models import Unit
from robopass.stats import service as stats
from robopass.web import public
from robopass.web.app import choices, common, forms, history

router = APIRouter(include_in_schema=False)
DECISIONS = ("approve", "reject", "suspend", "revoke")


def may_view_model(db: Any, actor: Actor, model: ProductModel) -> bool:
    """The permission decision of the model page (the API's ``GET /models/{id}`` rule)."""
    return model_service.can_read(db, actor, model)


def may_list_organisations(actor: Actor) -> bool:
    return actor.is_regulator


@router.get("/app/models")
def model_list(request: Request) -> Response:
    ws = common.require(request)
    status = request.query_params.get("status") or None
    if status not in public.MODEL_STATUS_LABELS:
        status = None
    with read_session(request.app.state.settings.database_url) as db:
        models = model_service.list_models(
            db, actor=ws.actor, status=status, limit=500,
            manufacturer_id=None if ws.actor.is_regulator else ws.actor.id)
        names = dict(db.execute(select(Organization.id, Organization.name).where(
            Organization.id.in_({m.manufacturer_id for m in models}))).all())
        models = [m for m in models if ws.actor.scope_province is None
                  or stats.org_in_scope(db, ws.actor, m.manufacturer_id)]
    return common.render(request, "app/models.html", {
        "models": models, "names": names, "status": status,
        "model_status_labels": public.MODEL_STATUS_LABELS,
        "actions": forms.available(ws.actor, "model-file")}, ws)


@router.get("/app/models/{model_id}")
def model_page(model_id: str, request: Request) -> Response:
    ws = common.require(request)
    with read_session(request.app.state.settings.database_url) as db:
        model = db.get(ProductModel, model_id[:40])
        if model is None or not may_view_model(db, ws.actor, model):
            return common.not_found(request, ws)
        refs = {model.manufacturer_id, model.software_provider_id, model.testing_lab_id}
        refs |= {c.get("supplier_id") for c in model.components}
        names = dict(db.execute(select(Organization.id, Organization.name).where(
            Organization.id.in_([r for r in refs if r]))).all())
        units = int(db.scalar(select(func.count()).select_from(Unit).where(
            Unit.model_id == model.id)) or 0)
        evaluated = [evaluations.facts_of(r) for r in evaluations.all_of(db, model.id)]
        decided = None
        if ws.actor.is_regulator or model.manufacturer_id == ws.actor.id:
            amendments = db.scalars(select(ModelVersion.id).where(
                ModelVersion.model_id == model.id)).all()
            decided = history.rows(db, ws.actor, model.id, *amendments)
    decisions = [{"name": f"model-{d}", "title": forms.FORMS[f"model-{d}"].title}
                 for d in DECISIONS if forms.FORMS[f"model-{d}"].allowed(ws.actor)]
    return common.render(request, "app/model.html", {
        "m": model, "names": names, "units": units, "decisions": decisions,
        "component_labels": choices.COMPONENT_TYPES,
        "model_status_labels": public.MODEL_STATUS_LABELS,
        "mine": model.manufacturer_id == ws.actor.id, "evaluations": evaluated,
        "history": decided}, ws)


@router.get("/app/organizations")
def organisation_list(request: Request) -> Response:
    ws = common.require(request)
    if not may_list_organisations(ws.actor):
        return common.forbidden(request, ws)
    role = request.query_params.get("role") or None
    if role not in common.ROLE_LABELS:
        role = None
    loc = common.locale(request)
    with read_session(request.app.state.settings.database_url) as db:
        orgs = org_service.list_all(db, actor=ws.actor, role=role, limit=5000)
    rows: list[dict[str, Any]] = [{
        "o": o, "place": regions.name(o.province, loc) if o.province else "—"} for o in orgs]
    return common.render(request, "app/organizations.html", {
        "rows": rows, "role": role,
        "actions": forms.available(ws.actor, "organization-create", "organization-update",
                                   "organization-accredit", "organization-suspend",
                                   "organization-reinstate", "organization-deregister")}, ws)


#: The forms an organisation page links to, prefilled with the organisation.
ORG_ACTIONS = ("organization-update", "organization-accredit", "organization-suspend",
               "organization-reinstate", "organization-deregister")


@router.get("/app/organizations/{org_id}")
def organisation_page(org_id: str, request: Request) -> Response:
    """One organisation: its registration, status and accreditation, the regulator's actions
    on it and its decision history. The gate admits a regulator in scope and the organisation
    itself (the read is audit-logged); others get the same 404 as an unknown id."""
    ws = common.require(request)
    loc = common.locale(request)
    with read_session(request.app.state.settings.database_url) as db:
        org = db.get(Organization, org_id[:40])
        if org is None:
            return common.not_found(request, ws)
        try:
            gate.see(db, ws.actor, org, need="legitimate", audit="read_organization_page",
                     path=request.url.path)
        except RobopassError:
            return common.not_found(request, ws)
        decided = history.rows(db, ws.actor, org.id)
        models = list(db.scalars(select(ProductModel).where(
            ProductModel.manufacturer_id == org.id).order_by(ProductModel.name).limit(200)))
    actions = [{**a, "href": forms.href(a["name"], org_id=org.id)}
               for a in forms.available(ws.actor, *ORG_ACTIONS)]
    try:
        org_service.check_manages_keys(ws.actor, org.id)
        keys = f"/app/keys?organization={org.id}" if org.id != ws.actor.id else "/app/keys"
    except RobopassError:
        keys = None
    return common.render(request, "app/organization.html", {
        "o": org, "place": " ".join(x for x in (
            regions.name(org.province, loc) if org.province else "",
            regions.name(org.city, loc) if org.city and org.city != org.province else "")
            if x) or "—",
        "scope": regions.name(org.scope_province, loc) if org.scope_province else None,
        "models": models, "model_status_labels": public.MODEL_STATUS_LABELS,
        "actions": actions, "keys_href": keys, "history": decided}, ws)
