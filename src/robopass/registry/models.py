"""The registry itself: its country and the counters it hands out codes from."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from robopass.db import Base, UTCDateTime


class Registry(Base):
    """Exactly one row (id 1): who this registry is."""

    __tablename__ = "registry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    country: Mapped[str] = mapped_column(String(2))
    origin: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_company_number: Mapped[int] = mapped_column(Integer, default=1)
    #: Next free status-list index (SPEC §16); issuance advances it by a whole batch.
    next_status_index: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
