from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query

from robopass.audit import service
from robopass.audit.schemas import AuditLog
from robopass.deps import ReadSession, RegulatorActor

router = APIRouter(prefix="/api/v1", tags=["audit"])


@router.get("/audit-log", response_model=AuditLog)
def audit_log(session: ReadSession, actor: RegulatorActor, subject: str | None = None,
              organization: str | None = None, since: datetime | None = None,
              limit: int = Query(200, ge=1, le=5000)) -> dict[str, Any]:
    """Regulator: sensitive reads in its scope, newest first (filter by unit code, reader,
    time)."""
    return {"entries": service.entries(session, actor=actor, subject=subject,
                                       organization_id=organization, since=since, limit=limit)}
