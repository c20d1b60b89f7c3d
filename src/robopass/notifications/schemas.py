from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class SubscriptionRead(BaseModel):
    id: str
    url: str
    topics: list[str]
    created_at: str
    revoked_at: str | None


class SubscriptionCreated(SubscriptionRead):
    secret: str


class Subscriptions(BaseModel):
    subscriptions: list[SubscriptionRead]


class DeliveryState(BaseModel):
    subscription_id: str
    status: str
    attempts: int
    delivered_at: str | None
    last_error: str | None


class NotificationRead(BaseModel):
    id: str
    topic: str
    payload: dict[str, Any]
    created_at: str
    deliveries: list[DeliveryState]


class Inbox(BaseModel):
    notifications: list[NotificationRead]
