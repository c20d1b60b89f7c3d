"""Units: code issuance (SPEC §2) and reads.

Issuance reserves a whole batch by advancing one counter row inside the serialised write
transaction, builds the codes in Python, inserts units and ledger leaves in bulk. The unique
primary key on ``units.code`` is the last line of defence.
"""

from __future__ import annotations

import re
from datetime import datetime

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from robopass import gate, idcode
from robopass.auth.service import Actor
from robopass.db import bulk_insert, db_timestamp
from robopass.errors import Conflict, Forbidden, InvalidInput, NotFound
from robopass.ledger import service as ledger_service
from robopass.organizations.models import Organization
from robopass.product_models import service as model_service
from robopass.product_models.models import ProductModel
from robopass.registry import service as registry_service
from robopass.robots.models import CodeCounter, Unit
from robopass.stats import counts as unit_counts
from robopass.timeutil import rfc3339, utcnow

MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def parse_production_month(value: str, *, now: datetime | None = None) -> tuple[int, int]:
    """``YYYY-MM`` between 2000-01 and next month; raises InvalidInput naming the field."""
    match = MONTH_RE.match(value or "")
    if not match:
        raise InvalidInput(f"production_month must be YYYY-MM, got {value!r}",
                           field="production_month", code="invalid_month")
    year, month = int(match[1]), int(match[2])
    if not 1 <= month <= 12:
        raise InvalidInput(f"month {month:02d} is not 01-12", field="production_month",
                           code="invalid_month")
    if not 2000 <= year <= 2099:
        raise InvalidInput("production_month must lie in 2000-2099 (the code keeps YY)",
                           field="production_month", code="invalid_month")
    now = now or utcnow()
    ahead = (year - now.year) * 12 + (month - now.month)
    if ahead > 1:
        raise InvalidInput(f"production_month {value} is more than one month ahead",
                           field="production_month", code="month_in_future")
    return year, month


def issue_codes(session: Session, *, actor: Actor, model_id: str, count: int, plant: str,
                production_month: str, max_count: int = 100_000,
                issued_at: datetime | None = None) -> list[str]:
    """Issue ``count`` new codes for an approved model of the acting manufacturer.

    ``issued_at`` (default now; not offered by the API) lets the demo seed build a registry
    with a history: events may not be dated before their code's issuance.

    All or nothing: the caller's transaction holds the counter advance, the units and the
    ledger leaves. Raises Forbidden (not its model), Conflict (model not approved),
    InvalidInput (count, plant, month).
    """
    model = model_service.get_or_raise(session, model_id)
    if actor.id != model.manufacturer_id:
        raise Forbidden("only the model's manufacturer issues its codes", code="not_your_model")
    _check_may_receive_codes(session, model)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise InvalidInput("count must be a positive integer", field="count")
    if count > max_count:
        raise InvalidInput(f"count {count} exceeds the limit of {max_count} codes per request",
                           field="count", code="batch_too_large", limit=max_count)
    plant = (plant or "").upper()
    if len(plant) != 2 or not idcode.is_valid_component_code(plant):
        raise InvalidInput("plant must be 2 characters of 0-9A-Z without I, O or Q",
                           field="plant", code="invalid_plant")
    year, month = parse_production_month(production_month)
    yymm = f"{year % 100:02d}{month:02d}"
    country = registry_service.country(session)

    counter = session.get(CodeCounter, (model.company_code, model.model_code, plant, yymm),
                          with_for_update=True)
    if counter is None:
        counter = CodeCounter(company_code=model.company_code, model_code=model.model_code,
                              plant=plant, month=yymm, last_sequence=0)
        session.add(counter)
    first = counter.last_sequence + 1
    last = counter.last_sequence + count
    if last > 99_999_999:
        raise Conflict("the sequence for this model, plant and month is exhausted",
                       code="sequence_exhausted")
    counter.last_sequence = last
    session.flush()

    # The level digit is the evaluated overall level the approval rested on; 0 = not graded.
    prefix = (f"{country}{model.company_code}{model.model_code}{yymm}{plant}"
              f"{_level_digit(model)}{model.hardware_class}")
    codes = idcode.build_many(prefix, range(first, last + 1))
    now = issued_at or utcnow()
    month_text = f"{year:04d}-{month:02d}"
    stamp = db_timestamp(session, now)
    maker = model.manufacturer_id
    version = int(model.version or 1)
    # Status-list positions (SPEC §16), fixed here for good: one counter advance per batch.
    first_index = registry_service.reserve_status_indexes(session, len(codes))
    bulk_insert(session, "units", UNIT_INSERT_COLUMNS, [
        (code, model.id, maker, month_text, plant, "coded", False, maker, stamp, 0, 0, False,
         version, first_index + i)
        for i, code in enumerate(codes)])
    at = rfc3339(now)
    dumps = orjson.dumps
    # Issuance records hold registry-made strings only, so orjson in sorted key order is JCS.
    ledger_service.append(session, [
        ledger_service.LeafInput(
            kind="code", code=code, type="issued", at=at, id=code,
            record=dumps({"code": code, "issued_at": at, "manufacturer_id": maker,
                          "model_id": model.id, "plant": plant,
                          "production_month": month_text}))
        for code in codes
    ])
    unit_counts.add(session, {unit_counts.key("coded", maker, None, None, month_text,
                                              unit_counts.month(now)): len(codes)})
    return codes


