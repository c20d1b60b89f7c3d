"""Peer registries and the evidence kept for robots admitted from them (SPEC §8)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from robopass.db import Base, UTCDateTime


class Peer(Base):
    """Another country's registry: where it is and the JWKS pinned when it was added."""

    __tablename__ = "federation_peers"

    country: Mapped[str] = mapped_column(String(2), primary_key=True)
    base_url: Mapped[str] = mapped_column(String(300))
    #: The peer's JWK Set as fetched by ``robopass peer add`` (current and retired keys).
    jwks: Mapped[dict[str, Any]] = mapped_column(JSON)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ImportedRobot(Base):
    """The verified passport and history digest of a robot admitted from a peer; the unit row
    itself (``units``, ``imported=True``) keeps the original code."""

    __tablename__ = "imported_robots"

    code: Mapped[str] = mapped_column(ForeignKey("units.code"), primary_key=True)
    country: Mapped[str] = mapped_column(String(2), index=True)
    #: The peer's compact JWS, exactly as received and verified.
    passport: Mapped[str] = mapped_column(Text)
    kid: Mapped[str] = mapped_column(String(64))
    history_digest: Mapped[str] = mapped_column(String(64))
    #: The peer's public event summaries, which hash to ``history_digest``.
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    claims: Mapped[dict[str, Any]] = mapped_column(JSON)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PeerMessage(Base):
    """The hand-over outbox (SPEC §16): a signed message to a peer registry, written in the
    transaction of its cause and delivered later with retries (as webhook deliveries are)."""

    __tablename__ = "federation_outbox"
    __table_args__ = (Index("ix_federation_outbox_status_next", "status", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    #: The peer registry the message goes to.
    country: Mapped[str] = mapped_column(String(2))
    #: ``exported`` (we imported the robot) or ``scrapped`` / ``recycled`` (reported back).
    kind: Mapped[str] = mapped_column(String(20))
    code: Mapped[str] = mapped_column(String(29), index=True)
    #: The compact JWS sent as the request body, signed by our active key.
    body: Mapped[str] = mapped_column(Text)
    #: pending → delivered, or → failed after the last attempt.
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(500))
    last_status: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
