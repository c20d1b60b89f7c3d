"""MQTT ingest: ``robopass/v1/telemetry/{code}`` on a real broker (Mosquitto), QoS 1.

Authentication is a **signed payload**, not the broker's login: a subscriber never learns who
published a message (MQTT does not pass the publisher's identity on), and the registry must
check "owner or operator of this unit" itself, at ingest, exactly as over HTTP. So every
message carries its signer and an HMAC over the topic and the body::

    RPv1 <key prefix> <hex HMAC-SHA-256(key=SHA-256(api key), msg=topic + "\\n" + body)>\\n
    <body: one reading {"at", "metrics"[, "code"]} or a JSON array of them>

The signing key is the SHA-256 of the organisation's ordinary API key — what the registry
stores — so the key itself never crosses the broker (anyone allowed to subscribe would see
it), revoking or rotating the API key revokes MQTT too, and HMAC costs about a microsecond
(an Ed25519 verification would cost ~60 µs, a third of the 20,000 messages/s budget). The
topic is signed, so a message cannot be replayed onto another unit's topic; replaying it on
the same topic is harmless, because ``(code, at)`` is stored once. Broker-level logins and
ACLs can be added on top (defence in depth), but they are not what the registry trusts.

Delivery: QoS 1 subscription over MQTT 5; with ``--client-id`` the session is persistent
(never expires), so the broker keeps messages while the ingestor is down. Messages are stored
in batches (full, or once the oldest has waited ``flush_ms``) and acknowledged only after the
batch's commit, so a crash of the ingestor loses nothing the broker handed over: after a
reconnect with the same ``--client-id`` the broker sends the unacknowledged messages again,
and ``(code, at)`` makes the repeats duplicates. If storing fails (the database is down), the
ingestor stops without acknowledging the batch. Several ingestors share the load with
``--shared-group`` (``$share/<group>/...``); ``--processes N`` runs N of them under
:func:`supervise`, which restarts a dead one with its client id (Mosquitto 2.0 keeps a dead
member's unacknowledged messages in its own session, so only that client id gets them). The
link may be TLS (``mqtts://``, :class:`Link`) with a broker login.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import ssl
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from robopass.auth.models import ApiKey
from robopass.auth.service import Actor
from robopass.db import read_session, transaction, write_session
from robopass.organizations.models import Organization
from robopass.telemetry import readings as rd
from robopass.telemetry import service

log = logging.getLogger(__name__)

TOPIC_PREFIX = "robopass/v1/telemetry/"
TOPIC_FILTER = TOPIC_PREFIX + "+"
MAGIC = b"RPv1 "
KEY_TTL_S = 30.0
#: The reader waits this long after a short socket read (``mqttwire.COALESCE_BYTES``)
READ_COALESCE_S = 0.002
#: Telemetry topics (units) whose bytes and code an ingestor keeps ready
TOPICS_KEPT = 100_000
_PREFIX_LEN = len(TOPIC_PREFIX)


def signing_key(api_key: str) -> bytes:
    """The HMAC key a publisher derives from its API key (= the registry's stored hash)."""
    return hashlib.sha256(api_key.encode()).digest()


def hmac_states(key: bytes) -> tuple[Any, Any]:
    """HMAC-SHA-256's inner and outer hash states for ``key`` (RFC 2104): the MAC of ``m``
    is ``outer.copy().update(inner.copy().update(m).digest()).digest()``, without the key
    set-up ``hmac.digest`` repeats for each message (~0.6 µs of its 1.4 µs here)."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return (hashlib.sha256(bytes(b ^ 0x36 for b in key)),
            hashlib.sha256(bytes(b ^ 0x5C for b in key)))


def sign(api_key: str, topic: str, body: bytes) -> bytes:
    """The MQTT payload for ``body`` on ``topic``, signed with ``api_key``."""
    parts = api_key.split("_", 2)
    if len(parts) != 3 or parts[0] != "rp":
        raise ValueError("not a robopass API key")
    mac = hmac.new(signing_key(api_key), topic.encode() + b"\n" + body, hashlib.sha256)
    return MAGIC + parts[1].encode() + b" " + mac.hexdigest().encode() + b"\n" + body


def parse_broker(url: str) -> tuple[str, int]:
    host, port, _tls = _split_broker(url)
    return host, port


def _split_broker(url: str) -> tuple[str, int, bool]:
    parts = urlsplit(url if "://" in url else f"mqtt://{url}")
    if parts.scheme not in ("mqtt", "tcp", "mqtts", "ssl"):
        raise ValueError("broker must be mqtt://host:port or mqtts://host:port (TLS)")
    tls = parts.scheme in ("mqtts", "ssl")
    return parts.hostname or "127.0.0.1", parts.port or (8883 if tls else 1883), tls


@dataclass(frozen=True)
class Link:
    """How to reach the broker: address, TLS (``mqtts://``) and the broker login."""

    host: str
    port: int
    tls: ssl.SSLContext | None = None
    username: str | None = None
    password: str | None = None

    @classmethod
    def of(cls, url: str, *, username: str | None = None, password: str | None = None,
           ca_file: str | None = None) -> Link:
        """``mqtt://host:port`` or ``mqtts://host:port``; a TLS link verifies the broker's
        certificate and host name against ``ca_file`` (else the system's CAs)."""
        host, port, tls = _split_broker(url)
        context = ssl.create_default_context(cafile=ca_file or None) if tls else None
        return cls(host, port, context, username or None,
                   password if password else None)


@dataclass
class IngestStats:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    bad_signature: int = 0
    batches: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    #: monotonic time of the first message and of the end of the last stored batch
    first_at: float | None = None
    last_at: float | None = None
    cpu_seconds: float = 0.0
    #: process CPU time at the first message
    cpu_start: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        span = (self.last_at - self.first_at) if self.first_at and self.last_at else 0.0
        return {"received": self.received, "stored": self.stored,
                "duplicates": self.duplicates, "rejected": self.rejected,
                "bad_signature": self.bad_signature, "batches": self.batches,
                "seconds": round(span, 3), "cpu_seconds": round(self.cpu_seconds, 3),
                "messages_per_s": round(self.received / span) if span else None,
                "reasons": self.reasons,
                # CLOCK_MONOTONIC is one clock for every process of the machine, so a
                # supervisor can combine several ingestors' spans
                "first_monotonic": self.first_at, "last_monotonic": self.last_at}

    def reject(self, reason: str, n: int = 1) -> None:
        self.rejected += n
        key = reason[:80]
        self.reasons[key] = self.reasons.get(key, 0) + n


class KeyCache:
    """Key prefix → (actor, HMAC key), re-read after ``ttl`` so revocations take effect."""

    def __init__(self, url: str, ttl: float = KEY_TTL_S) -> None:
        self.url = url
        self.ttl = ttl
        self._cache: dict[str, tuple[float, Actor | None, bytes]] = {}

    def get(self, prefix: str) -> tuple[Actor | None, bytes]:
        now = time.monotonic()
        hit = self._cache.get(prefix)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1], hit[2]
        with read_session(self.url) as session:
            row = session.execute(
                select(ApiKey, Organization).join(Organization,
                                                  Organization.id == ApiKey.organization_id)
                .where(ApiKey.prefix == prefix)).first()
        actor, key = None, b""
        if row is not None and row[0].revoked_at is None:
            actor, key = Actor.of(row[1], key_id=row[0].id), bytes.fromhex(row[0].key_hash)
        self._cache[prefix] = (now, actor, key)
        return actor, key


class Ingestor:
    """Verifies messages and stores them in batches through the same path as HTTP."""

    def __init__(self, url: str, *, keys: KeyCache | None = None) -> None:
        self.url = url
        self.keys = keys or KeyCache(url)
        self.stats = IngestStats()
        #: HMAC key -> its inner and outer SHA-256 states (keys outlive the key cache's TTL)
        self._states: dict[bytes, tuple[Any, Any]] = {}
        #: topic -> what :meth:`_topic` says of it
        self._topics: dict[str, tuple[bytes, str, bytes] | tuple[()]] = {}

    def verify(self, topic: str, payload: bytes) -> tuple[Actor, str, bytes] | str:
        """``(actor, code, body)`` of a well-signed message, or why it is refused."""
        if not topic.startswith(TOPIC_PREFIX) or "/" in topic[len(TOPIC_PREFIX):]:
            return "topic is not robopass/v1/telemetry/{code}"
        code = topic[len(TOPIC_PREFIX):]
        if not payload.startswith(MAGIC):
            return "payload is not signed (RPv1 header missing)"
        header, sep, body = payload.partition(b"\n")
        fields = header.split(b" ")
        if not sep or len(fields) != 3:
            return "malformed RPv1 header"
        try:
            prefix = fields[1].decode("ascii")
        except UnicodeDecodeError:
            return "malformed RPv1 header"
        actor, key = self.keys.get(prefix)
        if actor is None:
            return "unknown or revoked key"
        # one-shot C HMAC: a third of the cost of building an ``hmac.HMAC`` object per message
        mac = hmac.digest(key, topic.encode() + b"\n" + body, "sha256").hex().encode()
        if not hmac.compare_digest(mac, fields[2]):
            return "bad signature"
        return actor, code, body

    def process(self, messages: list[tuple[str, bytes]] | list[tuple[str, bytes, int]]
                ) -> None:
        """Verify, group by signer, store each group (one transaction per batch). Messages
        are ``(topic, payload)`` or the subscriber's ``(topic, payload, packet_id)``.

        The loop is the ingestor's hot path (one pass per message: header split, one key
        lookup per signer per batch, one C HMAC); a message it does not accept goes through
        :meth:`verify`, which says why."""
        stats = self.stats
        stats.received += len(messages)
        groups: dict[str, _Group] = {}
        signers: dict[bytes, tuple[Actor, Any, Any] | None] = {}
        topics = self._topics
        compare = hmac.compare_digest
        for message in messages:
            topic = message[0]
            head, newline, body = message[1].partition(b"\n")
            fields = head.split(b" ")
            known = topics.get(topic)
            if known is None:
                known = self._topic(topic)
            if len(fields) != 3 or fields[0] != b"RPv1" or not newline or not known:
                self._refuse(topic, message[1])
                continue
            prefix = fields[1]
            if prefix in signers:
                signer = signers[prefix]
            else:
                signer = signers[prefix] = self._signer(prefix)
            if signer is None:
                self._refuse(topic, message[1])
                continue
            actor, inner, outer = signer
            # HMAC-SHA-256 from the key's precomputed inner and outer states (RFC 2104):
            # two state copies instead of setting the key up again for every message
            mac = inner.copy()
            mac.update(known[0] + body)
            final = outer.copy()
            final.update(mac.digest())
            if not compare(final.hexdigest().encode(), fields[2]):
                self._refuse(topic, message[1])
                continue
            group = groups.get(actor.id)
            if group is None:
                group = groups[actor.id] = _Group(actor)
            group.add(known[1], known[2], body)
        if not groups:
            return
        with write_session(self.url) as session, transaction(session, ledger=False):
            for group in groups.values():
                self._store(session, group)
        stats.batches += 1

    def _topic(self, topic: str) -> tuple[bytes, str, bytes] | tuple[()]:
        """``(topic + "\\n" as bytes, code, code as bytes)`` of a telemetry topic, or ``()``;
        remembered (up to :data:`TOPICS_KEPT` topics, one per unit)."""
        if len(self._topics) >= TOPICS_KEPT:
            self._topics.clear()
        if topic.count("/") != 3 or not topic.startswith(TOPIC_PREFIX):
            return ()
        raw = topic.encode()
        known = self._topics[topic] = (raw + b"\n", topic[_PREFIX_LEN:], raw[_PREFIX_LEN:])
        return known

    def _signer(self, prefix: bytes) -> tuple[Actor, Any, Any] | None:
        """The signer of ``prefix`` with its key's HMAC states, or None (unknown, revoked)."""
        try:
            actor, key = self.keys.get(prefix.decode("ascii"))
        except UnicodeDecodeError:
            return None
        if actor is None:
            return None
        states = self._states.get(key)
        if states is None:
            states = self._states[key] = hmac_states(key)
        return actor, states[0], states[1]

    def _refuse(self, topic: str, payload: bytes) -> None:
        checked = self.verify(topic, payload)
        reason = checked if isinstance(checked, str) else "malformed RPv1 header"
        if reason in ("bad signature", "unknown or revoked key") \
                or reason.startswith(("payload", "malformed")):
            self.stats.bad_signature += 1
        self.stats.reject(reason)

    def _store(self, session: Any, group: _Group) -> None:
        actor, items = group.actor, group.items
        now_ms = service.dt_to_ms(service.utcnow())
        try:  # fast path: one object per message, carrying its topic's code or none
            if not group.fast:
                raise rd.NotFast("not plain objects")
            rows = rd.decode_fast(b"[" + b",".join(group.parts) + b"]", now_ms=now_ms,
                                  skew_ms=service.SKEW_MS,
                                  min_ms=service._min_ms(actor, now_ms))
            if len(rows) != len(items):
                raise rd.NotFast("arrays in messages")
            result = service.store_rows(session, rows, actor=actor)
        except (rd.NotFast, ValueError):
            result = self._store_exact(session, actor, items)
        self.stats.stored += result["stored"]
        self.stats.duplicates += result["duplicates"]
        for rej in result["rejected"]:
            self.stats.reject(rej["reason"])

    def _store_exact(self, session: Any, actor: Actor, items: list[tuple[str, bytes]]
                     ) -> dict[str, Any]:
        readings: list[Any] = []
        pre: list[dict[str, Any]] = []
        for code, body in items:
            try:
                parsed, _ = rd.parse_body(body)
            except rd.BadBody as exc:
                pre.append({"index": len(readings), "reason": str(exc)})
                readings.append(None)
                continue
            for reading in parsed:
                if isinstance(reading, dict):
                    given = reading.get("code")
                    if given is None:
                        reading = {**reading, "code": code}
                    elif not isinstance(given, str) or _compact(given) != code:
                        pre.append({"index": len(readings),
                                    "reason": "the reading's code is not its topic's code"})
                        readings.append(None)
                        continue
                readings.append(reading)
        return service.store_readings(session, readings, actor=actor, _rejected=pre)


def _compact(code: str) -> str:
    return code.replace("-", "").replace(" ", "").upper()


class _Group:
    """One signer's verified messages of a batch, and (while every body is one plain JSON
    object without its own code) the fast path's JSON objects, each given its topic's code."""

    __slots__ = ("actor", "items", "parts", "fast")

    def __init__(self, actor: Actor) -> None:
        self.actor = actor
        self.items: list[tuple[str, bytes]] = []
        self.parts: list[bytes] = []
        self.fast = True

    def add(self, code: str, raw_code: bytes, body: bytes) -> None:
        self.items.append((code, body))
        if not self.fast:
            return
        if body[:1] != b"{":
            body = body.strip()
            if body[:1] != b"{":
                self.fast = False
                return
        if b'"code"' in body:  # the exact path checks a given code
            self.fast = False
        elif body[1:2] == b"}":  # "{}"
            self.parts.append(b'{"code":"' + raw_code + b'"}')
        else:
            self.parts.append(b'{"code":"' + raw_code + b'",' + body[1:])


def run(url: str, broker: str | Link, *, client_id: str | None = None,
        shared_group: str | None = None,
        batch_size: int = 5000, flush_ms: int = 200, max_messages: int | None = None,
        duration_s: float | None = None, idle_s: float | None = None,
        ready: threading.Event | None = None,
        stop: threading.Event | None = None,
        on_flush: Callable[[IngestStats], None] | None = None) -> IngestStats:
    """Subscribe and store until ``stop`` is set, ``duration_s`` passes or ``max_messages``
    have been processed. A reader thread receives (``mqttwire``); this thread verifies,
    stores and then acknowledges each batch.

    A batch is stored when it is full (``batch_size``) or when its oldest message has waited
    ``flush_ms``, not as soon as anything is waiting: storing costs per batch and per unit in
    it as well as per reading, so batches of whatever arrived during the previous commit
    (~1,000 at 30,000/s per ingestor) cost ~45 % more CPU per message than full ones."""
    from robopass.telemetry import mqttwire

    link = broker if isinstance(broker, Link) else Link.of(broker)
    ingestor = Ingestor(url)
    inbox: deque[mqttwire.Message] = deque()
    arrived = threading.Event()
    since = [0.0]  # when the oldest waiting message arrived (monotonic)
    topic = TOPIC_FILTER if not shared_group else f"$share/{shared_group}/{TOPIC_FILTER}"

    def on_messages(messages: list[mqttwire.Message]) -> None:
        if not inbox:
            since[0] = time.monotonic()
        inbox.extend(messages)
        if len(inbox) >= batch_size:
            arrived.set()

    # A named client keeps its broker session (queued QoS 1 messages) across restarts; an
    # anonymous one starts clean, so throwaway runs leave no sessions behind on the broker.
    client = mqttwire.Subscriber(link.host, link.port,
                                 client_id=client_id or f"robopass-ingest-{uuid.uuid4().hex[:8]}",
                                 clean_session=client_id is None, tls=link.tls,
                                 username=link.username, password=link.password,
                                 coalesce_s=READ_COALESCE_S)
    client.connect(topic, qos=1)
    # Python's default GIL switch interval (5 ms) is kept: 0.5 ms made the reader take the
    # GIL back sooner but cost ~30 % more CPU per message in thread switches (measured with 2
    # ingestors: 39,800 -> 56,200 messages per CPU second at 5 ms), and a 4 MB socket buffer
    # plus the broker's queue (docs/telemetry.md, broker sizing) absorb the wait; a 30,000/s
    # run against Mosquitto's default queue limit lost nothing.
    client.start(on_messages)
    started = time.monotonic()
    flush_s = flush_ms / 1000
    try:
        if ready is not None:
            ready.set()
        while True:
            stats = ingestor.stats
            ending = (client.error is not None or (stop is not None and stop.is_set())
                      or (duration_s is not None and time.monotonic() - started >= duration_s))
            if inbox and (ending or len(inbox) >= batch_size
                          or time.monotonic() - since[0] >= flush_s):
                _store_batch(ingestor, client, inbox, batch_size)
                if inbox:  # arrived while storing: its own flush_ms from now
                    since[0] = time.monotonic()
                if on_flush:
                    on_flush(stats)
                continue
            if client.error is not None:
                raise ConnectionError(f"lost the broker: {client.error}")
            if ending or (max_messages is not None and stats.received >= max_messages):
                break
            if (idle_s is not None and stats.last_at is not None
                    and time.monotonic() - stats.last_at >= idle_s):
                break
            arrived.wait(max(0.0, since[0] + flush_s - time.monotonic()) if inbox
                         else flush_s)
            arrived.clear()
    finally:
        client.close()
    return ingestor.stats


def _store_batch(ingestor: Ingestor, client: Any, inbox: deque[Any], batch_size: int) -> None:
    """Store up to ``batch_size`` waiting messages, then acknowledge them in one write."""
    batch = [inbox.popleft() for _ in range(min(batch_size, len(inbox)))]
    stats = ingestor.stats
    if stats.first_at is None:
        stats.first_at = time.monotonic()
        stats.cpu_start = time.process_time()
    try:
        ingestor.process(batch)
    except Exception:  # not acknowledged: the broker keeps the batch
        log.exception("storing an MQTT batch of %d messages failed; stopping "
                      "without acknowledging it", len(batch))
        raise
    client.ack([m[2] for m in batch])  # stored (or refused for good): done
    stats.last_at = time.monotonic()
    stats.cpu_seconds = time.process_time() - stats.cpu_start


@dataclass
class Worker:
    """One supervised ingestor process (a slot keeps its client id, hence its session)."""

    slot: int
    argv: list[str]
    proc: Any = None
    started: float = 0.0
    backoff: float = 0.5
    finals: list[dict[str, Any]] = field(default_factory=list)
    restarts: int = 0


def supervise(argvs: list[list[str]], *, stop: threading.Event,
              announce: Callable[[dict[str, Any]], None], env: dict[str, str] | None = None
              ) -> tuple[int, dict[str, Any]]:
    """Run one ingestor process per ``argv`` and restart one that dies (killed, crashed, or
    its database down) with the **same** argv, so the same client id.

    Why restart rather than rely on the other ingestors: Mosquitto 2.0 does not hand a dead
    member's unacknowledged messages to the rest of its shared-subscription group; they stay
    in the member's own persistent session (and the group keeps sending that session its
    share while it is offline), so they are delivered when that client id connects again.
    ``stop`` ends the children gently (SIGTERM: store and acknowledge, then exit). Returns the
    exit status (0 when every child ended cleanly) and the children's combined statistics."""
    import subprocess

    workers = [Worker(i, argv) for i, argv in enumerate(argvs)]

    def start(w: Worker) -> None:
        w.proc = subprocess.Popen(w.argv, stdout=subprocess.PIPE, text=True, env=env)
        w.started = time.monotonic()
        threading.Thread(target=_collect, args=(w, w.proc), daemon=True).start()
        announce({"worker": w.slot, "pid": w.proc.pid, "restarts": w.restarts})

    for w in workers:
        start(w)
    status = 0
    pending: dict[int, float] = {}  # slot -> monotonic time to restart it
    while any(w.proc is not None for w in workers):
        for w in workers:
            if w.proc is None or w.proc.poll() is None:
                continue
            code = w.proc.wait()
            w.proc = None
            if code == 0 or stop.is_set():
                status = status or (code if code > 0 else 0)
                continue
            w.backoff = 0.5 if time.monotonic() - w.started > 5 else min(w.backoff * 2, 10.0)
            pending[w.slot] = time.monotonic() + w.backoff
            announce({"worker": w.slot, "exited": code, "restart_in_s": w.backoff})
        for slot, when in list(pending.items()):
            if stop.is_set():
                pending.pop(slot)
            elif time.monotonic() >= when:
                pending.pop(slot)
                workers[slot].restarts += 1
                start(workers[slot])
        if stop.is_set():
            for w in workers:
                if w.proc is not None and w.proc.poll() is None:
                    w.proc.terminate()
        if not pending and all(w.proc is None for w in workers):
            break
        stop.wait(0.1)
    return status, combine([f for w in workers for f in w.finals],
                           restarts=sum(w.restarts for w in workers))


def _collect(w: Worker, proc: Any) -> None:
    """The child's last JSON line of statistics (a child killed by a signal prints none)."""
    import json

    last = None
    for line in proc.stdout:
        if line.startswith("{") and '"received"' in line:
            last = line
    if last is not None:
        w.finals.append(json.loads(last))


def combine(finals: list[dict[str, Any]], *, restarts: int = 0) -> dict[str, Any]:
    """Several ingestors' statistics as one: counts add up, the span runs from the first
    message any of them received to the last batch any of them stored."""
    total: dict[str, Any] = {k: sum(f.get(k) or 0 for f in finals)
                             for k in ("received", "stored", "duplicates", "rejected",
                                       "bad_signature", "batches")}
    firsts = [f["first_monotonic"] for f in finals if f.get("first_monotonic")]
    lasts = [f["last_monotonic"] for f in finals if f.get("last_monotonic")]
    span = (max(lasts) - min(firsts)) if firsts and lasts else 0.0
    total.update(seconds=round(span, 3),
                 cpu_seconds=round(sum(f.get("cpu_seconds") or 0 for f in finals), 3),
                 messages_per_s=round(total["received"] / span) if span else None,
                 processes=len(finals), restarts=restarts,
                 per_process=[{k: f.get(k) for k in ("received", "stored", "messages_per_s",
                                                     "cpu_seconds")} for f in finals])
    return total
