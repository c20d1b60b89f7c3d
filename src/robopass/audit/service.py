"""Recording and listing sensitive reads.

Reads that return more than the public tier — a unit's protected fields, its event history,
EPCIS export, telemetry and health, incident trace reports — are logged with the reader, the
subject and the tier. The entry is written in its own short transaction after the read (a read
has no write transaction of its own); a failure to log fails the request rather than leaving an
unlogged read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from robopass.audit.models import AuditEntry
from robopass.auth.service import Actor
from robopass.db import transaction, write_session
from robopass.ids import new_id
from robopass.timeutil import rfc3339, utcnow


def record(session: Session, *, actor: Actor, action: str, subject: str, tier: str,
           path: str = "") -> None:
    session.add(AuditEntry(id=new_id("aud"), at=utcnow(), organization_id=actor.id,
                           organization_name=actor.name[:200], action=action,
                           subject=subject[:64], tier=tier, path=path[:300]))


def record_read(request: Request, actor: Actor, *, action: str, subject: str,
                tier: str) -> None:
    """Log a sensitive read made through the API (its own transaction)."""
    with write_session(request.app.state.settings.database_url) as session, \
            transaction(session):
        record(session, actor=actor, action=action, subject=subject, tier=tier,
               path=request.url.path)


def entries(session: Session, *, subject: str | None = None, organization_id: str | None = None,
            since: datetime | None = None, limit: int = 200) -> list[dict[str, Any]]:
    query = select(AuditEntry).order_by(AuditEntry.at.desc()).limit(limit)
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
