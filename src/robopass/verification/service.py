"""Public verification (SPEC §8, §9): genuine or not, and why — for any input.

The hot path (``GET /api/v1/verify/{code}``, ``GET /r/{code}``) is one indexed lookup by code
joined to the model and manufacturer rows by primary key, read as plain tuples (no ORM object
graph); recalls are read only for units whose ``open_recalls`` counter is non-zero. A code of
another country's registry is resolved through that peer when one is configured (federation).

Everything returned here is public tier: no owner, operator, location or commercial detail.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from robopass import idcode
from robopass.db import Base
from robopass.lifecycle.models import Event
from robopass.organizations.models import Organization
from robopass.product_models.models import ModelEvaluation, ProductModel
from robopass.registry import service as registry_service
from robopass.robots.models import Unit
from robopass.timeutil import rfc3339

#: Events that hand the robot to a new end owner (a buyer); shipping to a seller does not.
OWNER_CHANGES = ("sold", "transferred")
#: Battery state-of-health bands shown to buyers (SoH in %, lower bound inclusive).
BATTERY_BANDS = ((80.0, "good"), (70.0, "fair"), (0.0, "poor"))

_LOOKUP = (
    select(Unit.status, ProductModel.name, ProductModel.model_code, ProductModel.status,
           Organization.name, Organization.company_code, Organization.country,
           Unit.open_recalls, Unit.production_month, Unit.imported_from,
           ProductModel.evaluated_level, ModelEvaluation.lab_name, ModelEvaluation.evaluated_at,
           Unit.scenario, Unit.exported_to)
    .join(ProductModel, ProductModel.id == Unit.model_id)
    .join(Organization, Organization.id == Unit.manufacturer_id)
    .outerjoin(ModelEvaluation, ModelEvaluation.id == ProductModel.evaluation_id))
#: Columns of _LOOKUP (and _FAST_SQL) that _registered reads.
_FACTS = 15


def open_recalls(session: Session, code: str) -> list[dict[str, Any]]:
    """The unit's open recalls, public fields only (empty until the recalls domain exists)."""
    try:
        from robopass.recalls import service as recall_service
    except ImportError:
        return []
    fn = getattr(recall_service, "open_recalls_public", None)
    return list(fn(session, code)) if fn else []


def _blank(raw: str) -> dict[str, Any]:
    return {"code": raw, "format_valid": False, "registered": False, "status": None,
            "model": None, "manufacturer": None, "open_recalls": []}


def suggest_correction(session: Session, code: str) -> str | None:
    """For a code whose check character fails: the one registered code that differs from it in a
    single character (a typo the check character caught), else None."""
    alphabet = idcode.ALPHABET
    candidates: set[str] = set()
    body = code[:28]
    for pos in range(28):
        for ch in alphabet:
            if ch == body[pos]:
                continue
            trial = body[:pos] + ch + body[pos + 1:]
            if idcode.is_valid(trial + code[28]):
                candidates.add(trial + code[28])
    try:
        candidates.add(idcode.with_check(body))
    except idcode.InvalidCode:
        pass
    found: list[str] = []
    pool = sorted(candidates)
    for start in range(0, len(pool), 500):
        found += session.scalars(select(Unit.code).where(Unit.code.in_(pool[start:start + 500])))
    return found[0] if len(found) == 1 else None


_FAST_SQL = ("SELECT u.status, m.name, m.model_code, m.status, o.name, o.company_code, "
             "o.country, u.open_recalls, u.production_month, u.imported_from, "
             "m.evaluated_level, e.lab_name, e.evaluated_at, u.scenario, u.exported_to "
             "FROM units u "
             "JOIN product_models m ON m.id = u.model_id "
             "JOIN organizations o ON o.id = u.manufacturer_id "
             "LEFT OUTER JOIN model_evaluations e ON e.id = m.evaluation_id WHERE u.code = ")
_own_country: dict[str, str] = {}


def _fetchone(connection: Any, dialect: str, sql: str, params: tuple[Any, ...]
              ) -> tuple[Any, ...] | None:
    cursor = connection.cursor()
    cursor.execute(sql, params)
    row = cursor.fetchone()
    cursor.close()
    if dialect != "sqlite":
        connection.rollback()  # end the read transaction psycopg began
    return None if row is None else tuple(row)


