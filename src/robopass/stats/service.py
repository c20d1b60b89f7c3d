"""Registry-wide aggregates for the regulator dashboard and ``/api/v1/stats/*`` (SPEC §9).

A provincial regulator (``Actor.scope_province``) gets the same figures limited to its province:
units whose ``province`` lies in it, companies seated in it (and their models, recalls).

How the figures stay correct, and why no worker scans ``units`` or ``components``
----------------------------------------------------------------------------------
The unit figures (by status, manufacturer, province, issue and production month) are not
computed from ``units`` at all: ``unit_counts`` (:mod:`robopass.stats.counts`) holds the number
of units per combination of those dimensions and is updated in the same transaction as every
issuance, import and lifecycle event. Reading it is one ``GROUP BY`` per chart over that table,
whose rows are combinations of dimensions, not units (38,400 rows for 20 makers × 16 provinces
× 10 statuses × 12 months: ~60 ms), whatever the registry's size; the result is cached per
process and stamped with :func:`units_stamp`, which changes with every write of the counts, so
a view after a write recomputes it in the request and the figures are exact at every commit.
(``robopass stats rebuild`` writes no ledger entry: running servers show the rebuilt unit and
supply-chain counts from their next write, or restart.) A worker that starts (or is restarted
under load) has nothing to compute: at 10,000,000 units a fresh process's first overview took
36.7 s and 14.8 CPU-seconds (per worker, per scope) and now takes 64–152 ms and 46–76 ms
(docs/performance.md). The alternative — one process computing the figures into a shared table
on a schedule, under a lease — was not taken: its figures lag writes by a period (stamped, not
exact) and it still scans every unit each period, while incremental counts cost one upsert
statement per write transaction, taken after the ledger append under the ledger head's lock
that already serialises those writers (no new contention), and are checked against a full
recount by ``robopass stats check`` (replaced by ``robopass stats rebuild``) and by randomised
tests on both databases.

The other figures are kept per process, keyed by (aggregate, scope, filters), each stamped
with what it was computed from:

* registry figures (organisations, models and the approval queue, recalls, incidents, fraud
  alerts): stamped with :func:`fingerprint` — the ledger size (every issuance, lifecycle event,
  component binding and recall remedy appends to the ledger in its transaction) plus counters
  of the tables that change without a ledger entry (organisations, model filings and decision
  times, recall progress, incidents, fraud alerts, refused attempts). They are cheap (small
  tables) and always recomputed when the stamp changed, so they are exact: a model approved a
  moment ago shows at once.
* the supply-chain view is no longer a scan either: ``supply_counts``
  (:mod:`robopass.stats.supply`) holds, per province prefix, the distinct units carrying each
  (component type, supplier), each supplier and any component, updated in the transaction of
  every event that binds, releases or swaps components or moves a unit to another province.
  The view is one ``GROUP BY`` over that table, computed in the request and stamped with the
  ledger size (each of those writes is a ledgered event), so it is exact at every commit and a
  fresh worker answers it in milliseconds (80 ms national, 7 ms provincial for its first view
  at 1,000,000 units) where the old scan of ``components`` took 9.6–11.8 s per worker and per
  scope, growing with the registry and redone by every worker a supervisor restarted.
* the incidents "by responsibility" summary (trace reports of the newest incidents) is
  stamped with :func:`fingerprint`; when the stamp changed it is recomputed in the request
  *if the last computation was cheap* (under :data:`SYNC_BUDGET` seconds); otherwise the
  previous result is served while it is younger than :data:`STALE_SECONDS` and one background
  thread recomputes it (stale-while-revalidate), and :func:`warm` computes it (with the fleet
  figures) when a regulator signs in to a large registry.
* telemetry-derived figures (fleet health, open health alerts) change with every reading; they
  are recomputed after :data:`TELEMETRY_TTL` seconds, in the background when costly.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import and_, func, literal, or_, select
from sqlalchemy.orm import Session

from robopass import regions
from robopass.auth.service import Actor
from robopass.db import read_session
from robopass.incidents.models import Incident
from robopass.ledger import service as ledger_service
from robopass.lifecycle.models import FraudAlert, RefusedAttempt
from robopass.organizations.models import Organization
from robopass.product_models.models import MODEL_STATUSES, ProductModel
from robopass.recalls.models import Recall
from robopass.robots.models import UNIT_STATUSES, Unit
from robopass.stats.models import SupplyCount, UnitCount
from robopass.telemetry import service as telemetry_service

TELEMETRY_TTL = 60.0
#: A recomputation cheaper than this (seconds) is done in the request: figures stay exact.
SYNC_BUDGET = 0.15
#: On a large registry, how old (seconds) a result may be while a fresh one is computed.
STALE_SECONDS = 30.0
#: Incidents whose trace report is summarised into "by responsibility" (newest first).
RESPONSIBILITY_SAMPLE = 100
_MAX_ENTRIES = 256

FRAUD_GROUPS = {
    "resale_of_scrapped": ("scrapped_", "terminal_", "resale", "refurbish"),
    "duplicate_component": ("duplicate_component", "component_"),
    "invalid_code": ("invalid_code", "forged", "unknown_code", "not_registered"),
}
#: Refused attempts that count as fraud signals though no FraudAlert row is raised for them:
#: binding a component serial that is already fitted to another live unit.
DUPLICATE_COMPONENT_ERRORS = ("component_already_bound",)


@dataclass
class _Entry:
    value: Any
    stamp: Any
    at: float
    cost: float
    refreshing: bool = False


_lock = threading.Lock()
_cache: dict[tuple[Any, ...], _Entry] = {}
#: One computation per key at a time (requests, refreshes and warm-ups wait for each other).
_computing: dict[tuple[Any, ...], threading.Lock] = {}
#: Registries whose ledger is at least this long are warmed when a regulator signs in.
WARM_FROM_LEDGER_SIZE = 100_000


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def _key_lock(key: tuple[Any, ...]) -> threading.Lock:
    with _lock:
        return _computing.setdefault(key, threading.Lock())


def _fresh(entry: _Entry | None, stamp: Any, ttl: float | None, now: float) -> bool:
    if entry is None:
        return False
    return (now - entry.at < ttl) if ttl is not None else entry.stamp == stamp


def fingerprint(session: Session) -> tuple[Any, ...]:
    """Cheap summary that changes whenever any registry figure could change."""
    models = session.execute(select(func.count(), func.max(ProductModel.decided_at),
                                    func.max(ProductModel.filed_at))).one()
    recalls = session.execute(select(func.count(), func.coalesce(func.sum(Recall.remedied), 0),
                                     func.coalesce(func.sum(Recall.affected), 0))).one()
    return (ledger_service.size(session),
            session.scalar(select(func.count()).select_from(Organization)),
            tuple(models), tuple(recalls),
            session.scalar(select(func.count()).select_from(Incident)),
            session.scalar(select(func.count()).select_from(FraudAlert)),
            session.scalar(select(func.count()).where(FraudAlert.resolved_at.is_(None))),
            session.scalar(select(func.count()).select_from(RefusedAttempt)))


def _store(key: tuple[Any, ...], entry: _Entry) -> None:
    with _lock:
        if len(_cache) >= _MAX_ENTRIES and key not in _cache:
            _cache.clear()
        _cache[key] = entry


def _refresh(url: str, key: tuple[Any, ...], compute: Callable[[Session], Any],
             stamp_of: Callable[[Session], Any]) -> None:
    try:
        with _key_lock(key), read_session(url) as session:
            stamp = stamp_of(session)  # read first: a write during compute forces another
            t = time.monotonic()
            value = compute(session)
            _store(key, _Entry(value, stamp, time.monotonic(), time.monotonic() - t))
    finally:
        with _lock:
            entry = _cache.get(key)
            if entry is not None:
                entry.refreshing = False


def cached(session: Session, key: tuple[Any, ...], compute: Callable[[Session], Any], *,
           stamp_of: Callable[[Session], Any] | None = None, ttl: float | None = None,
           background: bool = True) -> Any:
    """``compute(session)`` or a cached result (see the module docstring).

    Fresh means: same stamp (``stamp_of(session)``) or, with ``ttl``, younger than ``ttl``.
    A stale result whose computation cost more than :data:`SYNC_BUDGET` is served while younger
    than :data:`STALE_SECONDS` and refreshed by one background thread."""
    url = session.get_bind().engine.url.render_as_string(hide_password=False)
    full_key = (url, *key)
    now = time.monotonic()
    stamp = stamp_of(session) if stamp_of is not None else None
    with _lock:
        entry = _cache.get(full_key)
    if entry is not None:
        if _fresh(entry, stamp, ttl, now):
            return entry.value
        if background and entry.cost > SYNC_BUDGET and now - entry.at < STALE_SECONDS:
            with _lock:
                start = not entry.refreshing
                entry.refreshing = True
            if start:
                threading.Thread(target=_refresh, name="robopass-stats-refresh", daemon=True,
                                 args=(url, full_key, compute,
                                       stamp_of or (lambda _s: None))).start()
            return entry.value
    with _key_lock(full_key):
        with _lock:  # computed meanwhile by another request, a refresh or a warm-up?
            entry = _cache.get(full_key)
        if _fresh(entry, stamp, ttl, time.monotonic()):
            return entry.value  # type: ignore[union-attr]
        t = time.monotonic()
        value = compute(session)
        _store(full_key, _Entry(value, stamp, time.monotonic(), time.monotonic() - t))
    return value


def warm(url: str, actor: Actor) -> threading.Thread | None:
    """Compute a regulator's dashboard figures in the background (called at sign-in), so the
    first page view of a large registry does not wait for the costly ones (the responsibility
    summary's trace reports, fleet health from telemetry; the unit and supply-chain figures
    are read from maintained counts and need no warming). No-op when small."""
    with read_session(url) as session:
        if ledger_service.size(session) < WARM_FROM_LEDGER_SIZE:
            return None

    def run() -> None:
        with read_session(url) as session:
            overview(session, actor=actor)
            fleet_health(session, actor=actor)
            responsibility(session, actor=actor)

    thread = threading.Thread(target=run, name="robopass-stats-warm", daemon=True)
    thread.start()
    return thread


def ledger_stamp(session: Session) -> int:
    return ledger_service.size(session)


def units_stamp(session: Session) -> tuple[int, int]:
    """Changes with every write of ``unit_counts`` by the services: all of them append to the
    ledger but a federation admission, which adds an ``imported_robots`` row."""
    from robopass.federation.models import ImportedRobot

    return (ledger_service.size(session),
            int(session.scalar(select(func.count()).select_from(ImportedRobot)) or 0))


# ----------------------------------------------------------------------------- scope helpers

def province_prefix(actor: Actor | None, province: str | None = None) -> str | None:
    """The two-digit province prefix the figures are limited to (actor scope wins)."""
    if actor is not None and actor.scope_province:
        return actor.scope_province[:2]
    if province and len(province) >= 2 and province[:2].isdigit():
        return province[:2]
    return None


def _unit_filter(prefix: str | None, manufacturer_id: str | None) -> list[Any]:
    conds: list[Any] = []
    if prefix:
        conds.append(Unit.province.like(prefix + "%"))
    if manufacturer_id:
        conds.append(Unit.manufacturer_id == manufacturer_id)
    return conds


def _org_filter(prefix: str | None) -> list[Any]:
    return [Organization.province.like(prefix + "%")] if prefix else []


def org_in_scope(session: Session, actor: Actor, org_id: str) -> bool:
    if actor.scope_province is None:
        return True
    org = session.get(Organization, org_id)
    return bool(org and org.province and org.province[:2] == actor.scope_province[:2])


def _names(session: Session, ids: set[str]) -> dict[str, Organization]:
    if not ids:
        return {}
    return {o.id: o for o in session.scalars(select(Organization).where(
        Organization.id.in_(sorted(ids))))}


# ----------------------------------------------------------------------------- overview

def _compute_units(session: Session, prefix: str | None,
                   manufacturer_id: str | None) -> dict[str, Any]:
    """Units by every dimension the charts use, from the maintained counts
    (:mod:`robopass.stats.counts`): one small ``GROUP BY`` per chart over that table (its rows
    are combinations of dimensions, not units), never a scan of ``units``."""
    conds: list[Any] = []
    if prefix:
        conds.append(UnitCount.province.like(prefix + "%"))
    if manufacturer_id:
        conds.append(UnitCount.manufacturer_id == manufacturer_id)

    def marginal(col: Any) -> dict[Any, int]:
        return {k: int(n) for k, n in session.execute(
            select(col, func.sum(UnitCount.units)).where(*conds).group_by(col)) if n}

    status_counts = {s: 0 for s in UNIT_STATUSES} | marginal(UnitCount.status)
    by_maker: dict[str, int] = marginal(UnitCount.manufacturer_id)
    by_province = {f"{p2}0000" if p2 else None: n
                   for p2, n in marginal(func.substr(UnitCount.province, 1, 2)).items()}
    by_issued: dict[str, int] = marginal(UnitCount.issued_month)
    by_production: dict[str, int] = marginal(UnitCount.production_month)
    makers = _names(session, set(by_maker))
    manufacturers = sorted(
        ({"id": mid, "name": makers[mid].name if mid in makers else mid,
          "company_code": makers[mid].company_code if mid in makers else None, "units": n}
         for mid, n in by_maker.items()), key=lambda r: (-int(r["units"] or 0), str(r["name"])))
    provinces = sorted(
        ({"code": code, "name_en": regions.name(code, "en") if code else None,
          "name_zh": regions.name(code, "zh_CN") if code else None, "units": n}
         for code, n in by_province.items()), key=lambda r: -int(r["units"] or 0))
    return {
        "units": {"total": sum(status_counts.values()), "by_status": status_counts,
                  "by_manufacturer": manufacturers, "by_province": provinces},
        "codes_per_month": [{"month": m, "count": n} for m, n in sorted(by_issued.items())],
        "units_by_production_month": [{"month": m, "count": n}
                                      for m, n in sorted(by_production.items())],
    }


def _compute_registry(session: Session, prefix: str | None,
                      manufacturer_id: str | None) -> dict[str, Any]:
    """The cheap part (small tables): organisations, models, queue, recalls, incidents, fraud."""
    uf = _unit_filter(prefix, manufacturer_id)
    of = _org_filter(prefix)

    orgs = list(session.execute(select(Organization.id, Organization.roles,
                                       Organization.province).where(*of)))
    by_role: dict[str, int] = {}
    for row in orgs:
        for role in row.roles or []:
            by_role[role] = by_role.get(role, 0) + 1
    scope_org_ids = {row.id for row in orgs}

    mq = select(ProductModel.status, func.count()).group_by(ProductModel.status)
    if prefix:
        mq = mq.where(ProductModel.manufacturer_id.in_(select(Organization.id).where(*of)))
    if manufacturer_id:
        mq = mq.where(ProductModel.manufacturer_id == manufacturer_id)
    models = {s: 0 for s in MODEL_STATUSES}
    models.update({s: int(n) for s, n in session.execute(mq)})

    # recalls: those naming a manufacturer in scope
    recalls = []
    for r in session.scalars(select(Recall).order_by(Recall.opened_at.desc())):
        if prefix and not set(r.manufacturer_ids or []) & scope_org_ids:
            continue
        if manufacturer_id and manufacturer_id not in (r.manufacturer_ids or []):
            continue
        recalls.append({"id": r.id, "reason": r.reason, "opened_at": r.opened_at.isoformat(),
                        "opened_by_role": r.opened_by_role, "affected": r.affected,
                        "remedied": r.remedied, "open": r.affected - r.remedied,
                        "completion_rate": round(r.remedied / r.affected, 4)
                        if r.affected else 1.0})

    # incidents
    iq = select(Incident.severity, func.count()).group_by(Incident.severity)
    if uf:
        iq = iq.where(Incident.code.in_(select(Unit.code).where(*uf)))
    severity = {"minor": 0, "major": 0, "critical": 0}
    severity.update({s: int(n) for s, n in session.execute(iq)})

    # fraud alerts
    fq = select(FraudAlert.kind, func.count()).where(FraudAlert.resolved_at.is_(None))\
        .group_by(FraudAlert.kind)
    if uf:
        fq = fq.where(FraudAlert.code_input.in_(select(Unit.code).where(*uf)))
    fraud_kinds = {k: int(n) for k, n in session.execute(fq)}
    recent_q = select(FraudAlert).order_by(FraudAlert.created_at.desc()).limit(20)
    if uf:
        recent_q = recent_q.where(FraudAlert.code_input.in_(select(Unit.code).where(*uf)))
    recent = [{"id": a.id, "kind": a.kind, "group": fraud_group(a.kind), "code": a.code_input,
               "organization": a.organization_id, "message": a.message,
               "created_at": a.created_at.isoformat()} for a in session.scalars(recent_q)]
    fraud_groups = {g: 0 for g in FRAUD_GROUPS} | {"other": 0}
    for kind, n in fraud_kinds.items():
        fraud_groups[fraud_group(kind)] += n
    dq = select(RefusedAttempt).where(RefusedAttempt.error_code.in_(DUPLICATE_COMPONENT_ERRORS))
    if uf:
        dq = dq.where(RefusedAttempt.code_input.in_(select(Unit.code).where(*uf)))
    duplicates = list(session.scalars(dq.order_by(RefusedAttempt.created_at.desc()).limit(20)))
    dup_total = int(session.scalar(select(func.count()).select_from(
        dq.order_by(None).limit(None).subquery())) or 0)
    fraud_groups["duplicate_component"] += dup_total
    fraud_kinds["duplicate_component_binding"] = dup_total
    recent += [{"id": a.id, "kind": "duplicate_component_binding",
                "group": "duplicate_component", "code": a.code_input,
                "organization": a.organization_id, "message": a.message,
                "created_at": a.created_at.isoformat()} for a in duplicates]
    recent.sort(key=lambda a: str(a["created_at"]), reverse=True)
    recent = recent[:20]

    queue_q = select(ProductModel, Organization.name).join(
        Organization, Organization.id == ProductModel.manufacturer_id).where(
        ProductModel.status == "submitted").order_by(ProductModel.filed_at).limit(100)
    if prefix:
        queue_q = queue_q.where(*of)
    if manufacturer_id:
        queue_q = queue_q.where(ProductModel.manufacturer_id == manufacturer_id)
    queue = [{"id": m.id, "name": m.name, "model_code": m.model_code,
              "manufacturer": {"id": m.manufacturer_id, "name": name},
              "hardware_class": m.hardware_class, "intelligence_level": m.intelligence_level,
              "filed_at": m.filed_at.isoformat()} for m, name in session.execute(queue_q)]

    return {
        "scope": {"province": f"{prefix}0000" if prefix else None,
                  "manufacturer": manufacturer_id},
        "organizations": {"total": len(orgs), "by_role": dict(sorted(by_role.items()))},
        "models": {"total": sum(models.values()), "by_status": models},
        "recalls": recalls,
        "incidents": {"total": sum(severity.values()), "by_severity": severity},
        "fraud_alerts": {"open": sum(fraud_kinds.values()), "by_kind": fraud_kinds,
                         "by_group": fraud_groups, "recent": recent},
        "approval_queue": queue,
    }


def fraud_group(kind: str) -> str:
    for group, needles in FRAUD_GROUPS.items():
        if any(n in kind for n in needles):
            return group
    return "other"


def overview(session: Session, *, actor: Actor | None, province: str | None = None,
             manufacturer_id: str | None = None) -> dict[str, Any]:
    prefix = province_prefix(actor, province)
    registry = cached(session, ("registry", prefix, manufacturer_id),
                      lambda s: _compute_registry(s, prefix, manufacturer_id),
                      stamp_of=fingerprint, background=False)
    units = cached(session, ("units", prefix, manufacturer_id),
                   lambda s: _compute_units(s, prefix, manufacturer_id), stamp_of=units_stamp)
    return {**registry, **units}


def responsibility(session: Session, *, actor: Actor | None, province: str | None = None,
                   manufacturer_id: str | None = None) -> dict[str, Any]:
    """Incidents by the most likely responsible party of their trace report (newest
    :data:`RESPONSIBILITY_SAMPLE` incidents in scope)."""
    prefix = province_prefix(actor, province)

    def compute(session: Session) -> dict[str, Any]:
        from robopass.incidents import trace

        uf = _unit_filter(prefix, manufacturer_id)
        q = select(Incident).order_by(Incident.at.desc()).limit(RESPONSIBILITY_SAMPLE)
        if uf:
            q = q.where(Incident.code.in_(select(Unit.code).where(*uf)))
        counts: dict[str, int] = {}
        n = 0
        for incident in session.scalars(q):
            n += 1
            try:
                report = trace.build_report(session, incident)
            except Exception:  # noqa: BLE001 — a broken report must not break the dashboard
                counts["undetermined"] = counts.get("undetermined", 0) + 1
                continue
            cands = report.get("responsibility") or []
            party = cands[0]["party"] if cands and cands[0].get("score", 0) > 0 \
                else "undetermined"
            counts[party] = counts.get(party, 0) + 1
        return {"sampled": n, "by_party": dict(sorted(counts.items(), key=lambda kv: -kv[1]))}

    return cached(session, ("responsibility", prefix, manufacturer_id),  # type: ignore
                  compute, stamp_of=fingerprint)


def fleet_health(session: Session, *, actor: Actor | None, province: str | None = None,
                 manufacturer_id: str | None = None) -> dict[str, Any]:
    prefix = province_prefix(actor, province)
    uf = _unit_filter(prefix, manufacturer_id)
    query = select(Unit.code).where(*uf) if uf else None
    return cached(session, ("fleet", prefix, manufacturer_id),  # type: ignore[no-any-return]
                  lambda s: telemetry_service.fleet_health_distribution(
                      s, unit_codes_query=query), ttl=TELEMETRY_TTL)


# ----------------------------------------------------------------------------- supply chain

class SupplyFigures(NamedTuple):
    """What the supply-chain view is built from, for one scope."""

    #: (component type, supplier id, units carrying one), in (type, supplier) order
    rows: list[tuple[str, str, int]]
    #: supplier id → units carrying any of its components
    robots_per_supplier: dict[str, int]
    units_with_components: int


def supply_figures(session: Session, prefix: str | None) -> SupplyFigures:
    """The scope's figures from the maintained ``supply_counts`` (:mod:`.supply`): one
    ``GROUP BY`` over a table of (province, type, supplier) rows, never a scan of
    ``components``."""
    conds = [SupplyCount.province.like(prefix + "%")] if prefix else []
    sums = session.execute(
        select(SupplyCount.component_type, SupplyCount.supplier_id, func.sum(SupplyCount.units))
        .where(*conds).group_by(SupplyCount.component_type, SupplyCount.supplier_id)
        .order_by(SupplyCount.component_type, SupplyCount.supplier_id))
    rows: list[tuple[str, str, int]] = []
    per_supplier: dict[str, int] = {}
    total = 0
    for ctype, supplier, n in sums:
        if not n:
            continue
        if ctype and supplier:
            rows.append((ctype, supplier, int(n)))
        elif supplier:
            per_supplier[supplier] = int(n)
        else:
            total = int(n)
    return SupplyFigures(rows, per_supplier, total)


def supply_chain_view(session: Session, prefix: str | None,
                      figures: SupplyFigures) -> dict[str, Any]:
    """The supply-chain view (the ``SupplyChain`` schema) of one scope's figures."""
    rows = figures.rows
    orgs = _names(session, {s for _t, s, _n in rows})

    def sup(sid: str) -> dict[str, Any]:
        o = orgs.get(sid)
        return {"id": sid, "name": o.name if o else sid, "country": o.country if o else None}

    by_type: dict[str, list[tuple[str, int]]] = {}
    for t, s, n in rows:
        by_type.setdefault(t, []).append((s, n))
    types = [_component_type_view(t, entries, sup) for t, entries in sorted(by_type.items())]
    units_with_components = figures.units_with_components
    critical = sorted(({**sup(s), "robots": n,
                        "share_of_robots": round(n / units_with_components, 4)
                        if units_with_components else 0.0,
                        "component_types": sorted({t for t, s2, _n in rows if s2 == s})}
                       for s, n in figures.robots_per_supplier.items()),
                      key=lambda r: (-int(r["robots"]), str(r["name"])))
    countries_all: dict[str, int] = {}
    for view in types:
        for c in view["by_country"]:
            countries_all[c["country"]] = countries_all.get(c["country"], 0) + c["units"]
    return {"scope": {"province": f"{prefix}0000" if prefix else None},
            "units_with_components": units_with_components,
            "component_types": types,
            "by_country": [{"country": c, "components": n} for c, n in
                           sorted(countries_all.items(), key=lambda kv: -kv[1])],
            "critical_suppliers": critical[:20],
            "concentration_method": "HHI = sum of squared supplier shares of the units "
                                    "carrying that component type, 0-10000 (>2500: highly "
                                    "concentrated)"}


