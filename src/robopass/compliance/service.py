"""Compliance findings: the scan's diff (open what is new, resolve what went away), the gate
on reading them, and notices through the webhook outbox (SPEC §14)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from robopass.auth.service import Actor
from robopass.compliance import scan as compliance_scan
from robopass.compliance.models import KINDS, Finding, ScanState
from robopass.db import bulk_insert, db_timestamp
from robopass.errors import InvalidInput
from robopass.ids import new_id
from robopass.robots.models import Unit
from robopass.timeutil import rfc3339, utcnow

TOPIC = "compliance_finding"
#: Findings listed in one notice; the notice counts the rest.
NOTICE_LIMIT = 100
_CHUNK = 900

Progress = Callable[[str, int], None]


@dataclass
class ScanReport:
    opened: int = 0
    resolved: int = 0
    open_by_kind: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    #: a full scan (the first, a daily one, or after large changes) or an incremental one
    full: bool = True
    #: units judged one by one, and (model, operator, scenario, …) groups judged
    judged_units: int = 0
    groups: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"opened": self.opened, "resolved": self.resolved,
                "open_by_kind": dict(self.open_by_kind), "seconds": round(self.seconds, 2),
                "full": self.full, "judged_units": self.judged_units, "groups": self.groups}


def run_scan(session: Session, *, now: datetime | None = None,
             progress: Progress | None = None, full: bool = False) -> ScanReport:
    """One scan in the caller's transaction: judge (incrementally unless ``full``, see
    :func:`robopass.compliance.scan.judge`), then open, resolve and notify."""
    import time

    started = time.perf_counter()
    report_progress: Progress = progress or (lambda _stage, _n: None)
    now = now or utcnow()
    report_progress("judging units in service", 0)
    scan = compliance_scan.judge(session, now, full=full)
    report = apply_findings(session, scan, now=now, progress=report_progress)
    report.seconds = time.perf_counter() - started
    return report


def apply_findings(session: Session, scan: compliance_scan.Scan, *, now: datetime,
                   progress: Progress | None = None) -> ScanReport:
    """Open the findings the scan wants that are not open, resolve the open ones it lacks
    (every unit with an open finding was judged again), notify, and keep the scan's marks
    for the next one. Cheap (it touches only the difference), so a server judges in a read
    transaction and holds the write lock only for this."""
    desired = scan.desired
    report_progress: Progress = progress or (lambda _stage, _n: None)
    report_progress("comparing with open findings", len(desired))
    _keep_marks(session, scan.marks)
    open_rows = {(kind, code): fid for fid, kind, code in session.execute(
        select(Finding.id, Finding.kind, Finding.code).where(Finding.resolved_at.is_(None)))}
    gone = [fid for key, fid in open_rows.items() if key not in desired]
    for start in range(0, len(gone), _CHUNK):
        session.execute(update(Finding).where(Finding.id.in_(gone[start:start + _CHUNK]))
                        .values(resolved_at=now))
    new = [(key, wanted) for key, wanted in desired.items() if key not in open_rows]
    rows = [(new_id("find"), code, kind, w.detail[:1000], db_timestamp(session, w.since),
             w.policy_version, None, w.scenario, w.province) for (kind, code), w in new]
    bulk_insert(session, "compliance_findings", ("id", "code", "kind", "detail", "since",
                                                 "policy_version", "resolved_at", "scenario",
                                                 "province"), rows)
    report_progress("notifying", len(rows))
    _notify(session, rows, now)
    return ScanReport(opened=len(rows), resolved=len(gone),
                      open_by_kind=dict(Counter(kind for kind, _code in desired)),
                      full=scan.full, judged_units=scan.judged_units, groups=scan.groups)


def _keep_marks(session: Session, marks: compliance_scan.Marks) -> None:
    state = session.get(ScanState, 1)
    if state is None:
        session.add(ScanState(id=1, at=marks.at, events_mark=marks.events, marks=marks.dump()))
    elif state.at <= marks.at:  # a slower concurrent scan never rolls the marks back
        state.at, state.events_mark, state.marks = marks.at, marks.events, marks.dump()
    session.flush()


def _notify(session: Session, rows: list[tuple[Any, ...]], now: datetime) -> None:
    """One notice per organisation per scan, listing its new findings (the first
    :data:`NOTICE_LIMIT`, and how many in all)."""
    if not rows:
        return
    from robopass.notifications import service as notification_service

    by_code: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        by_code.setdefault(row[1], []).append(row)
    codes = sorted(by_code)
    per_org: dict[str, list[dict[str, Any]]] = {}
    for start in range(0, len(codes), _CHUNK):
        for code, owner, operator, maker in session.execute(
                select(Unit.code, Unit.owner_id, Unit.operator_id, Unit.manufacturer_id)
                .where(Unit.code.in_(codes[start:start + _CHUNK]))):
            for fid, _code, kind, detail, *_rest in by_code[code]:
                item = {"id": fid, "code": code, "kind": kind, "detail": detail}
                for org in {owner, operator, maker}:
                    if org:
                        per_org.setdefault(org, []).append(item)
    everything = [{"id": r[0], "code": r[1], "kind": r[2], "detail": r[3]} for r in rows]
    for reg in notification_service.regulator_ids(session):
        if reg:
            per_org.setdefault(reg, everything)
    notification_service.notify_each(session, topic=TOPIC, now=now, payloads={
        org: {"opened": len(items), "by_kind": dict(Counter(i["kind"] for i in items)),
              "findings": items[:NOTICE_LIMIT], "at": rfc3339(now)}
        for org, items in per_org.items()})


def visible_findings(session: Session, *, actor: Actor, scenario: str | None = None,
                     province: str | None = None, kind: str | None = None,
                     open_only: bool | None = None, code: str | None = None,
                     limit: int = 200, offset: int = 0) -> list[Finding]:
    """Findings the actor may read, newest first: a regulator those in its scope (a provincial
    one its province's units), any other organisation those of units it owns, operates or
    made. Lists are filtered, not refused."""
    if kind is not None and kind not in KINDS:
        raise InvalidInput(f"unknown kind {kind!r}; kinds: {', '.join(KINDS)}", field="kind",
                           code="invalid_kind")
    query = select(Finding).join(Unit, Unit.code == Finding.code)
    if actor.is_regulator:
        if actor.scope_province is not None:
            query = query.where(Unit.province.like(f"{actor.scope_province[:2]}%"))
    else:
        query = query.where(or_(Unit.owner_id == actor.id, Unit.operator_id == actor.id,
                                Unit.manufacturer_id == actor.id))
    if scenario:
        query = query.where(Finding.scenario == scenario)
    if province:
        query = query.where(Finding.province.like(f"{province[:2]}%"))
    if kind:
        query = query.where(Finding.kind == kind)
    if code:
        query = query.where(Finding.code == code)
    if open_only is True:
        query = query.where(Finding.resolved_at.is_(None))
    elif open_only is False:
        query = query.where(Finding.resolved_at.is_not(None))
    return list(session.scalars(query.order_by(Finding.since.desc(), Finding.id)
                                .limit(limit).offset(offset)))


def open_by_kind(session: Session, *, province_prefix: str | None = None) -> dict[str, int]:
    """Open findings by kind (every kind listed, zeros included), for the dashboard."""
    query = select(Finding.kind, func.count()).where(Finding.resolved_at.is_(None))
    if province_prefix:
        query = query.where(Finding.province.like(f"{province_prefix}%"))
    counts = dict(session.execute(query.group_by(Finding.kind)).all())
    return {k: int(counts.get(k, 0)) for k in KINDS}


def view(f: Finding) -> dict[str, Any]:
    return {"id": f.id, "code": f.code, "kind": f.kind, "detail": f.detail,
            "since": rfc3339(f.since), "policy_version": f.policy_version,
            "resolved_at": rfc3339(f.resolved_at), "scenario": f.scenario,
            "province": f.province}
