from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class PassportIssued(BaseModel):
    """``passport``: a compact JWS (EdDSA); ``history``: the event summaries bound by its
    signed ``history_digest``."""

    passport: str
    history: list[dict[str, Any]]