def _component_type_view(t: str, entries: list[tuple[str, int]],
                         sup: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    total = sum(n for _s, n in entries)
    entries = sorted(entries, key=lambda e: -e[1])
    shares = [n / total for _s, n in entries] if total else []
    countries: dict[str, int] = {}
    for s, n in entries:
        c = sup(s)["country"] or "?"
        countries[c] = countries.get(c, 0) + n
    return {
        "component_type": t, "units": total, "suppliers": len(entries),
        "hhi": round(sum(x * x for x in shares) * 10_000),
        "top_supplier_share": round(shares[0], 4) if shares else 0.0,
        "by_supplier": [{**sup(s), "units": n, "share": round(n / total, 4)}
                        for s, n in entries],
        "by_country": [{"country": c, "units": n, "share": round(n / total, 4)}
                       for c, n in sorted(countries.items(), key=lambda kv: -kv[1])],
    }


def supply_chain(session: Session, *, actor: Actor | None,
                 province: str | None = None) -> dict[str, Any]:
    """Key components of the units in scope by supplier and country (SPEC §9), from the
    maintained counts: milliseconds in any worker, from its first request. Cached per process
    under the ledger size (every binding, release and province move is a ledgered event), so
    exact at every commit."""
    prefix = province_prefix(actor, province)
    return cached(session, ("supply", prefix),  # type: ignore[no-any-return]
                  lambda s: supply_chain_view(s, prefix, supply_figures(s, prefix)),
                  stamp_of=ledger_stamp, background=False)


# ----------------------------------------------------------------------------- drill-down

def unit_list(session: Session, *, actor: Actor, status: str | None = None,
              province: str | None = None, manufacturer_id: str | None = None,
              model_id: str | None = None, alert: str | None = None, limit: int = 100,
              offset: int = 0) -> tuple[int, list[Unit]]:
    """Units in the actor's scope matching the filters (``alert``: an open health alert of
    that rule), in code order: the dashboard's drill-down."""
    from robopass.telemetry.models import TelemetryAlert

    prefix = province_prefix(actor, province)
    conds = _unit_filter(prefix, manufacturer_id)
    if status:
        conds.append(Unit.status == status)
    if alert:
        conds.append(Unit.code.in_(select(TelemetryAlert.code).where(
            TelemetryAlert.rule == alert, TelemetryAlert.closed_at.is_(None))))
    if model_id:
        conds.append(Unit.model_id == model_id)
    where = and_(*conds) if conds else literal(True)
    total = int(session.scalar(select(func.count()).select_from(Unit).where(where)) or 0)
    units = list(session.scalars(select(Unit).where(where).order_by(Unit.code)
                                 .limit(limit).offset(offset)))
    return total, units


__all__ = ["overview", "supply_chain", "supply_figures", "supply_chain_view", "SupplyFigures",
           "fleet_health", "responsibility", "unit_list", "fingerprint", "clear_cache", "warm",
           "or_"]
