"""The incident trace report (SPEC §6): the unit as of the incident, and who may be responsible.

Everything is read as of ``incident.at``: the lifecycle state is the fold of the unit's
non-corrected events up to then (equal to ``lifecycle.service.replay_state``; see
:func:`state_as_of` for how it stays fast at 10,000+ events), the cited events come from a few
indexed queries, components from the binding history, recalls from the campaigns open then.

Responsibility rules (docs/recalls-and-incidents.md) name candidate parties, each with its
evidence and the ledger indexes of the events used; weights: strong 3, medium 2, weak 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import String, Text, case, cast, func, or_, select
from sqlalchemy.orm import Session

from robopass.auth.service import Actor
from robopass.components import service as component_service
from robopass.incidents import service as incident_service
from robopass.incidents.models import Incident
from robopass.lifecycle import rules
from robopass.lifecycle.models import Event
from robopass.organizations.models import Organization
from robopass.product_models.models import ProductModel
from robopass.recalls import service as recall_service
from robopass.robots.models import Unit
from robopass.timeutil import rfc3339

#: Work, firmware and component changes this close before the incident are evidence.
RECENT = timedelta(days=30)
#: Telemetry included around the incident.
TELEMETRY_BEFORE = timedelta(minutes=15)
TELEMETRY_AFTER = timedelta(minutes=5)
#: Work events read for the evidence, and listed in the report.
MAX_RECENT = 200
RECENT_LISTED = 20
#: At most this many readings are listed (evenly thinned); the summary covers them all.
MAX_READINGS = 300
STRONG, MEDIUM, WEAK = 3, 2, 1
#: A health alert open this long before the incident counts as ignored by the operator.
ALERT_IGNORED_HOURS = 24
MAINTENANCE_TYPES = frozenset({"maintenance_started", "maintenance_completed",
                               "component_replaced", "firmware_updated", "recall_remedied"})
PARTY_EVENTS = frozenset({"manufactured", "shipped", "sold", "deployed", "transferred",
                          "decommissioned", "refurbished"})


@dataclass
class _Ev:
    id: str
    type: str
    at: datetime
    org: str
    to: str | None
    details: dict[str, Any]
    ledger_index: int

    def cite(self, names: dict[str, str]) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "at": rfc3339(self.at),
                "organization": {"id": self.org, "name": names.get(self.org)},
                "details": self.details, "ledger_index": self.ledger_index}


#: Evidence sentences: a message id → its English template (``%(name)s`` placeholders). Each
#: evidence item carries ``message`` and ``params`` beside the English ``text``, so a page
#: renders it in its reader's language (``web/app/trace_text.py`` holds the same templates as
#: catalogue messages; a test keeps the two equal). A parameter may be a list of
#: ``{message, params}`` items, joined by :data:`JOINERS`.
EVIDENCE_MESSAGES: dict[str, str] = {
    "open_component_recall_batch":
        "recall %(recall_id)s on %(supplier)s %(component_type)s batch %(batch)s (serial "
        "%(serial)s, fitted to this unit) open and unremedied since %(since)s",
    "open_component_recall_components":
        "recall %(recall_id)s on %(supplier)s %(component_type)s components (serial "
        "%(serial)s, fitted to this unit) open and unremedied since %(since)s",
    "open_model_recall":
        "recall %(recall_id)s on this model (%(reason)s) open and unremedied since %(since)s",
    "operated_under_open_recall":
        "the unit was in use with recall %(recall_id)s open and unremedied; %(notified)s",
    "notified": "%(organization)s notified %(since)s",
    "defect_signal":
        "defect signal %(signal_id)s (%(trigger_kind)s %(trigger_value)s on %(units)s units, "
        "rate %(rate)s) raised %(raised)s",
    "recent_firmware_update":
        "firmware %(firmware)s installed %(day)s by %(organization)s, %(days)s days before "
        "the incident",
    "recent_firmware_updates":
        "firmware %(firmware)s installed %(day)s by %(organization)s, %(days)s days before "
        "the incident; %(count)s firmware updates in the %(window)s days before",
    "data_breach": "a data breach implicates the software/AI stack (%(software)s)",
    "recent_service_work":
        "%(organization)s worked on the unit %(days)s days before the incident (%(work)s)",
    "recent_service_work_many":
        "%(organization)s worked on the unit %(days)s days before the incident (%(count)s "
        "work events, latest: %(work)s)",
    "work_component_replaced":
        "replaced component %(removed)s with %(installed)s on %(day)s",
    "work_firmware_updated": "installed firmware %(firmware)s on %(day)s",
    "work_order_started": "work order %(work_order)s started %(day)s",
    "work_order_completed": "work order %(work_order)s completed %(day)s",
    "work_maintenance_started": "maintenance started %(day)s",
    "work_maintenance_completed": "maintenance completed %(day)s",
    "maintenance_in_progress":
        "maintenance started %(day)s by %(organization)s was not completed at the time",
    "recently_installed_component": "component %(serial)s installed %(day)s",
    "used_while_not_in_service": "the unit was %(status)s at the time of the incident",
    "ignored_health_alert": "health alert %(rule)s (%(alert)s) open since %(since)s",
    "fault_codes_at_incident": "fault codes reported around the incident: %(codes)s",
    "no_other_lead": "no recall, signal, recent work or operator lapse found; the manufacturer "
                     "answers for the design and production of the unit",
    "component_selection": "the manufacturer chose and fitted the suspect component",
}
#: How a list parameter's items are joined in a sentence.
JOINERS: dict[str, str] = {"notified": ", ", "work": "; "}


def phrase(message: str, **params: Any) -> dict[str, Any]:
    """One structured sentence: its message id and parameters (for lists inside a sentence)."""
    return {"message": message, "params": params}


def render_text(message: str, params: dict[str, Any]) -> str:
    """The English sentence of a structured one (what ``text`` holds)."""
    values = {k: JOINERS.get(k, ", ").join(render_text(i["message"], i["params"]) for i in v)
              if isinstance(v, list) else v for k, v in params.items()}
    return EVIDENCE_MESSAGES[message] % values


@dataclass
class _Candidate:
    party: str
    organization: str | None
    evidence: list[dict[str, Any]] = field(default_factory=list)

    def add(self, rule: str, weight: int, message: str, params: dict[str, Any] | None = None,
            ledger: list[int] | None = None, **refs: Any) -> None:
        params = params or {}
        self.evidence.append({"rule": rule, "weight": weight,
                              "text": render_text(message, params), "message": message,
                              "params": params, "ledger_indexes": sorted(set(ledger or [])),
                              **refs})

    @property
    def score(self) -> int:
        return sum(e["weight"] for e in self.evidence)


def _day(value: datetime | str | None) -> str:
    if isinstance(value, str):
        return value[:10]
    return rfc3339(value)[:10] if value else "?"  # type: ignore[index]


def _work_phrase(e: _Ev) -> dict[str, Any]:
    d = e.details
    if e.type == "component_replaced":
        raw = d.get("installed")
        installed: dict[str, Any] = raw if isinstance(raw, dict) else {}
        return phrase("work_component_replaced", removed=d.get("removed") or "-",
                      installed=installed.get("serial") or "-", day=_day(e.at))
    if e.type == "firmware_updated":
        return phrase("work_firmware_updated", firmware=str(d.get("firmware")), day=_day(e.at))
    verb = "started" if e.type == "maintenance_started" else "completed"
    if isinstance(d.get("work_order"), str):
        return phrase(f"work_order_{verb}", work_order=d["work_order"], day=_day(e.at))
    return phrase(f"work_maintenance_{verb}", day=_day(e.at))


@dataclass
class _History:
    state: rules.UnitState
    party: list[_Ev]  # ownership and custody events up to ``at``
    recent: list[_Ev]  # work events in the RECENT window before ``at`` (newest MAX_RECENT)
    recent_total: int
    last_maintenance: _Ev | None
    last_firmware: _Ev | None
    bind_index: dict[str, int]  # binding event id → ledger index


_EV_COLS = (Event.id, Event.type, Event.at, Event.organization_id, Event.to_organization_id,
            Event.details, Event.ledger_index)


def _evs(session: Session, query: Any) -> list[_Ev]:
    return [_Ev(i, t, a, o, to, d or {}, li) for i, t, a, o, to, d, li in session.execute(query)]


def _history(session: Session, unit: Unit, at: datetime,
             bind_events: set[str]) -> _History:
    """What the report needs from the unit's events up to ``at``, in a few indexed queries
    instead of reading every event (a unit may have tens of thousands)."""
    code = unit.code
    live = (Event.code == code, Event.corrected.is_(False), Event.at <= at)
    party = _evs(session, select(*_EV_COLS).where(*live, Event.type.in_(PARTY_EVENTS))
                 .order_by(Event.seq))
    recent_q = (Event.type.in_(MAINTENANCE_TYPES), Event.at >= at - RECENT)
    recent = _evs(session, select(*_EV_COLS).where(*live, *recent_q)
                  .order_by(Event.seq.desc()).limit(MAX_RECENT))[::-1]
    total = len(recent)
    if total == MAX_RECENT:
        total = int(session.scalar(select(func.count()).select_from(Event)
                                   .where(*live, *recent_q)) or 0)

    def last_of(types: tuple[str, ...]) -> _Ev | None:
        found = [e for e in recent if e.type in types]
        if found:
            return found[-1]
        rows = _evs(session, select(*_EV_COLS).where(*live, Event.type.in_(types))
                    .order_by(Event.seq.desc()).limit(1))
        return rows[0] if rows else None

    bind_index: dict[str, int] = {}
    if bind_events:
        bind_index = dict(session.execute(select(Event.id, Event.ledger_index)
                                          .where(Event.id.in_(bind_events))).all())
    return _History(state=state_as_of(session, unit, at), party=party, recent=recent,
                    recent_total=total,
                    last_maintenance=last_of(("maintenance_started", "maintenance_completed")),
                    last_firmware=last_of(("firmware_updated",)), bind_index=bind_index)


#: Event types whose effect on the state reads ``details``.
_NEEDS_DETAILS = ("manufactured", "shipped", "sold", "deployed", "transferred",
                  "firmware_updated")
#: Event types that do not change the folded state.
_NO_EFFECT = frozenset({"component_replaced", "recall_remedied", "correction"})


#: Above this many state-changing events before ``at``, fold them all in one pass instead of
#: asking for the last maintenance event of each gap.
_MAX_GAPS = 100
_MAINTENANCE = ("maintenance_started", "maintenance_completed")


def state_as_of(session: Session, unit: Unit, at: datetime) -> rules.UnitState:
    """The unit's state as of ``at``; equal to ``lifecycle.service.replay_state``.

    When no event lies after ``at`` the unit row (the maintained fold) is the answer.
    Otherwise only the events that can change the outcome leave the database:

    * ``firmware_updated`` only sets ``firmware`` and no other effect reads it, so the last
      one up to ``at`` decides (one indexed query);
    * ``component_replaced``, ``recall_remedied`` and corrections change nothing;
    * ``maintenance_started``/``_completed`` only set ``status``, so between two other events
      only the last of them counts (one ``LIMIT 1`` query per gap);
    * the remaining events (ownership, suspension, decommissioning...) — few — are folded with
      ``rules.effect``, reading ``details`` only for the types whose effect uses them.
    """
    if unit.last_event_at is None or unit.last_event_at <= at:
        return rules.UnitState(
            status=unit.status, manufacturer_id=unit.manufacturer_id, owner_id=unit.owner_id,
            operator_id=unit.operator_id, status_before_suspension=unit.status_before_suspension,
            suspended_by_authority=bool(unit.suspended_by_authority),
            recycler_id=unit.recycler_id, firmware=unit.firmware,
            open_recalls=int(unit.open_recalls or 0), province=unit.province, city=unit.city)
    live = (Event.code == unit.code, Event.corrected.is_(False), Event.at <= at)
    details_text = case((Event.type.in_(_NEEDS_DETAILS), cast(Event.details, Text)),
                        else_=None)
    skipped = _NO_EFFECT | {"firmware_updated"}
    structural = session.execute(
        select(Event.seq, Event.type, Event.to_organization_id, Event.organization_id,
               details_text)
        .where(*live, Event.type.not_in(skipped | set(_MAINTENANCE)))
        .order_by(Event.seq)).all()
    steps: list[tuple[str, str | None, str | None, str | None]] = []
    if len(structural) > _MAX_GAPS:
        steps = [(t, to, org, raw) for _, t, to, org, raw in session.execute(
            select(Event.seq, Event.type, Event.to_organization_id, Event.organization_id,
                   details_text).where(*live, Event.type.not_in(skipped))
            .order_by(Event.seq))]
    else:
        previous = 0
        for row in [*structural, None]:
            query = select(Event.type).where(*live, Event.type.in_(_MAINTENANCE),
                                             Event.seq > previous)
            if row is not None:
                query = query.where(Event.seq < row[0])
            last = session.scalar(query.order_by(Event.seq.desc()).limit(1))
            if last is not None:
                steps.append((last, None, None, None))
            if row is not None:
                previous = row[0]
                steps.append((row[1], row[2], row[3], row[4]))
    regulators = set(session.scalars(select(Organization.id).where(
        Organization.id.in_({org for _, _, org, _ in steps if org}),
        cast(Organization.roles, String).like('%"regulator"%'))))
    state = rules.UnitState.initial(unit.manufacturer_id)
    effect, event_input = rules.effect, rules.EventInput
    for etype, to, org, raw in steps:
        details = orjson.loads(raw) if raw else {}
        state = effect(state, event_input(type=etype, to_organization=to, details=details),
                       org in regulators)
    firmware = session.scalar(
        select(cast(Event.details, Text)).where(*live, Event.type == "firmware_updated")
        .order_by(Event.seq.desc()).limit(1))
    if firmware is not None:
        state = state._replace(firmware=str(orjson.loads(firmware).get("firmware")))
    return state


def _telemetry(session: Session, code: str, at: datetime) -> dict[str, Any]:
    start, end = at - TELEMETRY_BEFORE, at + TELEMETRY_AFTER
    window = {"from": rfc3339(start), "to": rfc3339(end)}
    try:
        from robopass.telemetry import service as telemetry_service

        readings_between = telemetry_service.readings_between
    except (ImportError, AttributeError):
        return {**window, "available": False, "readings": [], "summary": None,
                "note": "telemetry is not installed in this registry"}
    raw = list(readings_between(session, code=code, start=start, end=end))
    readings = [_reading_dict(r) for r in raw]
    faults: dict[str, str] = {}
    soh = [m["battery_soh"] for m in (r.get("metrics", {}) for r in readings)
           if isinstance(m.get("battery_soh"), int | float)]
    acc = [m["accuracy"] for m in (r.get("metrics", {}) for r in readings)
           if isinstance(m.get("accuracy"), int | float)]
    for r in readings:
        for fc in r.get("metrics", {}).get("fault_codes") or []:
            faults.setdefault(str(fc), str(r.get("at")))
    summary = {"count": len(readings), "fault_codes": faults,
               "battery_soh_min": min(soh) if soh else None,
               "accuracy_min": min(acc) if acc else None}
    if len(readings) > MAX_READINGS:
        step = len(readings) / MAX_READINGS
        readings = [readings[int(i * step)] for i in range(MAX_READINGS)]
    return {**window, "available": True, "readings": readings, "summary": summary}


def _reading_dict(r: Any) -> dict[str, Any]:
    if isinstance(r, dict):
        out = dict(r)
    elif hasattr(r, "_asdict"):
        out = dict(r._asdict())
    else:
        out = {k: v for k, v in vars(r).items() if not k.startswith("_")}
    if isinstance(out.get("at"), datetime):
        out["at"] = rfc3339(out["at"])
    if "metrics" not in out:
        out = {"at": out.pop("at", None),
               "metrics": {k: v for k, v in out.items() if v is not None and k != "code"}}
    return out


def _health_alerts(session: Session, code: str, at: datetime) -> list[dict[str, Any]]:
    """Telemetry health alerts open at ``at`` (rules of SPEC §7), when telemetry is present."""
    try:
        from robopass.telemetry.models import TelemetryAlert
    except ImportError:
        return []
    try:
        rows = session.scalars(select(TelemetryAlert).where(
            TelemetryAlert.code == code, TelemetryAlert.since <= at,
            or_(TelemetryAlert.closed_at.is_(None), TelemetryAlert.closed_at > at)))
        return [{"rule": a.rule, "key": a.key, "message": a.message,
                 "since": rfc3339(a.since),
                 "hours_before_incident": round((at - a.since).total_seconds() / 3600, 1)}
                for a in rows]
    except Exception:  # noqa: BLE001 - a schema without telemetry tables
        return []


def _signals(session: Session, *, model_id: str, components: list[dict[str, Any]],
             at: datetime) -> list[dict[str, Any]]:
    from robopass.signals.models import DefectSignal

    keys = [("model", model_id)]
    for c in components:
        keys.append(("component_supplier", c["supplier_id"]))
        if c.get("batch"):
            keys.append(("component_batch", f"{c['supplier_id']}/{c['batch']}"))
    conds = [(DefectSignal.group_kind == k) & (DefectSignal.group_key == v) for k, v in keys]
    rows = session.scalars(select(DefectSignal).where(or_(*conds),
                                                      DefectSignal.raised_at <= at))
    return [{"id": s.id, "group_kind": s.group_kind, "group_key": s.group_key,
             "trigger": {"kind": s.trigger_kind, "value": s.trigger_value},
             "units": s.unit_count, "rate": s.rate, "raised_at": rfc3339(s.raised_at),
             "recall_id": s.recall_id, "supplier_id": s.supplier_id, "batch": s.batch}
            for s in rows]


def trace_incident(session: Session, *, actor: Actor, incident_id: str,
                   path: str = "") -> dict[str, Any]:
    """The trace report; raises NotFound, Forbidden (the gate decides, and logs the read)."""
    incident = incident_service.read_or_raise(session, actor=actor, incident_id=incident_id,
                                              audit="read_trace", path=path)
    return build_report(session, incident)


def build_report(session: Session, incident: Incident) -> dict[str, Any]:
    at, code = incident.at, incident.code
    unit = session.get(Unit, code)
    model = session.get(ProductModel, incident.model_id)
    assert model is not None and unit is not None
    components = component_service.bound_components(session, code, at)
    hist = _history(session, unit, at, {c["bound_by_event"] for c in components
                                        if c["bound_by_event"]})
    state = hist.state
    cited = hist.party + hist.recent + [e for e in (hist.last_maintenance, hist.last_firmware)
                                        if e is not None]
    recalls = recall_service.recalls_open_at(session, code, at)
    telemetry = _telemetry(session, code, at)
    alerts = _health_alerts(session, code, at)
    signals = _signals(session, model_id=model.id, components=components, at=at)

    org_ids = {incident.manufacturer_id, incident.reporter_id, state.owner_id,
               state.operator_id, model.software_provider_id, model.testing_lab_id}
    org_ids |= {c["supplier_id"] for c in components} | {e.org for e in cited}
    org_ids |= {r["opened_by"] for r in recalls}
    org_rows = session.execute(select(Organization.id, Organization.name, Organization.roles)
                               .where(Organization.id.in_([o for o in org_ids if o])))
    names: dict[str, str] = {}
    roles: dict[str, list[str]] = {}
    for oid, name, oroles in org_rows:
        names[oid], roles[oid] = name, oroles

    def org(oid: str | None) -> dict[str, Any] | None:
        return {"id": oid, "name": names.get(oid)} if oid else None

    maintenance = [e for e in hist.recent
                   if e.type in ("maintenance_started", "maintenance_completed")]
    firmware = [e for e in hist.recent if e.type == "firmware_updated"]
    swaps = [e for e in hist.recent if e.type == "component_replaced"]
    last_maintenance = hist.last_maintenance
    manufactured = next((e for e in hist.party if e.type == "manufactured"), None)
    last_party = hist.party

    comp_view = [{**c, "bound_at": rfc3339(c["bound_at"]),
                  "bound_by_ledger_index": hist.bind_index.get(c["bound_by_event"] or "")}
                 for c in components]
    report: dict[str, Any] = {
        "incident": incident_service.incident_view(incident),
        "unit": {
            "code": code, "status": state.status, "production_month": None,
            "model": {"id": model.id, "name": model.name, "model_code": model.model_code,
                      "status": model.status, "intelligence_level": model.intelligence_level,
                      "hardware_class": model.hardware_class},
            "manufacturer": org(incident.manufacturer_id),
            "owner": org(state.owner_id), "operator": org(state.operator_id),
            "province": state.province, "city": state.city,
        },
        "software": {"firmware": state.firmware, "model_software": model.software,
                     "provider": org(model.software_provider_id),
                     "last_firmware_update": hist.last_firmware.cite(names)
                     if hist.last_firmware else None},
        "components": comp_view,
        "last_maintenance": last_maintenance.cite(names) if last_maintenance else None,
        "maintenance_in_progress": state.status == "under_maintenance",
        "recent_work": [e.cite(names) for e in hist.recent[-RECENT_LISTED:]],
        "recent_work_total": hist.recent_total,
        "recalls_open": recalls,
        "defect_signals": signals,
        "health_alerts_open": alerts,
        "telemetry": telemetry,
    }
    report["unit"]["production_month"] = unit.production_month

    candidates = _responsibility(
        incident=incident, state=state, model=model, components=components, recalls=recalls,
        signals=signals, alerts=alerts, telemetry=telemetry, maintenance=maintenance,
        firmware=firmware, swaps=swaps, manufactured=manufactured, last_party=last_party,
        last_maintenance=last_maintenance,
        roles=roles, names=names)
    report["responsibility"] = [
        {"party": c.party, "organization": org(c.organization), "score": c.score,
         "evidence": sorted(c.evidence, key=lambda e: -e["weight"])}
        for c in sorted(candidates, key=lambda c: -c.score)]
    report["ledger_indexes"] = sorted({i for c in candidates for e in c.evidence
                                       for i in e["ledger_indexes"]}
                                      | {e.ledger_index for e in cited
                                         if e is last_maintenance or e is manufactured}
                                      | {c["bound_by_ledger_index"] for c in comp_view
                                         if c["bound_by_ledger_index"] is not None})
    report["rules"] = "docs/recalls-and-incidents.md#responsibility-rules"
    return report


def _responsibility(*, incident: Incident, state: rules.UnitState, model: ProductModel,
                    components: list[dict[str, Any]], recalls: list[dict[str, Any]],
                    signals: list[dict[str, Any]], alerts: list[dict[str, Any]],
                    telemetry: dict[str, Any], maintenance: list[_Ev], firmware: list[_Ev],
                    swaps: list[_Ev], manufactured: _Ev | None, last_party: list[_Ev],
                    last_maintenance: _Ev | None,
                    roles: dict[str, list[str]], names: dict[str, str]) -> list[_Candidate]:
    at = incident.at
    out: dict[tuple[str, str | None], _Candidate] = {}

    def cand(party: str, org_id: str | None) -> _Candidate:
        return out.setdefault((party, org_id), _Candidate(party, org_id))

    made_idx = [manufactured.ledger_index] if manufactured else []
    comp_by_supplier: dict[str, list[dict[str, Any]]] = {}
    for c in components:
        comp_by_supplier.setdefault(c["supplier_id"], []).append(c)

    # recalls open at the time
    operator = state.operator_id or state.owner_id
    for r in recalls:
        scope = r["scope"]
        supplier = scope.get("component_supplier")
        batch = scope.get("component_batch")
        since = _day(r["opened_at"])
        if supplier or batch:
            hit = [c for c in components if (not supplier or c["supplier_id"] == supplier)
                   and (not batch or c.get("batch") == batch)]
            for c in hit:
                params = {"recall_id": r["id"],
                          "supplier": names.get(c["supplier_id"], c["supplier_id"]),
                          "component_type": c["type"], "serial": c["serial"], "since": since}
                if batch:
                    message, params = "open_component_recall_batch", {**params,
                                                                      "batch": c["batch"]}
                else:
                    message = "open_component_recall_components"
                cand("component_supplier", c["supplier_id"]).add(
                    "open_component_recall", STRONG, message, params, made_idx,
                    recall_id=r["id"], component=c["serial"])
        if "model_id" in scope or not (supplier or batch):
            cand("manufacturer", incident.manufacturer_id).add(
                "open_model_recall", STRONG, "open_model_recall",
                {"recall_id": r["id"], "reason": r["reason"], "since": since}, made_idx,
                recall_id=r["id"])
        notified = [o for o in (r["owner_at_opening"], r["operator_at_opening"])
                    if o and o in (state.owner_id, state.operator_id)]
        if operator and notified:
            who = [phrase("notified", organization=names.get(o, o), since=since)
                   for o in notified]
            cand("operator", operator).add(
                "operated_under_open_recall", STRONG, "operated_under_open_recall",
                {"recall_id": r["id"], "notified": who},
                [e.ledger_index for e in last_party[-1:]], recall_id=r["id"])

    # defect signals raised before the incident
    for s in signals:
        params = {"signal_id": s["id"], "trigger_kind": s["trigger"]["kind"],
                  "trigger_value": s["trigger"]["value"], "units": s["units"],
                  "rate": f"{s['rate']:.1%}", "raised": _day(s["raised_at"])}
        if s["group_kind"] == "model":
            cand("manufacturer", incident.manufacturer_id).add(
                "defect_signal", MEDIUM, "defect_signal", params, made_idx, signal_id=s["id"])
        elif s["supplier_id"]:
            cand("component_supplier", s["supplier_id"]).add(
                "defect_signal", MEDIUM, "defect_signal", params, made_idx, signal_id=s["id"])

    # firmware, work and component swaps shortly before the incident
    provider = model.software_provider_id
    if firmware:
        e = firmware[-1]
        params = {"firmware": str(e.details.get("firmware")), "day": _day(e.at),
                  "organization": names.get(e.org, e.org), "days": (at - e.at).days}
        if len(firmware) > 1:
            message, params = "recent_firmware_updates", {**params, "count": len(firmware),
                                                          "window": RECENT.days}
        else:
            message = "recent_firmware_update"
        cand("software_provider", provider).add(
            "recent_firmware_update", MEDIUM, message, params,
            [x.ledger_index for x in firmware], event_id=e.id)
    if incident.type == "data_breach":
        cand("software_provider", provider).add(
            "data_breach", STRONG, "data_breach",
            {"software": model.software.get("name", "?") if isinstance(model.software, dict)
             else "?"})
    by_provider: dict[str, list[_Ev]] = {}
    for e in sorted(maintenance + swaps + firmware, key=lambda e: e.ledger_index):
        if at - e.at > RECENT or "service_provider" not in roles.get(e.org, []):
            continue
        if e.org in (state.owner_id, state.operator_id, incident.manufacturer_id):
            continue
        by_provider.setdefault(e.org, []).append(e)
    for org_id, work in by_provider.items():
        params = {"organization": names.get(org_id, org_id), "days": (at - work[-1].at).days,
                  "work": [_work_phrase(e) for e in work[-3:]]}
        if len(work) > 3:
            message, params = "recent_service_work_many", {**params, "count": len(work)}
        else:
            message = "recent_service_work"
        cand("service_provider", org_id).add("recent_service_work", MEDIUM, message, params,
                                             [e.ledger_index for e in work])
    if state.status == "under_maintenance" and last_maintenance is not None:
        last = last_maintenance
        party = "service_provider" if "service_provider" in roles.get(last.org, []) \
            else "operator"
        cand(party, last.org).add(
            "maintenance_in_progress", MEDIUM, "maintenance_in_progress",
            {"day": _day(last.at), "organization": names.get(last.org, last.org)},
            [last.ledger_index], event_id=last.id)
    for e in swaps:
        if at - e.at <= RECENT and isinstance(e.details.get("installed"), dict):
            supplier = e.details["installed"].get("supplier_id")
            if supplier:
                cand("component_supplier", supplier).add(
                    "recently_installed_component", WEAK, "recently_installed_component",
                    {"serial": e.details["installed"].get("serial"), "day": _day(e.at)},
                    [e.ledger_index], event_id=e.id)

    # the operator's side: state at the time, ignored health alerts, fault codes
    if operator and state.status in ("suspended", "decommissioned", "recycled", "scrapped"):
        cand("operator", operator).add(
            "used_while_not_in_service", STRONG, "used_while_not_in_service",
            {"status": state.status}, [e.ledger_index for e in last_party[-1:]])
    for a in alerts:
        if operator and a["hours_before_incident"] >= ALERT_IGNORED_HOURS:
            cand("operator", operator).add(
                "ignored_health_alert", MEDIUM, "ignored_health_alert",
                {"rule": a["rule"], "alert": a["message"], "since": _day(a["since"])})
    faults = (telemetry.get("summary") or {}).get("fault_codes") or {}
    if faults:
        cand("manufacturer", incident.manufacturer_id).add(
            "fault_codes_at_incident", WEAK, "fault_codes_at_incident",
            {"codes": ", ".join(sorted(faults))})

    # the default: a malfunction or accident with no other lead is the maker's to explain
    if incident.type in ("malfunction", "safety_accident") and not out:
        cand("manufacturer", incident.manufacturer_id).add(
            "no_other_lead", WEAK, "no_other_lead", {}, made_idx)
    if components and any(k[0] == "component_supplier" for k in out):
        cand("manufacturer", incident.manufacturer_id).add(
            "component_selection", WEAK, "component_selection", {}, made_idx)
    return list(out.values())
