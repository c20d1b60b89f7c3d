"""The delivery worker: send pending webhook deliveries, retrying with exponential backoff.

Each round has three steps so no transaction is held open across network I/O:

1. claim (short write transaction): pick due ``pending`` deliveries, push their
   ``next_attempt_at`` forward by a lease and count the attempt, so a parallel worker skips them;
2. send them over HTTP, signed (:mod:`robopass.notifications.signing`);
3. record (short write transaction): ``delivered`` on a 2xx answer, otherwise the next attempt
   after ``backoff_base * 2**(attempts-1)`` seconds (capped), or ``failed`` after
   :data:`MAX_ATTEMPTS`.

Requests go through :class:`robopass.outbound.GuardedTransport`: only to public addresses,
checked at each attempt and connected to as checked. What went wrong is logged here; the
subscriber sees only ``delivery failed`` (and its own endpoint's HTTP status), so the outbox
cannot be used to probe what the server can reach.

A crash between 1 and 3 only delays the delivery until the lease runs out: delivery is at least
once, and receivers deduplicate on the ``X-Robopass-Id`` header (the notification id).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from robopass.db import reading, writing
from robopass.notifications import signing
from robopass.notifications.models import Delivery, Notification, Subscription
from robopass.outbound import GuardedTransport
from robopass.timeutil import rfc3339, utcnow

MAX_ATTEMPTS = 12
LEASE = timedelta(seconds=60)
MAX_BACKOFF_S = 6 * 3600.0
USER_AGENT = "robopass-webhooks/1"
#: All a subscriber is told about a failed attempt (details go to the server log).
FAILED = "delivery failed"

log = logging.getLogger(__name__)


@dataclass
class RoundReport:
    attempted: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"attempted": self.attempted, "delivered": self.delivered,
                "retrying": self.retrying, "failed": self.failed}

    def settle(self, *, name: str, attempts: int, ok: bool, status: int | None,
               error: str | None, done: datetime, backoff_base: float,
               retry_from: datetime | None = None) -> dict[str, Any]:
        """Count one send's outcome and return the outbox row's new values: delivered,
        failed after :data:`MAX_ATTEMPTS`, or due again after :func:`backoff_seconds` (the
        rule every outbox here follows: webhooks and peer hand-over messages)."""
        self.attempted += 1
        values: dict[str, Any] = {"last_status": status, "last_error": error}
        if ok:
            values.update(status="delivered", delivered_at=done)
            self.delivered += 1
        elif attempts >= MAX_ATTEMPTS:
            values.update(status="failed")
            self.failed += 1
        else:
            values.update(next_attempt_at=(retry_from or done) + timedelta(
                seconds=backoff_seconds(attempts, backoff_base)))
            self.retrying += 1
        if error:
            self.errors.append(f"{name}: {error}")
        return values


@dataclass
class _Claimed:
    delivery_id: str
    attempts: int
    url: str
    secret: str
    body: bytes
    notification_id: str
    topic: str


def backoff_seconds(attempts: int, base: float) -> float:
    """Delay before the next attempt after ``attempts`` failed ones."""
    return min(MAX_BACKOFF_S, base * (2 ** max(0, attempts - 1)))


def body_bytes(*, notification_id: str, topic: str, organization_id: str,
               created_at: datetime, payload: dict[str, Any]) -> bytes:
    return json.dumps({"id": notification_id, "topic": topic, "organization": organization_id,
                       "created_at": rfc3339(created_at), "payload": payload},
                      separators=(",", ":"), ensure_ascii=False, default=str).encode()


def _claim(url: str, *, now: datetime, limit: int) -> list[_Claimed]:
    out: list[_Claimed] = []
    with reading(url) as session:  # cheap check first: idle polls take no writer lock
        if session.scalar(select(Delivery.id).where(
                Delivery.status == "pending", Delivery.next_attempt_at <= now).limit(1)) is None:
            return out
    with writing(url) as session:
        rows = session.execute(
            select(Delivery, Subscription.url, Subscription.secret, Notification)
            .join(Subscription, Subscription.id == Delivery.subscription_id)
            .join(Notification, Notification.id == Delivery.notification_id)
            .where(Delivery.status == "pending", Delivery.next_attempt_at <= now)
            .order_by(Delivery.next_attempt_at).limit(limit)).all()
        for delivery, sub_url, secret, note in rows:
            delivery.attempts += 1
            delivery.next_attempt_at = now + LEASE
            out.append(_Claimed(
                delivery_id=delivery.id, attempts=delivery.attempts, url=sub_url,
                secret=secret, notification_id=note.id, topic=note.topic,
                body=body_bytes(notification_id=note.id, topic=note.topic,
                                organization_id=note.organization_id,
                                created_at=note.created_at, payload=note.payload)))
    return out


def _send(client: httpx.Client, item: _Claimed) -> tuple[bool, int | None, str | None]:
    ts = int(time.time())
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               "X-Robopass-Id": item.notification_id, "X-Robopass-Topic": item.topic,
               "X-Robopass-Delivery": item.delivery_id, "X-Robopass-Timestamp": str(ts),
               "X-Robopass-Signature": signing.sign(item.secret, ts, item.body)}
    try:
        response = client.post(item.url, content=item.body, headers=headers)
    except httpx.HTTPError as exc:
        log.warning("webhook delivery %s to %s failed: %s: %s", item.delivery_id, item.url,
                    type(exc).__name__, exc)
        return False, None, FAILED
    if 200 <= response.status_code < 300:
        return True, response.status_code, None
    log.info("webhook delivery %s to %s answered HTTP %s", item.delivery_id, item.url,
             response.status_code)
    return False, response.status_code, f"{FAILED} (HTTP {response.status_code})"


def deliver_due(url: str, *, limit: int = 100, timeout: float = 10.0,
                backoff_base: float = 10.0, now: datetime | None = None) -> RoundReport:
    """One round: claim up to ``limit`` due deliveries, send them, record the outcome."""
    now = now or utcnow()
    report = RoundReport()
    claimed = _claim(url, now=now, limit=limit)
    if not claimed:
        return report
    outcomes: list[tuple[_Claimed, bool, int | None, str | None]] = []
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False,
                      transport=GuardedTransport()) as client:
        for item in claimed:
            ok, status, error = _send(client, item)
            outcomes.append((item, ok, status, error))
    done = utcnow()
    with writing(url) as session:
        for item, ok, status, error in outcomes:
            values = report.settle(name=item.delivery_id, attempts=item.attempts, ok=ok,
                                   status=status, error=error, done=done,
                                   backoff_base=backoff_base)
            session.execute(update(Delivery).where(Delivery.id == item.delivery_id,
                                                   Delivery.status == "pending")
                            .values(**values))
    return report


def deliver_all_due(url: str, **kw: Any) -> RoundReport:
    """Rounds until nothing is due (deliveries rescheduled for later stay for later)."""
    total = RoundReport()
    while True:
        r = deliver_due(url, **kw)
        if r.attempted == 0:
            return total
        total.attempted += r.attempted
        total.delivered += r.delivered
        total.retrying += r.retrying
        total.failed += r.failed
        total.errors += r.errors
        if r.delivered == 0 and r.failed == 0 and r.retrying == r.attempted:
            # everything failed this round and went back to waiting: stop spinning
            return total


def run_worker(url: str, *, stop: threading.Event, interval: float = 2.0,
               **kw: Any) -> None:
    """Deliver until ``stop`` is set (the CLI loop and the optional thread in ``serve``)."""
    while not stop.is_set():
        try:
            deliver_all_due(url, **kw)
        except Exception:  # noqa: BLE001 - a worker must survive a database hiccup
            pass
        stop.wait(interval)


def start_background_worker(url: str, *, interval: float = 2.0) -> threading.Event:
    """Start a daemon thread delivering for ``url``; set the returned event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(target=run_worker, args=(url,),
                              kwargs={"stop": stop, "interval": interval},
                              name="robopass-webhooks", daemon=True)
    thread.start()
    return stop
