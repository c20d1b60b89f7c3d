"""Units (robots) and the issuance counters behind their codes (SPEC §2, §3).

The unit's primary key is its 29-character code: it is never reused, and it starts with the
company code, so the table distributes by company (SPEC §10, Citus-compatible).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from robopass.db import Base, UTCDateTime

UNIT_STATUSES = (
    "coded",
    "manufactured",
    "in_distribution",
    "sold",
    "in_service",
    "under_maintenance",
    "suspended",
    "decommissioned",
    "recycled",
    "scrapped",
)
TERMINAL_STATUSES = frozenset({"recycled", "scrapped"})


#: Units whose status-list value is not 0 by their own state (model state aside).
LISTED_WHERE = "status IN ('suspended', 'recycled', 'scrapped') OR open_recalls > 0"


class CodeCounter(Base):
    """Last issued sequence per (company, model, plant, production month)."""

    __tablename__ = "code_counters"

    company_code: Mapped[str] = mapped_column(String(4), primary_key=True)
    model_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    plant: Mapped[str] = mapped_column(String(2), primary_key=True)
    month: Mapped[str] = mapped_column(String(4), primary_key=True)  # YYMM
    last_sequence: Mapped[int] = mapped_column(Integer, default=0)


class Unit(Base):
    __tablename__ = "units"
    __table_args__ = (
        Index("ix_units_model_status", "model_id", "status"),
        Index("ix_units_owner", "owner_id"),
        # Partial: a freshly coded unit has neither, so issuance writes no entry for it.
        Index("ix_units_operator", "operator_id",
              sqlite_where=text("operator_id IS NOT NULL"),
              postgresql_where=text("operator_id IS NOT NULL")),
        Index("ix_units_province", "province", sqlite_where=text("province IS NOT NULL"),
              postgresql_where=text("province IS NOT NULL")),
        # The compliance scan and the dashboard read units by scenario and province.
        Index("ix_units_scenario", "scenario", "province",
              sqlite_where=text("scenario IS NOT NULL"),
              postgresql_where=text("scenario IS NOT NULL")),
        # The dashboard's units per pilot, and a pilot's unit list (migration 0012).
        Index("ix_units_pilot", "pilot_id", "status", sqlite_where=text("pilot_id IS NOT NULL"),
              postgresql_where=text("pilot_id IS NOT NULL")),
        # The status list (SPEC §16) reads only the units whose list value is not 0 ("valid"):
        # this predicate is the one ``statuslist.service`` queries with.
        Index("ix_units_status_listed", "status_index", sqlite_where=text(LISTED_WHERE),
              postgresql_where=text(LISTED_WHERE)),
        # Room on each page for HOT updates: recalls and events rewrite unit rows in bulk.
        {"postgresql_with": {"fillfactor": 80}},
    )

    code: Mapped[str] = mapped_column(String(29), primary_key=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("product_models.id"))
    manufacturer_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    production_month: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    plant: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(20), default="coded")
    #: State to return to on ``reinstated``.
    status_before_suspension: Mapped[str | None] = mapped_column(String(20))
    #: True when a regulator suspended the unit: then only a regulator reinstates it.
    suspended_by_authority: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Recycler named at decommissioning; None means any recycler may take it.
    recycler_id: Mapped[str | None] = mapped_column(ForeignKey("organizations.id"))
    owner_id: Mapped[str | None] = mapped_column(ForeignKey("organizations.id"))
    operator_id: Mapped[str | None] = mapped_column(ForeignKey("organizations.id"))
    province: Mapped[str | None] = mapped_column(String(6))
    city: Mapped[str | None] = mapped_column(String(6))
    firmware: Mapped[str | None] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    #: Count of recalls open for this unit (maintained by the recall service).
    open_recalls: Mapped[int] = mapped_column(Integer, default=0)
    #: Set for robots admitted from a peer registry (SPEC §8).
    imported_from: Mapped[str | None] = mapped_column(String(2))
    imported: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The model version (1 = the original filing) the unit was built to (SPEC §13).
    model_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    #: The scenario of the unit's deployment (SPEC §14), the pilot it was deployed under and
    #: the national policy version it was judged by; set by ``deployed``, cleared on resale.
    scenario: Mapped[str | None] = mapped_column(String(24))
    pilot_id: Mapped[str | None] = mapped_column(String(40))
    policy_version: Mapped[int | None] = mapped_column(Integer)
    #: Position in the registry's status list (SPEC §16), fixed at issuance (or import).
    status_index: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    #: Set at the origin when a peer registry imported the robot (SPEC §16 hand-over): the
    #: robot lives in that country's registry now and takes no further local events but
    #: corrections.
    exported_to: Mapped[str | None] = mapped_column(String(2))
