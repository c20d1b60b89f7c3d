"""Defect signals (SPEC §6), in the manner of NHTSA's Early Warning Reporting.

Observations are (unit, value) pairs within a window: a fault code first reported by the unit
(telemetry's ``new_fault_code`` health alerts) or an incident of a given type. They are
grouped by the unit's **model**, and by the **component batch** and **component supplier** of
the components bound to it. A group raises a "possible common defect" signal when, within
:data:`WINDOW`, the number of distinct units with the same value reaches both
:data:`MIN_UNITS` and :data:`RATE` of the group's population (its manufactured, non-terminal
units). The signal goes to the manufacturers of the units and the regulator, lists the units,
and ``open_recall_from_signal`` turns it into a recall in one step.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, String, cast, func, select
from sqlalchemy.orm import Session

from robopass import gate
from robopass.auth.service import Actor
from robopass.components.models import Component
from robopass.errors import Conflict, Forbidden, InvalidInput, NotFound
from robopass.ids import new_id
from robopass.incidents.models import Incident
from robopass.notifications import service as notification_service
from robopass.recalls import service as recall_service
from robopass.robots.models import TERMINAL_STATUSES, Unit
from robopass.signals.models import DefectSignal
from robopass.timeutil import rfc3339, utcnow

#: Observations count within this window, ending now.
WINDOW = timedelta(days=30)
#: Share of a group's population that must show the same fault code or incident type.
RATE = 0.02
#: And at least this many distinct units (so 1 unit in a group of 20 is no "common" defect).
MIN_UNITS = 3
#: Incident types that count (data breaches and "other" are not hardware defects).
INCIDENT_TYPES = ("safety_accident", "malfunction", "near_miss")
#: Units listed in a signal.
MAX_LISTED = 10_000
GROUP_KINDS = ("model", "component_batch", "component_supplier")


def threshold(population: int) -> int:
    """Distinct units needed in a group of ``population`` units."""
    return max(MIN_UNITS, math.ceil(RATE * population))


def _fault_observations(start: datetime, end: datetime) -> Any:
    try:
        from robopass.telemetry.models import TelemetryAlert
    except ImportError:
        return None
    return (select(TelemetryAlert.code.label("code"), TelemetryAlert.key.label("value"))
            .where(TelemetryAlert.rule == "new_fault_code", TelemetryAlert.since >= start,
                   TelemetryAlert.since <= end))


def _incident_observations(start: datetime, end: datetime,
                           types: tuple[str, ...] = INCIDENT_TYPES) -> Any:
    return (select(Incident.code.label("code"), Incident.type.label("value"))
            .where(Incident.type.in_(types), Incident.at >= start, Incident.at <= end))


def _live_units() -> list[Any]:
    return [Unit.status.not_in(TERMINAL_STATUSES), Unit.status != "coded"]


def _candidates(session: Session, obs: Select[Any]) -> list[tuple[str, str, str | None,
                                                                   str | None, int]]:
    """(group_kind, value, model_or_supplier, batch, distinct units) with >= MIN_UNITS."""
    o = obs.subquery()
    out: list[tuple[str, str, str | None, str | None, int]] = []
    n = func.count(o.c.code.distinct())
    for value, model_id, count in session.execute(
            select(o.c.value, Unit.model_id, n).join(Unit, Unit.code == o.c.code)
            .where(*_live_units()).group_by(o.c.value, Unit.model_id)
            .having(n >= MIN_UNITS)):
        out.append(("model", value, model_id, None, count))
    for value, supplier, batch, count in session.execute(
            select(o.c.value, Component.supplier_id, Component.batch, n)
            .join(Component, Component.unit_code == o.c.code)
            .where(Component.batch.is_not(None))
            .group_by(o.c.value, Component.supplier_id, Component.batch).having(n >= MIN_UNITS)):
        out.append(("component_batch", value, supplier, batch, count))
    for value, supplier, count in session.execute(
            select(o.c.value, Component.supplier_id, n)
            .join(Component, Component.unit_code == o.c.code)
            .group_by(o.c.value, Component.supplier_id).having(n >= MIN_UNITS)):
        out.append(("component_supplier", value, supplier, None, count))
    return out


def _group_units(kind: str, key: str | None, batch: str | None) -> Select[Any]:
    """Codes of the group's live units."""
    if kind == "model":
        return select(Unit.code).where(Unit.model_id == key, *_live_units())
    conds = [Component.supplier_id == key, Component.unit_code.is_not(None)]
    if kind == "component_batch":
        conds.append(Component.batch == batch)
    return (select(Unit.code).where(Unit.code.in_(select(Component.unit_code).where(*conds)),
                                    *_live_units()))


