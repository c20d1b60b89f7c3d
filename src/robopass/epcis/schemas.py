from __future__ import annotations

from pydantic import BaseModel

from robopass.lifecycle.schemas import EventRead


class Captured(BaseModel):
    """The events recorded from the document, in its order."""

    events: list[EventRead]