class PinnedReader:
    """One pooled DBAPI connection kept checked out by a server process for the public hot path
    (used from the event loop's thread only, one statement at a time): a pool checkout and
    return per request would cost more than the statement. A connection that fails is
    invalidated and replaced on the next request; a new engine for the URL (after
    ``dispose_engine``) gets a new connection."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None
        self._connection: Any = None
        self._thread: int | None = None

    def fetchone(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """One row; a connection that fails (a database restart, a dropped socket) is
        invalidated and the read retried once on a new one (it is a plain SELECT). Called
        from another thread than the first caller's, it uses a pooled connection instead."""
        from robopass.db import get_engine

        engine = get_engine(self.url)
        me = threading.get_ident()
        if self._thread is None:
            self._thread = me
        elif self._thread != me:
            connection = engine.raw_connection()
            try:
                return _fetchone(connection, engine.dialect.name, sql, params)
            finally:
                connection.close()
        for attempt in (1, 2):
            if engine is not self._engine or self._connection is None:
                self.close()
                self._engine, self._connection = engine, engine.raw_connection()
            try:
                return _fetchone(self._connection, engine.dialect.name, sql, params)
            except Exception:
                connection, self._connection = self._connection, None
                connection.invalidate()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


def lookup(engine: Engine, code: str, reader: PinnedReader | None = None
           ) -> tuple[Any, ...] | None:
    """The public facts of a unit by primary key, straight from a DBAPI connection: no
    Session, no ORM compilation (the verify hot path; about a tenth of the ORM's cost)."""
    marker = "?" if engine.dialect.name == "sqlite" else "%s"
    if reader is not None:
        return reader.fetchone(_FAST_SQL + marker, (code,))
    raw = engine.raw_connection()
    try:
        return _fetchone(raw, engine.dialect.name, _FAST_SQL + marker, (code,))
    finally:
        raw.close()


def load_own_country(url: str) -> bool:
    """Read the registry's own country (a worker's start-up), so the fast paths answer from
    the first request instead of sending it to the full path; False when the database is not
    initialised or not reachable yet (the first full-path request reads it then)."""
    from sqlalchemy.exc import SQLAlchemyError

    from robopass.db import reading
    from robopass.errors import RobopassError

    try:
        with reading(url) as session:
            _own_country[url] = registry_service.country(session)
    except (SQLAlchemyError, RobopassError):
        return False
    return True


def _fast_code(url: str, raw: str) -> tuple[str, str] | None:
    """(registry country, compact code) when the fast paths may answer, else None."""
    own = _own_country.get(url)
    if own is None:
        return None
    try:
        return own, idcode.validate(raw)
    except idcode.InvalidCode:
        return None


def answer_fast(url: str, raw: str, *, reader: PinnedReader | None = None
                ) -> dict[str, Any] | None:
    """The answer for a valid code of a registered unit without open recalls, from one indexed
    lookup (cheap enough for the event loop); None when the full path is needed."""
    from robopass.db import get_engine

    known = _fast_code(url, raw)
    if known is None:
        return None
    own, code = known
    row = lookup(get_engine(url), code, reader)
    if row is None or row[7]:
        return None
    return _registered(code, row, own, [])


def verify_fast(url: str, raw: str, *, federate: bool = True) -> dict[str, Any]:
    """:func:`verify` for a server: a registered unit without open recalls is answered from
    one indexed lookup; everything else (bad input, unknown or foreign codes, recalls) takes
    the full path with a read session."""
    from robopass.db import reading

    fast = answer_fast(url, raw)
    if fast is not None:
        return fast
    with reading(url) as session:
        _own_country[url] = registry_service.country(session)
        return verify(session, raw, federate=federate)


def _registered(code: str, row: tuple[Any, ...], own: str,
                recalls: list[dict[str, Any]]) -> dict[str, Any]:
    (status, model_name, model_code, model_status, maker, company, country, n_recalls, month,
     imported_from, level, lab, evaluated_at, scenario, exported_to) = row
    # The evaluation the model's approval rested on (SPEC §13): level, lab and date; None
    # for models approved before evaluations existed.
    evaluation = None if lab is None else {
        "level": level, "lab": lab, "evaluated_on": str(evaluated_at)[:10]}
    result: dict[str, Any] = {
        "code": code, "format_valid": True, "registered": True, "status": status,
        "model": {"name": model_name, "model_code": model_code, "status": model_status,
                  "evaluation": evaluation},
        "manufacturer": {"name": maker, "company_code": company, "country": country},
        "open_recalls": recalls, "production_month": month, "registry": own,
        # The scenario the robot is deployed for under the scenario policies (SPEC §14):
        # public, like the status; never the operator or the place.
        "scenario": scenario}
    if imported_from:
        result["imported_from"] = imported_from
    if exported_to:  # SPEC §16: the robot lives in that registry now
        result["exported_to"] = exported_to
        result["lives_in"] = exported_to
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


