"""``POST /api/v1/federation/handover``: a peer registry's signed hand-over message."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body
from pydantic import BaseModel

from robopass.db import transaction
from robopass.deps import WriteSession
from robopass.federation import handover

router = APIRouter(prefix="/api/v1/federation", tags=["federation"])
MAX_BYTES = 16 * 1024


class HandoverAck(BaseModel):
    code: str
    kind: str
    to_country: str
    #: False when the message had been recorded before (deliveries are at least once).
    recorded: bool
    event_id: str | None


@router.post("/handover", response_model=HandoverAck,
             responses={401: {"description": "Unknown sender or bad signature"},
                        403: {"description": "Not addressed to us, or the sender is not the "
                              "registry the robot lives in"},
                        404: {"description": "No such robot of this registry"},
                        409: {"description": "Exported elsewhere, or already terminal"},
                        422: {"description": "The body is not a compact JWS"}})
def receive_handover(token: Annotated[str, Body(media_type="application/jwt",
                                                 max_length=MAX_BYTES)],
                     session: WriteSession) -> HandoverAck:
    """A peer registry tells us (its origin) that it imported one of our robots
    (``exported``), or that a robot living there was scrapped or recycled. The body is a
    compact JWS signed by the peer's key, checked against the JWKS pinned by ``robopass peer
    add`` (see ``robopass.federation.messages``). Idempotent."""
    with transaction(session):
        return HandoverAck(**handover.receive(session, token=token.strip()))