UNIT_INSERT_COLUMNS = ("code", "model_id", "manufacturer_id", "production_month", "plant",
                       "status", "suspended_by_authority", "owner_id", "issued_at",
                       "event_count", "open_recalls", "imported", "model_version",
                       "status_index")


def _level_digit(model: ProductModel) -> int:
    """The evaluated overall level approval rested on; 0 ("not graded") for models approved
    before evaluations existed (docs/filings.md)."""
    return model.evaluated_level or 0


def _check_may_receive_codes(session: Session, model: ProductModel) -> None:
    """Only approved models of an active manufacturer receive codes (SPEC §3, §13)."""
    if model.status in ("suspended", "revoked"):
        raise Conflict(f"model {model.model_code} is {model.status}; it receives no codes",
                       code=f"model_{model.status}", field="model_id",
                       model_status=model.status)
    if model.status != "approved":
        raise Conflict(f"model {model.model_code} is {model.status}; only approved models "
                       "receive codes", code="model_not_approved", field="model_id",
                       model_status=model.status)
    maker = session.get(Organization, model.manufacturer_id)
    if maker is not None and maker.status != "approved":
        raise Conflict(f"the manufacturer {maker.name} is {maker.status}; its models receive "
                       "no codes", code=f"organization_{maker.status}", field="model_id")


def issuance_record(*, code: str, model_id: str, manufacturer_id: str, production_month: str,
                    plant: str, at: str | None) -> dict[str, object]:
    """The full stored record of an issued code; its digest is in the ledger leaf."""
    return {"code": code, "model_id": model_id, "manufacturer_id": manufacturer_id,
            "production_month": production_month, "plant": plant, "issued_at": at}


def get_unit(session: Session, code: str) -> Unit | None:
    return session.get(Unit, code)


def normalise_code(code: str) -> str:
    """Validate and compact a code; raises InvalidInput naming the position."""
    try:
        return idcode.validate(code)
    except idcode.InvalidCode as exc:
        raise InvalidInput(str(exc.message), field="code", code=exc.code,
                           position=exc.position) from exc


def get_unit_or_raise(session: Session, code: str) -> Unit:
    compact = normalise_code(code)
    unit = session.get(Unit, compact)
    if unit is None:
        raise NotFound(f"no robot with code {compact} is registered", code="unit_not_found")
    return unit


def list_units(session: Session, *, actor: Actor, model_id: str | None = None,
               status: str | None = None, limit: int = 100, offset: int = 0) -> list[Unit]:
    query = select(Unit).order_by(Unit.code)
    if model_id:
        query = query.where(Unit.model_id == model_id)
    if status:
        query = query.where(Unit.status == status)
    if not actor.is_national_regulator:
        if actor.is_regulator:
            query = query.where(gate.unit_filter(actor))
        else:
            query = query.where((Unit.manufacturer_id == actor.id) | (Unit.owner_id == actor.id)
                                | (Unit.operator_id == actor.id))
    return list(session.scalars(query.limit(limit).offset(offset)))
