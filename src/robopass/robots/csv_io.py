"""CSV import and export of units (``robopass import units`` / ``robopass export units``).

Import brings units of an existing register into robopass: each row names a code already issued
under this registry's scheme (for example by a legacy system during migration). Rows are checked
one by one and every problem is reported with its line number; nothing is written if any row is
bad, unless the caller skips bad rows. Imported units start ``coded``, are ledgered like issued
codes, and advance the issuance counters so new codes never collide with them.

CSV columns for import: ``code`` (required), ``province``, ``city``, ``firmware`` (optional).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from robopass import gate, idcode, regions
from robopass.auth.service import Actor
from robopass.db import bulk_insert, db_timestamp
from robopass.ledger import service as ledger_service
from robopass.organizations.models import Organization
from robopass.product_models.models import ProductModel
from robopass.registry import service as registry_service
from robopass.robots.models import CodeCounter, Unit
from robopass.robots.service import UNIT_INSERT_COLUMNS
from robopass.stats import counts as unit_counts
from robopass.timeutil import rfc3339, utcnow

IMPORT_COLUMNS = ("code", "province", "city", "firmware")
EXPORT_COLUMNS = ("code", "display", "company_code", "model_code", "model_name", "manufacturer",
                  "status", "production_month", "plant", "province", "city", "firmware",
                  "owner_id", "operator_id", "open_recalls", "issued_at")


@dataclass
class RowError:
    line: int
    field: str
    message: str


@dataclass
class ImportReport:
    imported: int = 0
    errors: list[RowError] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)


@dataclass
class _Row:
    line: int
    code: str
    parts: idcode.IdCode
    model: ProductModel
    province: str | None
    city: str | None
    firmware: str | None


def read_rows(stream: IO[str]) -> tuple[list[tuple[int, dict[str, str]]], list[RowError]]:
    """Parse the CSV; line numbers count the header as line 1."""
    reader = csv.DictReader(stream)
    header = reader.fieldnames or []
    if "code" not in header:
        return [], [RowError(1, "header", "the CSV needs a 'code' column (columns: "
                                          f"{', '.join(IMPORT_COLUMNS)})")]
    unknown = [h for h in header if h not in IMPORT_COLUMNS]
    errors = [RowError(1, "header", f"unknown column {h!r}") for h in unknown]
    rows = [(reader.line_num, {k: (v or "").strip() for k, v in row.items() if k})
            for row in reader]
    return rows, errors


def import_units(session: Session, rows: Iterable[tuple[int, dict[str, str]]], *,
                 skip_bad: bool = False) -> ImportReport:
    """Check every row, then import all of them (or, with ``skip_bad``, the good ones)."""
    report = ImportReport()
    country = registry_service.country(session)
    models = {(m.company_code, m.model_code): m
              for m in session.scalars(select(ProductModel))}
    good: list[_Row] = []
    seen: dict[str, int] = {}
    for line, raw in rows:
        try:
            code = idcode.validate(raw.get("code", ""))
            parts = idcode.parse(code)
        except idcode.InvalidCode as exc:
            report.errors.append(RowError(line, "code", exc.message))
            continue
        problems: list[RowError] = []
        model = models.get((parts.company, parts.model))
        if parts.country != country:
            problems.append(RowError(line, "code", f"country {parts.country} is not this "
                                                   f"registry's ({country})"))
        elif model is None:
            problems.append(RowError(line, "code", f"no product model {parts.model} of company "
                                                   f"{parts.company} is filed"))
        elif model.status != "approved":
            problems.append(RowError(line, "code", f"model {parts.model} is {model.status}"))
        elif model.hardware_class != parts.hardware_class or parts.intelligence_level not in (
                model.intelligence_level, model.evaluated_level or 0):
            problems.append(RowError(line, "code", "hardware class / intelligence level do not "
                                                   f"match model {parts.model}"))
        if code in seen:
            problems.append(RowError(line, "code", f"duplicate of line {seen[code]}"))
        where = regions.location_problem(raw.get("province") or None, raw.get("city") or None)
        if where is not None:
            problems.append(RowError(line, *where))
        firmware = raw.get("firmware") or None
        if firmware and len(firmware) > 64:
            problems.append(RowError(line, "firmware", "at most 64 characters"))
        seen.setdefault(code, line)
        if problems:
            report.errors.extend(problems)
            continue
        assert model is not None
        good.append(_Row(line, code, parts, model, raw.get("province") or None,
                         raw.get("city") or None, firmware))
    existing = set()
    codes = [r.code for r in good]
    for start in range(0, len(codes), 900):
        existing |= set(session.scalars(select(Unit.code).where(
            Unit.code.in_(codes[start:start + 900]))))
    for r in good:
        if r.code in existing:
            report.errors.append(RowError(r.line, "code", "already registered"))
    good = [r for r in good if r.code not in existing]
    report.errors.sort(key=lambda e: e.line)
    if report.errors and not skip_bad:
        return report
    _write(session, good)
    report.imported = len(good)
    report.codes = [r.code for r in good]
    return report


def _write(session: Session, rows: list[_Row]) -> None:
    if not rows:
        return
    now = utcnow()
    stamp, at = db_timestamp(session, now), rfc3339(now)
    units = []
    # status-list positions (SPEC §16), fixed here as at issuance
    first_index = registry_service.reserve_status_indexes(session, len(rows))
    for i, r in enumerate(rows):
        month = f"{r.parts.production_year:04d}-{r.parts.production_month:02d}"
        units.append((r.code, r.model.id, r.model.manufacturer_id, month, r.parts.plant, "coded",
                      False, r.model.manufacturer_id, stamp, 0, 0, False,
                      int(r.model.version or 1), first_index + i))
    bulk_insert(session, "units", UNIT_INSERT_COLUMNS, units)
    for r in rows:
        if r.province or r.city or r.firmware:
            unit = session.get(Unit, r.code)
            assert unit is not None
            unit.province, unit.city, unit.firmware = r.province, r.city, r.firmware
    counters: dict[tuple[str, str, str, str], int] = {}
    for r in rows:
        key = (r.parts.company, r.parts.model, r.parts.plant,
               f"{r.parts.production_year % 100:02d}{r.parts.production_month:02d}")
        counters[key] = max(counters.get(key, 0), r.parts.sequence)
    for key, top in counters.items():
        counter = session.get(CodeCounter, key, with_for_update=True)
        if counter is None:
            session.add(CodeCounter(company_code=key[0], model_code=key[1], plant=key[2],
                                    month=key[3], last_sequence=top))
        elif counter.last_sequence < top:
            counter.last_sequence = top
    session.flush()
    ledger_service.append(session, [
        ledger_service.LeafInput(kind="code", code=u[0], type="issued", at=at, id=u[0],
                                 record=orjson.dumps({"code": u[0], "issued_at": at,
                                                      "manufacturer_id": u[2],
                                                      "model_id": u[1], "plant": u[4],
                                                      "production_month": u[3]}))
        for u in units])
    unit_counts.add_new(session, ((u[2], r.province, u[3]) for u, r in zip(units, rows,
                                                                          strict=True)),
                        issued_at=now)


def export_units(session: Session, *, actor: Actor, model_id: str | None = None,
                 status: str | None = None, batch: int = 5000) -> Iterator[dict[str, Any]]:
    """Every unit the regulator ``actor`` may see (optionally of one model or status) as a CSV
    row dict, in code order; the export is audit-logged through the gate."""
    gate.require_regulator(actor)
    gate.record_read(session, actor=actor, action="export_units", subject="*",
                     tier="authority", path="cli:export units")
    makers = dict(session.execute(select(Organization.id, Organization.name)).all())
    models = {m.id: m for m in session.scalars(select(ProductModel))}
    last = ""
    while True:
        query = (select(Unit).where(Unit.code > last, gate.unit_filter(actor))
                 .order_by(Unit.code).limit(batch))
        if model_id:
            query = query.where(Unit.model_id == model_id)
        if status:
            query = query.where(Unit.status == status)
        units = list(session.scalars(query))
        if not units:
            return
        for u in units:
            model = models[u.model_id]
            yield {"code": u.code, "display": idcode.format(u.code),
                   "company_code": model.company_code, "model_code": model.model_code,
                   "model_name": model.name, "manufacturer": makers.get(u.manufacturer_id),
                   "status": u.status, "production_month": u.production_month,
                   "plant": u.plant, "province": u.province or "", "city": u.city or "",
                   "firmware": u.firmware or "", "owner_id": u.owner_id or "",
                   "operator_id": u.operator_id or "", "open_recalls": u.open_recalls,
                   "issued_at": rfc3339(u.issued_at)}
        last = units[-1].code
        session.expunge_all()
