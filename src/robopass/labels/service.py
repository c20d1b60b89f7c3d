"""Which codes a label sheet holds: a production run of one model."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from robopass.errors import InvalidInput, NotFound
from robopass.product_models.models import ProductModel
from robopass.robots import service as robot_service
from robopass.robots.models import Unit

#: Largest sheet one command prints (about 420 A4 pages).
MAX_LABELS = 10_000


def registered_code(session: Session, code: str) -> str:
    """The compact code of a registered unit; InvalidInput (malformed) or NotFound."""
    return robot_service.get_unit_or_raise(session, code).code


def production_run(session: Session, *, model: str, production_month: str | None = None,
                   plant: str | None = None, status: str | None = None,
                   limit: int = MAX_LABELS) -> list[str]:
    """Codes of ``model`` (its id or its 6-character model code), in code order, optionally of
    one production month (``YYYY-MM``), plant and status. Raises NotFound for an unknown model,
    InvalidInput for a limit beyond :data:`MAX_LABELS`."""
    if not 1 <= limit <= MAX_LABELS:
        raise InvalidInput(f"limit must be 1-{MAX_LABELS}", field="limit")
    model_ids = list(session.scalars(select(ProductModel.id).where(
        or_(ProductModel.id == model, ProductModel.model_code == model.upper()))))
    if not model_ids:
        raise NotFound(f"no product model {model!r} (give its id or model code)",
                       code="model_not_found")
    if len(model_ids) > 1:
        raise InvalidInput(f"model code {model!r} is used by several manufacturers; give the "
                           "model id", field="model")
    query = select(Unit.code).where(Unit.model_id == model_ids[0])
    if production_month:
        query = query.where(Unit.production_month == production_month)
    if plant:
        query = query.where(Unit.plant == plant.upper())
    if status:
        query = query.where(Unit.status == status)
    return list(session.scalars(query.order_by(Unit.code).limit(limit)))
