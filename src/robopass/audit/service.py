"""Recording and listing sensitive reads.

Reads that return more than the public tier — a unit's protected fields, its event history,
EPCIS export, telemetry and health, incident trace reports — are logged with the reader, the
subject and the tier. The entry is written by ``robopass.gate.see`` — the function that also decides
the tier — for every interface (API, web pages, CLI); a failure to log fails the read rather
than leaving it unlogged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from robopass import gate
from robopass.audit.models import AuditEntry
from robopass.auth.service import Actor
from robopass.ids import new_id
from robopass.timeutil import rfc3339, utcnow


def record(session: Session, *, actor: Actor, action: str, subject: str, tier: str,
           path: str = "") -> None:
    session.add(AuditEntry(id=new_id("aud"), at=utcnow(), organization_id=actor.id,
                           organization_name=actor.name[:200], action=action,
                           subject=subject[:64], tier=tier, path=path[:300]))


def entries(session: Session, *, actor: Actor, subject: str | None = None,
            organization_id: str | None = None, since: datetime | None = None,
            limit: int = 200) -> list[dict[str, Any]]:
    """Audit entries a regulator may read, newest first: a provincial regulator sees reads of
    its province's units and incidents and reads by its province's organisations."""
    from robopass.incidents.models import Incident

    gate.require_regulator(actor)
    query = select(AuditEntry).order_by(AuditEntry.at.desc()).limit(limit)
    if actor.scope_province is not None:
        query = query.where(or_(
            gate.code_filter(actor, AuditEntry.subject, AuditEntry.organization_id),
            AuditEntry.subject.in_(select(Incident.id).where(
                Incident.code.in_(gate.units_in_scope(actor))))))
    if subject:
        query = query.where(AuditEntry.subject == subject)
    if organization_id:
        query = query.where(AuditEntry.organization_id == organization_id)
    if since:
        query = query.where(AuditEntry.at >= since)
    return [{"id": e.id, "at": rfc3339(e.at), "organization": e.organization_id,
             "organization_name": e.organization_name, "action": e.action,
             "subject": e.subject, "tier": e.tier, "path": e.path}
            for e in session.scalars(query)]
