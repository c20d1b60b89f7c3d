"""Audit log of sensitive reads (SPEC §12): who read which unit's protected data, when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from robopass.db import Base, UTCDateTime


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_subject", "subject", "at"),
                      Index("ix_audit_org", "organization_id", "at"))

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    #: Frozen name, so the entry reads the same if the organisation is renamed.
    organization_name: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(64))
    tier: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(String(300))