def scan(session: Session, *, now: datetime | None = None,
         kinds: tuple[str, ...] = ("fault_code", "incident"),
         incident_types: tuple[str, ...] = INCIDENT_TYPES) -> list[DefectSignal]:
    """Evaluate the thresholds over the window ending ``now``; raise or update signals.

    Returns the signals raised or updated. Never commits.
    """
    now = now or utcnow()
    start = now - WINDOW
    touched: list[DefectSignal] = []
    sources: list[tuple[str, Select[Any]]] = []
    if "fault_code" in kinds:
        faults = _fault_observations(start, now)
        if faults is not None:
            sources.append(("fault_code", faults))
    if "incident" in kinds and incident_types:
        sources.append(("incident", _incident_observations(start, now, incident_types)))
    for trigger_kind, obs in sources:
        for group_kind, value, key, batch, count in _candidates(session, obs):
            members = _group_units(group_kind, key, batch).subquery()
            population = int(session.scalar(select(func.count()).select_from(members)) or 0)
            if population == 0 or count < threshold(population):
                continue
            o = obs.subquery()
            codes = sorted(session.scalars(
                select(o.c.code).where(o.c.value == value,
                                       o.c.code.in_(select(members.c.code))).distinct()))
            if len(codes) < threshold(population):
                continue
            signal = _upsert(session, group_kind=group_kind, key=key, batch=batch,
                             trigger_kind=trigger_kind, value=value, codes=codes,
                             population=population, start=start, now=now)
            if signal is not None:
                touched.append(signal)
    return touched


def _upsert(session: Session, *, group_kind: str, key: str | None, batch: str | None,
            trigger_kind: str, value: str, codes: list[str], population: int,
            start: datetime, now: datetime) -> DefectSignal | None:
    group_key = f"{key}/{batch}" if group_kind == "component_batch" else str(key)
    latest = session.scalar(
        select(DefectSignal).where(DefectSignal.group_kind == group_kind,
                                   DefectSignal.group_key == group_key,
                                   DefectSignal.trigger_kind == trigger_kind,
                                   DefectSignal.trigger_value == value)
        .order_by(DefectSignal.raised_at.desc()).limit(1))
    rate = round(len(codes) / population, 4)
    makers = sorted(session.scalars(select(Unit.manufacturer_id)
                                    .where(Unit.code.in_(codes[:MAX_LISTED])).distinct()))
    if latest is not None and latest.status == "open":
        if set(codes) <= set(latest.units) and latest.population == population:
            return None
        latest.units, latest.unit_count = codes[:MAX_LISTED], len(codes)
        latest.population, latest.rate = population, rate
        latest.window_start, latest.window_end, latest.updated_at = start, now, now
        latest.manufacturer_ids = makers
        return latest
    if latest is not None and not set(codes) - set(latest.units) \
            and now - latest.raised_at < WINDOW:
        return None  # already recalled or dismissed for these very units
    signal = DefectSignal(
        id=new_id("sig"), group_kind=group_kind, group_key=group_key,
        model_id=key if group_kind == "model" else None,
        supplier_id=key if group_kind != "model" else None, batch=batch,
        trigger_kind=trigger_kind, trigger_value=value, units=codes[:MAX_LISTED],
        unit_count=len(codes), population=population, rate=rate, window_start=start,
        window_end=now, manufacturer_ids=makers, raised_at=now, updated_at=now,
        status="open")
    session.add(signal)
    session.flush()
    notification_service.notify(
        session, organization_ids=set(makers) | set(notification_service.regulator_ids(session)),
        topic="defect_signal", payload={**_summary(signal), "signal_url":
                                        f"/api/v1/signals/{signal.id}"})
    return signal


def check_after_incident(session: Session, *, incident: Incident,
                         now: datetime | None = None) -> list[DefectSignal]:
    """Re-evaluate incident signals of this incident's type (called when one is reported)."""
    if incident.type not in INCIDENT_TYPES:
        return []
    return scan(session, now=now, kinds=("incident",), incident_types=(incident.type,))