def verify(session: Session, raw: str, *, federate: bool = True) -> dict[str, Any]:
    """Always returns ``{code, format_valid, registered, status, model, manufacturer,
    open_recalls, reason?}`` plus ``registry`` (who answered); never raises for bad input.

    ``reason_code`` is one of the ``idcode`` error codes, ``foreign_code``, ``unknown_peer``,
    ``peer_unreachable``, ``passport_invalid``, ``not_registered``, ``model_suspended``,
    ``model_revoked``, ``unit_recycled``, ``unit_scrapped``, ``open_recall``."""
    result = _blank(raw[:100] if isinstance(raw, str) else raw)
    try:
        code = idcode.validate(raw)
    except idcode.InvalidCode as exc:
        result.update(reason=exc.message, reason_code=exc.code, position=exc.position)
        if exc.code == "invalid_checksum":
            suggestion = suggest_correction(session, idcode.compact(raw))
            if suggestion:
                result["suggestion"] = suggestion
        return result
    result.update(code=code, format_valid=True)
    own = registry_service.country(session)
    row = session.execute(_LOOKUP.where(Unit.code == code)).first()
    if row is None:
        if code[:2] != own:
            if federate:
                from robopass.federation import service as federation_service

                return federation_service.verify_remote(session, code)
            result.update(reason=f"this code was issued by the {code[:2]} registry, not this "
                          f"one ({own})", reason_code="foreign_code", registry=own)
        else:
            result.update(reason="the code is well-formed but no robot with it is registered: "
                          "it may be forged", reason_code="not_registered", registry=own)
        return result
    return _registered(code, tuple(row), own,
                       open_recalls(session, code) if row[7] else [])


def event_summaries(session: Session, code: str) -> list[dict[str, Any]]:
    """Public event summaries ``{at, corrected, ledger_index, type}`` in recording order (the
    input of the passport's ``history_digest``; see ``passports.verify``)."""
    rows = session.execute(select(Event.type, Event.at, Event.ledger_index, Event.corrected)
                           .where(Event.code == code).order_by(Event.seq))
    return [{"at": rfc3339(at), "corrected": bool(corrected), "ledger_index": int(index),
             "type": type_} for type_, at, index, corrected in rows]


def _summary_statement(code: Any = None) -> Any:
    """One statement of scalar subqueries: owner changes, completed maintenance, incidents and
    the latest battery SoH (the incidents and telemetry tables join in when those domains are
    installed)."""
    from sqlalchemy import bindparam, literal

    code = bindparam("code") if code is None else code
    live = (Event.code == code) & Event.corrected.is_(False)
    columns: list[Any] = [
        select(func.count()).where(live, Event.type.in_(OWNER_CHANGES)).scalar_subquery(),
        select(func.count()).where(live, Event.type == "maintenance_completed")
        .scalar_subquery()]
    incidents = Base.metadata.tables.get("incidents")
    columns.append(select(func.count()).select_from(incidents).where(incidents.c.code == code)
                   .scalar_subquery() if incidents is not None and "code" in incidents.c
                   else literal(0))
    snapshot = Base.metadata.tables.get("telemetry_units")
    columns.append(select(snapshot.c.battery_soh).where(snapshot.c.code == code)
                   .scalar_subquery() if snapshot is not None and "battery_soh" in snapshot.c
                   else literal(None))
    return select(*columns)


_SUMMARY: list[Any] = []


def battery_band(soh: float | None) -> str:
    """``good`` (≥ 80 %), ``fair`` (70–80 %), ``poor`` (< 70 %, the health alert threshold) or
    ``unknown`` — a band, never the exact reading."""
    if soh is None:
        return "unknown"
    for floor, band in BATTERY_BANDS:
        if soh >= floor:
            return band
    return "poor"


