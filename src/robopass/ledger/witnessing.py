"""The registry's side of tlog-witness (SPEC §15): its witnesses, and submitting checkpoints.

``serve`` starts :func:`start_background_submitter`: about once a second it compares the latest
head with what each witness last cosigned and, when the head grew, POSTs the checkpoint with a
consistency proof from the size the witness knows to ``<url>/add-checkpoint``. A 409 tells the
size the witness knows (the next attempt proves from there); failures back off (1 s doubling to
5 min) per witness. HTTP never runs inside a database transaction, so writers never wait on a
witness. Accepted cosignatures are checked against the witness's vkey before they are stored.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from robopass.db import reading, writing
from robopass.errors import InvalidInput
from robopass.ledger import note, service, transparency
from robopass.ledger.models import LedgerWitness
from robopass.timeutil import utcnow

log = logging.getLogger(__name__)

MAX_BACKOFF = 300.0
TIMEOUT = 10.0


def add_witness(session: Session, *, name: str, url: str, vkey: str) -> LedgerWitness:
    """Register (or update) a witness; its vkey must be a cosignature/v1 key named ``name``."""
    try:
        key = note.parse_vkey(vkey)
    except note.NoteError as exc:
        raise InvalidInput(str(exc), field="vkey", code="bad_vkey") from None
    if key.kind != note.COSIGNATURE_V1:
        raise InvalidInput("a witness vkey has type 0x04 (cosignature/v1)", field="vkey",
                           code="bad_vkey")
    if key.name != name:
        raise InvalidInput(f"the vkey names {key.name!r}, not {name!r}", field="name",
                           code="name_mismatch")
    if not url.startswith(("http://", "https://")):
        raise InvalidInput("the witness URL must be http(s)", field="url", code="bad_url")
    row = session.get(LedgerWitness, name)
    if row is None:
        row = LedgerWitness(name=name, created_at=utcnow())
        session.add(row)
    elif row.vkey != vkey:
        row.known_size = row.cosigned_size = row.cosigned_root = row.cosignature = None
    row.url, row.vkey = url.rstrip("/"), vkey
    session.flush()
    return row


def list_witnesses(session: Session) -> list[LedgerWitness]:
    return list(session.scalars(select(LedgerWitness).order_by(LedgerWitness.name)))


@dataclass
class _Job:
    name: str
    url: str
    key: note.NoteKey
    old: int


@dataclass
class Outcome:
    name: str
    known_size: int | None = None
    cosigned: tuple[int, str, str] | None = None  # size, root hex, line
    error: str | None = None
    retry_now: bool = False


def _request(job: _Job, size: int, root: bytes, text: str, proof: list[bytes],
             client: httpx.Client) -> Outcome:
    body = (f"old {job.old}\n" + "".join(base64.b64encode(h).decode() + "\n" for h in proof)
            + "\n" + text)
    try:
        r = client.post(f"{job.url}/add-checkpoint", content=body.encode(), timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        return Outcome(job.name, error=f"cannot reach the witness: {exc}")
    if r.status_code == 409 and r.headers.get("content-type", "").startswith("text/x.tlog.size"):
        try:
            known = int(r.text.strip())
        except ValueError:
            return Outcome(job.name, error=f"409 with a bad size {r.text[:40]!r}")
        if known > size:
            return Outcome(job.name, known_size=known,
                           error=f"the witness has cosigned size {known}, larger than this "
                                 f"ledger ({size}): was the registry restored from a backup?")
        return Outcome(job.name, known_size=known, retry_now=known != job.old)
    if r.status_code != 200:
        return Outcome(job.name, error=f"HTTP {r.status_code}: {r.text[:200]}")
    try:
        parsed = note.parse_note(text + r.text)
        if job.key not in note.verify(parsed, [job.key]):
            raise note.NoteError("no cosignature by the witness's key in its answer")
    except note.NoteError as exc:
        return Outcome(job.name, error=f"bad cosignature: {exc}")
    line = next(s.line() for s in parsed.signatures if (s.name, s.id) == (job.key.name,
                                                                           job.key.id))
    return Outcome(job.name, known_size=size, cosigned=(size, root.hex(), line))


def submit_once(url: str, client: httpx.Client,
                ready: Callable[[str], bool] = lambda name: True) -> list[Outcome]:
    """Submit the current checkpoint to every witness that has not cosigned it (and is
    ``ready``); store what they answer. Returns one outcome per witness tried."""
    outcomes: list[Outcome] = []
    for _attempt in range(3):
        with reading(url) as session:
            witnesses = list_witnesses(session)
            if not witnesses:
                return outcomes
            size, root = transparency.current(session)
            jobs = [_Job(w.name, w.url, note.parse_vkey(w.vkey), w.known_size or 0)
                    for w in witnesses
                    if (w.cosigned_size, w.cosigned_root) != (size, root.hex()) and ready(w.name)]
            if not jobs:
                return outcomes
            text = transparency.checkpoint_text(session, witnessed=False)
            proofs = {j.old: [bytes.fromhex(h) for h in service.consistency_proof(
                session, first=j.old, second=size)["hashes"]]
                for j in jobs if 0 < j.old <= size}
        results = [_request(j, size, root, text, proofs.get(j.old, []), client) for j in jobs]
        _store(url, results)
        outcomes.extend(results)
        if not any(r.retry_now for r in results):
            return outcomes
        ready = {r.name for r in results if r.retry_now}.__contains__
    return outcomes


def _store(url: str, results: list[Outcome]) -> None:
    with writing(url) as session:
        for result in results:
            row = session.get(LedgerWitness, result.name)
            if row is None:
                continue
            if result.known_size is not None:
                row.known_size = result.known_size
            if result.cosigned:
                row.cosigned_size, row.cosigned_root, row.cosignature = result.cosigned
            row.last_error = result.error


@dataclass
class _Backoff:
    delay: dict[str, float] = field(default_factory=dict)
    until: dict[str, float] = field(default_factory=dict)

    def ready(self, name: str) -> bool:
        return time.monotonic() >= self.until.get(name, 0.0)

    def record(self, outcome: Outcome) -> None:
        if outcome.error is None:
            self.delay.pop(outcome.name, None)
            self.until.pop(outcome.name, None)
            return
        delay = min(MAX_BACKOFF, self.delay.get(outcome.name, 0.5) * 2)
        self.delay[outcome.name] = delay
        self.until[outcome.name] = time.monotonic() + delay
        log.warning("witness %s: %s (next try in %.0f s)", outcome.name, outcome.error, delay)


def run_submitter(url: str, *, stop: threading.Event, interval: float = 1.0) -> None:
    backoff = _Backoff()
    with httpx.Client(trust_env=False) as client:
        while not stop.is_set():
            try:
                for outcome in submit_once(url, client, backoff.ready):
                    backoff.record(outcome)
            except Exception:  # keep the thread alive: a database hiccup must not end it
                log.exception("witness submission failed")
            stop.wait(interval)


def start_background_submitter(url: str, *, interval: float = 1.0) -> threading.Event:
    stop = threading.Event()
    threading.Thread(target=run_submitter, args=(url,), kwargs={"stop": stop,
                                                                "interval": interval},
                     name="robopass-witness-submit", daemon=True).start()
    return stop