def _summary(s: DefectSignal) -> dict[str, Any]:
    return {"id": s.id, "group": {"kind": s.group_kind, "model_id": s.model_id,
                                  "supplier_id": s.supplier_id, "batch": s.batch},
            "trigger": {"kind": s.trigger_kind, "value": s.trigger_value},
            "unit_count": s.unit_count, "population": s.population, "rate": s.rate,
            "threshold": {"rate": RATE, "min_units": MIN_UNITS,
                          "window_days": WINDOW.days},
            "window": {"from": rfc3339(s.window_start), "to": rfc3339(s.window_end)},
            "raised_at": rfc3339(s.raised_at), "status": s.status, "recall_id": s.recall_id}


def signal_view(s: DefectSignal) -> dict[str, Any]:
    return {**_summary(s), "units": list(s.units), "manufacturers": list(s.manufacturer_ids),
            "updated_at": rfc3339(s.updated_at)}


def get_or_raise(session: Session, *, actor: Actor, signal_id: str) -> DefectSignal:
    s = session.get(DefectSignal, signal_id)
    if s is None:
        raise NotFound(f"no defect signal {signal_id!r}", code="signal_not_found")
    gate.see(session, actor, s, need="legitimate",
             message="a defect signal is for the manufacturers concerned and the regulator")
    return s


def list_signals(session: Session, *, actor: Actor, status: str | None = None,
                 limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    query = select(DefectSignal)
    if not actor.is_regulator:
        query = query.where(cast(DefectSignal.manufacturer_ids, String)
                            .like(f'%"{actor.id}"%'))
    if status:
        query = query.where(DefectSignal.status == status)
    rows = session.scalars(query.order_by(DefectSignal.raised_at.desc())
                           .limit(limit).offset(offset))
    return [_summary(s) for s in gate.visible(session, actor, rows)]


def scope_of(s: DefectSignal) -> dict[str, str]:
    if s.group_kind == "model":
        return {"model_id": str(s.model_id)}
    scope = {"component_supplier": str(s.supplier_id)}
    if s.group_kind == "component_batch" and s.batch:
        scope["component_batch"] = s.batch
    return scope


def open_recall_from_signal(session: Session, *, actor: Actor, signal_id: str,
                            reason: str | None = None) -> Any:
    """One step from a signal to a recall over its group (a manufacturer: its own units)."""
    s = get_or_raise(session, actor=actor, signal_id=signal_id)
    if s.status == "recalled":
        raise Conflict(f"signal {s.id} already led to recall {s.recall_id}",
                       code="already_recalled", recall_id=s.recall_id)
    if reason is not None and (not isinstance(reason, str) or not reason.strip()):
        raise InvalidInput("reason must be a non-empty string", field="reason")
    what = {"fault_code": "fault code", "incident": "incidents of type"}[s.trigger_kind]
    reason = reason or (f"possible common defect: {what} {s.trigger_value} on "
                        f"{s.unit_count} of {s.population} units ({s.rate:.1%}) "
                        f"(signal {s.id})")
    recall = recall_service.open_recall(session, actor=actor, reason=reason, scope=scope_of(s),
                                        signal_id=s.id)
    s.status, s.recall_id = "recalled", recall.id
    return recall


def dismiss(session: Session, *, actor: Actor, signal_id: str, reason: str) -> DefectSignal:
    """The regulator closes a signal judged not to be a defect."""
    if not actor.is_regulator:
        raise Forbidden("only the regulator dismisses a defect signal", code="regulator_only")
    s = get_or_raise(session, actor=actor, signal_id=signal_id)
    gate.act(session, actor, s, need="authority")
    if s.status != "open":
        raise Conflict(f"signal {s.id} is {s.status}", code="signal_not_open")
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("reason must be a non-empty string", field="reason")
    s.status = "dismissed"
    from robopass.decisions import service as decision_service
    from robopass.organizations.models import Organization

    maker = session.get(Organization, s.manufacturer_ids[0]) if s.manufacturer_ids else None
    decision_service.record_decision(
        session, actor=actor, action="signal.dismiss", object_type="signal", object_id=s.id,
        before={"status": "open"}, after={"status": "dismissed"}, reason=reason.strip()[:2000],
        organization_id=maker.id if maker else None, province=maker.province if maker else None)
    return s