def buyer_summary(session_or_engine: Session | Engine, code: str,
                  production_month: str | None, *, imported: bool = False) -> dict[str, Any]:
    """What a buyer of a used robot may see: production month, number of owners (buyers, i.e.
    non-corrected ``sold``/``transferred`` events), maintenance count (completed maintenance),
    incidents, battery health band. Nothing names anyone. One statement.

    For a robot ``imported`` from a peer, the counts of its life abroad (the summary in the
    verified passport kept at import) are added, and its battery band is used until the robot
    reports here."""
    if not _SUMMARY:
        import robopass.models  # noqa: F401  (every domain's tables into the metadata)

        _SUMMARY.append(_summary_statement())
    params = {"code": code}
    abroad: dict[str, Any] = {}
    if isinstance(session_or_engine, Session):
        row = session_or_engine.execute(_SUMMARY[0], params).one()
        if imported:
            abroad = _summary_abroad(session_or_engine, code)
    else:
        with session_or_engine.connect() as conn:
            row = conn.execute(_SUMMARY[0], params).one()
            if imported:
                abroad = _summary_abroad(conn, code)
    owners, maintenance, incidents, soh = row

    def count(value: Any, key: str) -> int:
        extra = abroad.get(key)
        return int(value or 0) + (extra if type(extra) is int and extra >= 0 else 0)

    band = battery_band(None if soh is None else float(soh))
    if band == "unknown" and abroad.get("battery_health") in ("good", "fair", "poor"):
        band = abroad["battery_health"]
    return {
        "production_month": production_month,
        "owners": count(owners, "owners"),
        "maintenance_count": count(maintenance, "maintenance_count"),
        "incidents": count(incidents, "incidents"),
        "battery_health": band,
    }


def _summary_abroad(conn: Any, code: str) -> dict[str, Any]:
    table = Base.metadata.tables.get("imported_robots")
    if table is None:
        return {}
    claims = conn.execute(select(table.c.claims).where(table.c.code == code)).scalar()
    summary = claims.get("summary") if isinstance(claims, dict) else None
    return summary if isinstance(summary, dict) else {}


#: A string no code can be (codes are 29 letters and digits): stands for the code parameter
#: while the page statement is compiled with literal values, then becomes the placeholder.
_CODE_SENTINEL = "robopass-code-parameter"
_PAGE_SQL: dict[str, tuple[str, int]] = {}


def _page_sql(engine: Engine) -> tuple[str, int]:
    """The public facts and the buyer summary of one unit as a single SQL string for the
    engine's DBAPI (compiled once per dialect), and how many times the code is bound."""
    key = engine.dialect.name
    if key not in _PAGE_SQL:
        from sqlalchemy import literal

        import robopass.models  # noqa: F401  (every domain's tables into the metadata)

        code = literal(_CODE_SENTINEL)
        statement = _LOOKUP.add_columns(*_summary_statement(code).selected_columns) \
            .where(Unit.code == code)
        sql = str(statement.compile(dialect=engine.dialect,
                                    compile_kwargs={"literal_binds": True}))
        quoted = f"'{_CODE_SENTINEL}'"
        marker = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        _PAGE_SQL[key] = (sql.replace(quoted, marker), sql.count(quoted))
    return _PAGE_SQL[key]


def page_fast(url: str, raw: str, *, reader: PinnedReader | None = None
              ) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """What ``/r/{code}`` shows for a valid code of a registered unit without open recalls and
    not imported: exactly :func:`verify_fast`'s answer and :func:`buyer_summary`, from one
    statement on a DBAPI connection (no Session, no ORM; cheap enough for the event loop).
    None when the full path is needed (bad input, unknown or foreign code, recalls, imported
    robots, or before the registry's country is known)."""
    from robopass.db import get_engine

    known = _fast_code(url, raw)
    if known is None:
        return None
    own, code = known
    engine = get_engine(url)
    sql, binds = _page_sql(engine)
    if reader is not None:
        row = reader.fetchone(sql, (code,) * binds)
    else:
        connection = engine.raw_connection()
        try:
            row = _fetchone(connection, engine.dialect.name, sql, (code,) * binds)
        finally:
            connection.close()
    if row is None or row[7] or row[9] or row[14]:  # unknown, open recalls, imported, exported
        return None
    owners, maintenance, incidents, soh = row[_FACTS:]
    return _registered(code, row[:_FACTS], own, []), {
        "production_month": row[8],
        "owners": int(owners or 0),
        "maintenance_count": int(maintenance or 0),
        "incidents": int(incidents or 0),
        "battery_health": battery_band(None if soh is None else float(soh)),
    }
