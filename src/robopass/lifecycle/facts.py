"""Loading, in bulk, the facts the pure plan step judges a batch of events by.

One query per kind of fact, however long the batch: the units' stored states (at driver
level: the batch path's first step), the organisations named, the recorder's service grants,
the units' product models, the events corrections name, and — only when the batch deploys —
the policies and pilots in force.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from robopass.lifecycle import rules
from robopass.lifecycle.models import Event
from robopass.lifecycle.plan import (
    BatchFacts,
    CorrectedEvent,
    EventRequest,
    PilotFacts,
    PolicyVersion,
    Recorder,
    UnitRecord,
)
from robopass.lifecycle.policy_rules import GRADE_DIMENSIONS, ModelFacts
from robopass.organizations.models import Organization, ServiceAuthorization
from robopass.timeutil import as_utc

_STATE_COLUMNS = ("code", "status", "manufacturer_id", "owner_id", "operator_id",
                  "status_before_suspension", "suspended_by_authority", "recycler_id",
                  "firmware", "open_recalls", "province", "city", "last_event_at",
                  "production_month", "event_count", "issued_at", "model_id", "scenario",
                  "pilot_id", "policy_version", "exported_to")
_UnitRow = namedtuple("_UnitRow", _STATE_COLUMNS)  # type: ignore[misc]


def _utc(value: Any) -> datetime | None:
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return None if value is None else as_utc(value)


def _month_start(production_month: str) -> datetime:
    year, month = production_month.split("-")
    return datetime(int(year), int(month), 1, tzinfo=UTC)


def load_units(session: Session, codes: list[str]) -> dict[str, UnitRecord]:
    """The stored state of many units, read at driver level."""
    conn = session.connection()
    raw: Any = conn.connection.dbapi_connection
    cols = ", ".join(_STATE_COLUMNS)
    cur = raw.cursor()
    try:
        if conn.dialect.name == "postgresql":
            cur.execute(f"SELECT {cols} FROM units WHERE code = ANY(%s)", (codes,))
            fetched = cur.fetchall()
        else:
            fetched = []
            for start in range(0, len(codes), 900):
                chunk = codes[start:start + 900]
                cur.execute(f"SELECT {cols} FROM units WHERE code IN "
                            f"({','.join('?' * len(chunk))})", chunk)
                fetched += cur.fetchall()
    finally:
        cur.close()
    out: dict[str, UnitRecord] = {}
    for values in fetched:
        row: Any = _UnitRow(*values)
        state = rules.UnitState(
            status=row.status, manufacturer_id=row.manufacturer_id, owner_id=row.owner_id,
            operator_id=row.operator_id, status_before_suspension=row.status_before_suspension,
            suspended_by_authority=bool(row.suspended_by_authority),
            recycler_id=row.recycler_id, firmware=row.firmware,
            open_recalls=int(row.open_recalls or 0), province=row.province, city=row.city,
            scenario=row.scenario, pilot_id=row.pilot_id, policy_version=row.policy_version)
        issued = _utc(row.issued_at)
        assert issued is not None
        out[row.code] = UnitRecord(state=state, model_id=row.model_id,
                                   last_at=_utc(row.last_event_at), issued_at=issued,
                                   month_start=_month_start(row.production_month),
                                   seq=row.event_count, exported_to=row.exported_to)
    return out


def org_roles(session: Session, ids: Iterable[str]) -> dict[str, frozenset[str]]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return {org_id: frozenset(roles) for org_id, roles in session.execute(
        select(Organization.id, Organization.roles).where(Organization.id.in_(wanted)))}


def provider_grants(session: Session, recorder: Recorder) -> dict[str, set[str]]:
    """code (or ``*`` for all units) → organisations that authorised this provider."""
    if "service_provider" not in recorder.roles:
        return {}
    grants: dict[str, set[str]] = {}
    for code, granted_by in session.execute(
            select(ServiceAuthorization.code, ServiceAuthorization.granted_by_id).where(
                ServiceAuthorization.provider_id == recorder.id,
                ServiceAuthorization.revoked_at.is_(None))):
        grants.setdefault(code or "*", set()).add(granted_by)
    return grants


def model_facts(session: Session, model_ids: Iterable[str]) -> dict[str, ModelFacts]:
    """What policies and model-status rules need of each product model: its status, class,
    the current evaluation of its approved version (level, grades, dates) and its
    certifications — those named on the filing (a name, or ``{name, valid_until}``) and the
    standards whose safety tests the current evaluation passed (valid while it is)."""
    from robopass.product_models.models import ModelEvaluation, ModelVersion, ProductModel

    wanted = set(model_ids)
    if not wanted:
        return {}
    models = {m.id: m for m in session.scalars(
        select(ProductModel).where(ProductModel.id.in_(wanted)))}
    latest: dict[str, ModelEvaluation] = {}
    for ev in session.scalars(select(ModelEvaluation).where(
            ModelEvaluation.model_id.in_(wanted)).order_by(ModelEvaluation.evaluated_at,
                                                           ModelEvaluation.id)):
        if ev.model_version == int(models[ev.model_id].version or 1):
            latest[ev.model_id] = ev  # ordered by time: the last one wins
    builds: dict[str, frozenset[str]] = {}
    for mid, version, software in session.execute(
            select(ModelVersion.model_id, ModelVersion.version, ModelVersion.software)
            .where(ModelVersion.model_id.in_(wanted))):
        if version == int(models[mid].version or 1):
            builds[mid] = _build_names(software)
    return {mid: _model_facts(m, latest.get(mid), builds.get(mid, _build_names(m.software)))
            for mid, m in models.items()}


def _build_names(software: Any) -> frozenset[str]:
    from robopass.product_models.builds import build_versions

    return frozenset(str(b["version"]).strip() for b in build_versions(software))


def _end_of(day: date) -> datetime:
    return datetime.combine(day, time.max, tzinfo=UTC)


def _model_facts(m: Any, ev: Any, builds: frozenset[str]) -> ModelFacts:
    certs: dict[str, datetime | None] = {}
    for c in m.certifications or []:
        if isinstance(c, str):
            certs[c] = None
        elif isinstance(c, dict) and isinstance(c.get("name"), str):
            until = c.get("valid_until")
            certs[c["name"]] = _end_of(date.fromisoformat(until)) if isinstance(until, str) \
                else None
    if ev is None:
        level = m.evaluated_level if m.evaluated_level is not None else 0
        return ModelFacts(id=m.id, status=m.status, hardware_class=m.hardware_class,
                          level=int(level), certifications=certs, builds=builds)
    passed = frozenset(str(t["standard"]) for t in ev.safety_tests or []
                       if isinstance(t, dict) and t.get("result") == "pass" and t.get("standard"))
    return ModelFacts(id=m.id, status=m.status, hardware_class=m.hardware_class,
                      level=int(ev.overall), grades={d: int(getattr(ev, d)) for d in
                                                     GRADE_DIMENSIONS},
                      evaluated_at=as_utc(ev.evaluated_at),
                      evaluation_valid_until=_end_of(ev.valid_until), certifications=certs,
                      evaluation_standards=passed, builds=builds)


def current_policies(session: Session) -> dict[tuple[str, str | None], PolicyVersion]:
    """The version in force of every (scenario, province) policy."""
    from robopass.policies import service as policy_service

    return {(p.scenario, p.province or None): PolicyVersion(
        scenario=p.scenario, province=p.province or None, version=p.version, rules=p.rules)
        for p in policy_service.current_versions(session)}


def pilots(session: Session) -> list[PilotFacts]:
    from robopass.pilots.models import Pilot

    return [PilotFacts(id=p.id, scenario=p.scenario, provinces=frozenset(p.provinces),
                       starts=p.starts, ends=p.ends, ended_at=p.ended_at,
                       participants=frozenset(p.participants), rules=p.rules)
            for p in session.scalars(select(Pilot).order_by(Pilot.created_at))]


def batch_facts(session: Session, *, recorder: Recorder, requests: Sequence[EventRequest],
                codes: list[str], now: datetime) -> BatchFacts:
    units = load_units(session, codes)
    deploys = any(r.type == "deployed" for r in requests)
    org_ids = {r.to_organization for r in requests if r.to_organization}
    if deploys:  # the operator of a deployment without to_organization is its owner
        org_ids |= {u.state.owner_id for u in units.values() if u.state.owner_id}
    corrects = {str(r.details.get("corrects")) for r in requests
                if r.type == "correction" and isinstance(r.details, dict)
                and isinstance(r.details.get("corrects"), str)}
    facts = BatchFacts(now=now, units=units, org_roles=org_roles(session, org_ids),  # type: ignore[arg-type]
                       provider_grants=provider_grants(session, recorder),
                       models=model_facts(session, {u.model_id for u in units.values()}))
    if corrects:
        facts.corrected = {e.id: CorrectedEvent(id=e.id, code=e.code, type=e.type,
                                                organization_id=e.organization_id,
                                                corrected=bool(e.corrected))
                           for e in session.scalars(select(Event).where(Event.id.in_(corrects)))}
    if deploys:
        facts.policies = current_policies(session)
        facts.pilots = pilots(session)
    return facts
