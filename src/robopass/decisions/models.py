"""Decision records, as NetBox keeps an ObjectChange for every change (SPEC §13).

Actor and object are referenced by id with no foreign key, and the actor's name is frozen, so
the history survives renames and deletions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from robopass.db import Base, UTCDateTime


class Decision(Base):
    __tablename__ = "decisions"
    __table_args__ = (
        Index("ix_decisions_object", "object_id", "at"),
        Index("ix_decisions_organization", "organization_id", "at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor_id: Mapped[str] = mapped_column(String(40))
    actor_name: Mapped[str] = mapped_column(String(200))
    #: e.g. model.approve, amendment.reject, organization.suspend, recall.close
    action: Mapped[str] = mapped_column(String(64), index=True)
    #: model, amendment, organization, recall, signal, unit, policy, pilot
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(String(2000))
    #: Groups the decisions one request made (None outside a request).
    request_id: Mapped[str | None] = mapped_column(String(64))
    ledger_index: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    #: The organisation the object belongs to (the organisation itself, a model's or unit's
    #: manufacturer): it may read the decision. None for registry-wide objects (policies).
    organization_id: Mapped[str | None] = mapped_column(String(40))
    #: Province of that organisation or unit, for a provincial regulator's scope.
    province: Mapped[str | None] = mapped_column(String(6))
    #: The unit's code when the object is a unit (the ledger leaf's ``code``), else "".
    code: Mapped[str] = mapped_column(String(29), default="")
