"""Notifications: subscriptions, and writing messages into the outbox with their cause.

:func:`notify` never commits and never does network I/O: it writes a notification row per
organisation and a pending delivery per matching subscription in the caller's transaction, so
a recall and its notices land together or not at all. :mod:`robopass.notifications.delivery`
sends them later.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import String, cast, insert, select, update
from sqlalchemy.orm import Session

from robopass import netguard
from robopass.auth.service import Actor
from robopass.errors import InvalidInput, NotFound
from robopass.ids import new_id
from robopass.notifications.models import Delivery, Notification, Subscription
from robopass.organizations.models import Organization
from robopass.timeutil import rfc3339, utcnow

#: Topics the platform sends (documented in docs/recalls-and-incidents.md); ``*`` takes all.
TOPICS = ("recall", "fraud_alert", "health_alert", "defect_signal", "incident",
          "compliance_finding")
TOPIC_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_SUBSCRIPTIONS = 20


def _check_url(url: str) -> str:
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket
        host = None
    if host is None or parts.scheme not in ("http", "https") or len(url) > 2000 \
            or any(ord(ch) < 33 for ch in url):
        raise InvalidInput("url must be an absolute http(s) URL of at most 2000 characters",
                           field="url", code="invalid_url")
    return url


def subscribe(session: Session, *, actor: Actor, url: str,
              topics: list[str]) -> tuple[Subscription, str]:
    """Create a webhook subscription; returns it and its signing secret (shown once)."""
    url = _check_url(url)
    netguard.check_url(url, field="url")  # no webhooks to the server's own network
    if not topics:
        raise InvalidInput("topics must name at least one topic (or '*')", field="topics")
    for i, topic in enumerate(topics):
        if topic != "*" and (not isinstance(topic, str) or not TOPIC_RE.match(topic)):
            raise InvalidInput(f"topic {topic!r} is not a topic name; known: "
                               f"{', '.join(TOPICS)} or '*'", field=f"topics[{i}]",
                               code="invalid_topic")
    active = session.scalars(select(Subscription.id).where(
        Subscription.organization_id == actor.id, Subscription.revoked_at.is_(None))).all()
    if len(active) >= MAX_SUBSCRIPTIONS:
        raise InvalidInput(f"at most {MAX_SUBSCRIPTIONS} active subscriptions per organisation",
                           field="url", code="too_many_subscriptions")
    secret = "whsec_" + secrets.token_urlsafe(32)
    sub = Subscription(id=new_id("sub"), organization_id=actor.id, url=url,
                       topics=sorted(set(topics)), secret=secret, created_at=utcnow())
    session.add(sub)
    session.flush()
    return sub, secret


def subscription_view(sub: Subscription) -> dict[str, Any]:
    return {"id": sub.id, "url": sub.url, "topics": list(sub.topics),
            "created_at": rfc3339(sub.created_at), "revoked_at": rfc3339(sub.revoked_at)}


def list_subscriptions(session: Session, *, actor: Actor) -> list[Subscription]:
    return list(session.scalars(select(Subscription).where(
        Subscription.organization_id == actor.id).order_by(Subscription.created_at)))


def revoke(session: Session, *, actor: Actor, subscription_id: str) -> None:
    """Stop a subscription; its pending deliveries are abandoned (status ``cancelled``)."""
    sub = session.get(Subscription, subscription_id)
    if sub is None or sub.organization_id != actor.id or sub.revoked_at is not None:
        raise NotFound(f"no active subscription {subscription_id!r} of yours",
                       code="subscription_not_found")
    sub.revoked_at = utcnow()
    session.execute(update(Delivery).where(Delivery.subscription_id == sub.id,
                                           Delivery.status == "pending")
                    .values(status="cancelled"))


def notify(session: Session, *, organization_ids: Iterable[str | None], topic: str,
           payload: dict[str, Any], now: datetime | None = None) -> list[str]:
    """Write a notification to each organisation and queue it for each matching webhook.

    Runs in the caller's transaction (the outbox pattern); returns the notification ids.
    """
    return notify_each(session, topic=topic, now=now,
                       payloads={o: payload for o in organization_ids if o})


def notify_each(session: Session, *, topic: str, payloads: Mapping[str, dict[str, Any]],
                now: datetime | None = None) -> list[str]:
    """Like :func:`notify` with a payload per organisation (e.g. the units it owns)."""
    org_ids = sorted(payloads)
    if not org_ids:
        return []
    now = now or utcnow()
    subs: dict[str, list[str]] = {}
    for start in range(0, len(org_ids), 900):
        for sub_id, org_id, topics in session.execute(
                select(Subscription.id, Subscription.organization_id, Subscription.topics)
                .where(Subscription.organization_id.in_(org_ids[start:start + 900]),
                       Subscription.revoked_at.is_(None))):
            if "*" in topics or topic in topics:
                subs.setdefault(org_id, []).append(sub_id)
    notes: list[dict[str, Any]] = []
    deliveries: list[dict[str, Any]] = []
    for org_id in org_ids:
        note_id = new_id("ntf")
        notes.append({"id": note_id, "organization_id": org_id, "topic": topic,
                      "payload": payloads[org_id], "created_at": now})
        for sub_id in subs.get(org_id, ()):
            deliveries.append({"id": new_id("dlv"), "notification_id": note_id,
                               "subscription_id": sub_id, "status": "pending", "attempts": 0,
                               "next_attempt_at": now})
    session.execute(insert(Notification), notes)
    if deliveries:
        session.execute(insert(Delivery), deliveries)
    return [n["id"] for n in notes]


def regulator_ids(session: Session, *, province: str | None = None) -> list[str]:
    """National regulators, plus the provincial regulator of ``province`` when given."""
    rows = session.execute(select(Organization.id, Organization.roles,
                                  Organization.scope_province)
                           .where(cast(Organization.roles, String).like('%"regulator"%')))
    out = []
    for org_id, roles, scope in rows:
        if "regulator" not in roles:
            continue
        if scope is None or (province and province[:2] == scope[:2]):
            out.append(org_id)
    return out


def notify_regulators(session: Session, *, topic: str, payload: dict[str, Any],
                      province: str | None = None) -> list[str]:
    return notify(session, organization_ids=regulator_ids(session, province=province),
                  topic=topic, payload=payload)


def inbox(session: Session, *, actor: Actor, topic: str | None = None, limit: int = 100,
          before: str | None = None) -> list[dict[str, Any]]:
    """The organisation's notifications, newest first, with each webhook delivery's state."""
    query = select(Notification).where(Notification.organization_id == actor.id)
    if topic:
        query = query.where(Notification.topic == topic)
    if before:
        query = query.where(Notification.id < before)
    notes = list(session.scalars(query.order_by(Notification.id.desc()).limit(limit)))
    states: dict[str, list[dict[str, Any]]] = {}
    if notes:
        for d in session.scalars(select(Delivery).where(
                Delivery.notification_id.in_([n.id for n in notes]))):
            states.setdefault(d.notification_id, []).append(
                {"subscription_id": d.subscription_id, "status": d.status,
                 "attempts": d.attempts, "delivered_at": rfc3339(d.delivered_at),
                 "last_error": d.last_error})
    return [{"id": n.id, "topic": n.topic, "payload": n.payload,
             "created_at": rfc3339(n.created_at), "deliveries": states.get(n.id, [])}
            for n in notes]
