"""Organisations (SPEC §1) and the service authorisations they grant."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from robopass.db import Base, UTCDateTime

ORGANIZATION_STATUSES = ("approved", "suspended", "deregistered")
ACCREDITATION_SCOPES = ("intelligence", "safety")

ROLES = (
    "regulator",
    "manufacturer",
    "component_supplier",
    "software_provider",
    "seller",
    "operator",
    "service_provider",
    "recycler",
    "testing_lab",
)


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    roles: Mapped[list[str]] = mapped_column(JSON)
    country: Mapped[str] = mapped_column(String(2))
    uscc: Mapped[str | None] = mapped_column(String(18), unique=True)
    registration_number: Mapped[str | None] = mapped_column(String(64))
    company_code: Mapped[str | None] = mapped_column(String(4), unique=True)
    #: China administrative division code of the seat (e.g. 110000 Beijing), optional.
    province: Mapped[str | None] = mapped_column(String(6))
    city: Mapped[str | None] = mapped_column(String(6))
    #: A provincial regulator acts only on this province's companies and units (SPEC §1).
    scope_province: Mapped[str | None] = mapped_column(String(6))
    #: "approved" (active), "suspended" (authenticates and reads, writes nothing) or
    #: "deregistered" (as suspended, and final in practice); see docs/filings.md.
    status: Mapped[str] = mapped_column(String(16), default="approved")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: Legal name in Chinese, shown to readers whose language is zh (SPEC §13).
    name_zh: Mapped[str | None] = mapped_column(String(200))
    #: Reason given with the last suspension, reinstatement or deregistration.
    status_reason: Mapped[str | None] = mapped_column(String(1000))
    #: A testing lab's accreditation (SPEC §13): the scopes it may evaluate and until when.
    accreditation_scopes: Mapped[list[str] | None] = mapped_column(JSON)
    accredited_until: Mapped[date | None] = mapped_column(Date)


class ServiceAuthorization(Base):
    """An owner or operator authorises a service provider for one unit or all its units."""

    __tablename__ = "service_authorizations"
    __table_args__ = (Index("ix_service_auth_provider", "provider_id", "granted_by_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    granted_by_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    #: None means every unit the granting organisation owns or operates.
    code: Mapped[str | None] = mapped_column(String(29))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Counter(Base):
    """Generic named counters (company numbers, model numbers per company)."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)
