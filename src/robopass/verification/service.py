"""Public verification (SPEC §8, §9): genuine or not, and why — for any input."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from robopass import idcode
from robopass.organizations.models import Organization
from robopass.product_models.models import ProductModel
from robopass.registry import service as registry_service
from robopass.robots.models import Unit


def open_recalls(session: Session, code: str) -> list[dict[str, Any]]:
    from robopass.recalls import service as recall_service

    return recall_service.open_recalls_public(session, code)


def verify(session: Session, raw: str) -> dict[str, Any]:
    """Always returns ``{code, format_valid, registered, status, model, manufacturer,
    open_recalls, reason?}``; never raises for bad input."""
    result: dict[str, Any] = {"code": raw, "format_valid": False, "registered": False,
                              "status": None, "model": None, "manufacturer": None,
                              "open_recalls": []}
    try:
        code = idcode.validate(raw)
    except idcode.InvalidCode as exc:
        result.update(reason=exc.message, reason_code=exc.code, position=exc.position)
        return result
    result.update(code=code, format_valid=True)
    row = session.execute(
        select(Unit.status, ProductModel.name, ProductModel.model_code, ProductModel.status,
               Organization.name, Organization.company_code, Organization.country,
               Unit.open_recalls, Unit.production_month)
        .join(ProductModel, ProductModel.id == Unit.model_id)
        .join(Organization, Organization.id == Unit.manufacturer_id)
        .where(Unit.code == code)).first()
    if row is None:
        own = registry_service.country(session)
        if code[:2] != own:
            result.update(reason=f"this code was issued by the {code[:2]} registry, not this "
                          f"one ({own})", reason_code="foreign_code")
        else:
            result.update(reason="the code is well-formed but no robot with it is registered: "
                          "it may be forged", reason_code="not_registered")
        return result
    status, model_name, model_code, model_status, maker, company, country, n_recalls, month = row
    result.update(
        registered=True, status=status, production_month=month,
        model={"name": model_name, "model_code": model_code, "status": model_status},
        manufacturer={"name": maker, "company_code": company, "country": country},
        open_recalls=open_recalls(session, code) if n_recalls else [])
    if model_status in ("suspended", "revoked"):
        result.update(reason=f"the product model's filing is {model_status}",
                      reason_code=f"model_{model_status}")
    elif status in ("recycled", "scrapped"):
        result.update(reason=f"this robot was {status} and may not be sold or used",
                      reason_code=f"unit_{status}")
    elif n_recalls:
        result.update(reason="this robot has an open safety recall",
                      reason_code="open_recall")
    return result
