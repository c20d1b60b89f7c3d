from __future__ import annotations

from pydantic import BaseModel


class AuditEntry(BaseModel):
    id: str
    at: str
    organization: str | None
    organization_name: str | None
    action: str
    subject: str | None
    tier: str | None
    path: str | None


class AuditLog(BaseModel):
    entries: list[AuditEntry]
