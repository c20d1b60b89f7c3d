from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from robopass.db import transaction
from robopass.deps import CurrentActor, ReadSession, WriteSession
from robopass.notifications import service
from robopass.notifications.schemas import Inbox, SubscriptionCreated, Subscriptions

router = APIRouter(prefix="/api/v1", tags=["notifications"])


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2000)
    topics: list[str] = Field(min_length=1, max_length=20,
                              description="recall, fraud_alert, health_alert, defect_signal, "
                              "incident, or '*'")


@router.post("/subscriptions", status_code=201, response_model=SubscriptionCreated)
def subscribe(body: SubscriptionCreate, session: WriteSession,
              actor: CurrentActor) -> dict[str, Any]:
    """Subscribe a webhook; the signing ``secret`` is shown once."""
    with transaction(session):
        sub, secret = service.subscribe(session, actor=actor, url=body.url, topics=body.topics)
        return {**service.subscription_view(sub), "secret": secret}


@router.get("/subscriptions", response_model=Subscriptions)
def list_subscriptions(session: ReadSession, actor: CurrentActor) -> dict[str, Any]:
    return {"subscriptions": [service.subscription_view(s)
                              for s in service.list_subscriptions(session, actor=actor)]}


@router.delete("/subscriptions/{subscription_id}", status_code=204)
def revoke(subscription_id: str, session: WriteSession, actor: CurrentActor) -> None:
    with transaction(session):
        service.revoke(session, actor=actor, subscription_id=subscription_id)


@router.get("/notifications", response_model=Inbox)
def inbox(session: ReadSession, actor: CurrentActor, topic: str | None = None,
          before: str | None = None, limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
    """The organisation's notifications (newest first) and their webhook delivery state."""
    return {"notifications": service.inbox(session, actor=actor, topic=topic, limit=limit,
                                           before=before)}
