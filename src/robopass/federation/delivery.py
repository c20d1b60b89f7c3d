"""Deliver hand-over messages to peer registries, with retries (SPEC §16).

The same three steps as webhook deliveries (:mod:`robopass.notifications.delivery`), so no
transaction is held across network I/O: claim due ``pending`` messages under a lease (short
write transaction), POST each to ``{peer base URL}/api/v1/federation/handover`` (body: the
signed JWS), record the outcome — ``delivered`` on 2xx, else the next attempt after an
exponential backoff, ``failed`` after :data:`~robopass.notifications.delivery.MAX_ATTEMPTS`.
A peer that is down loses nothing: the message waits in the outbox. The receiver is
idempotent, so a message delivered twice (a crash after sending) records once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

import httpx
from sqlalchemy import select, update

from robopass.db import reading, writing
from robopass.federation.models import Peer, PeerMessage
from robopass.federation.service import FEDERATED_HEADER
from robopass.notifications.delivery import LEASE, RoundReport
from robopass.outbound import GuardedTransport
from robopass.timeutil import utcnow

PATH = "/api/v1/federation/handover"
MEDIA_TYPE = "application/jwt"


@dataclass
class _Claimed:
    id: str
    attempts: int
    url: str | None
    body: str


def _claim(url: str, *, now: datetime, limit: int) -> list[_Claimed]:
    with reading(url) as session:  # idle polls take no writer lock
        if session.scalar(select(PeerMessage.id).where(
                PeerMessage.status == "pending", PeerMessage.next_attempt_at <= now)
                .limit(1)) is None:
            return []
    out: list[_Claimed] = []
    with writing(url) as session:
        rows = session.execute(
            select(PeerMessage, Peer.base_url)
            .join(Peer, Peer.country == PeerMessage.country, isouter=True)
            .where(PeerMessage.status == "pending", PeerMessage.next_attempt_at <= now)
            .order_by(PeerMessage.next_attempt_at).limit(limit)).all()
        for message, base_url in rows:
            message.attempts += 1
            message.next_attempt_at = now + LEASE
            out.append(_Claimed(message.id, message.attempts,
                                f"{base_url}{PATH}" if base_url else None, message.body))
    return out


def _send(client: httpx.Client, item: _Claimed) -> tuple[bool, int | None, str | None]:
    if item.url is None:
        return False, None, "no peer registry for this country (robopass peer add)"
    try:
        response = client.post(item.url, content=item.body.encode(),
                               headers={"Content-Type": MEDIA_TYPE, FEDERATED_HEADER: "1"})
    except httpx.HTTPError as exc:
        return False, None, f"{type(exc).__name__}: {exc}"[:500]
    if 200 <= response.status_code < 300:
        return True, response.status_code, None
    return False, response.status_code, f"HTTP {response.status_code}: {response.text[:400]}"


def deliver_due(url: str, *, limit: int = 100, timeout: float = 10.0,
                backoff_base: float = 10.0, now: datetime | None = None) -> RoundReport:
    """One round: claim up to ``limit`` due messages, send them, record the outcomes."""
    now = now or utcnow()
    report = RoundReport()
    claimed = _claim(url, now=now, limit=limit)
    if not claimed:
        return report
    # the same guard as webhooks: only public addresses, unless the operator allows otherwise
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False,
                      transport=GuardedTransport()) as client:
        outcomes = [(item, *_send(client, item)) for item in claimed]
    done = utcnow()
    with writing(url) as session:
        for item, ok, status, error in outcomes:
            values = report.settle(name=item.id, attempts=item.attempts, ok=ok, status=status,
                                   error=error, done=done, backoff_base=backoff_base,
                                   retry_from=max(done, now))
            session.execute(update(PeerMessage).where(PeerMessage.id == item.id,
                                                      PeerMessage.status == "pending")
                            .values(**values))
    return report


def run_worker(url: str, *, stop: threading.Event, interval: float = 5.0) -> None:
    while not stop.is_set():
        try:
            deliver_due(url)
        except Exception:  # noqa: BLE001 - a worker must survive a database hiccup
            pass
        stop.wait(interval)


def start_background_worker(url: str, *, interval: float = 5.0) -> threading.Event:
    """A daemon thread delivering hand-over messages (``robopass serve`` starts one)."""
    stop = threading.Event()
    threading.Thread(target=run_worker, args=(url,), kwargs={"stop": stop, "interval": interval},
                     name="robopass-handover", daemon=True).start()
    return stop
