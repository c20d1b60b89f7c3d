"""tlog-witness ``add-checkpoint`` (c2sp.org/tlog-witness) as a pure decision.

:func:`add_checkpoint` takes the request body, the trusted log keys and a state store, and
returns the HTTP answer. The state store's ``update(origin, decide)`` must run ``decide`` with
the stored ``(size, root)`` of that origin and persist what it returns atomically (so two
concurrent requests can never roll the log back), which :mod:`robopass.witness.state` does.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from robopass.ledger import checkpoint, merkle, note

MAX_PROOF = 63
SIZE_TYPE = "text/x.tlog.size"
_OLD = re.compile(r"old (0|[1-9][0-9]{0,19})")

Known = tuple[int, bytes] | None


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"


class StateStore(Protocol):
    def update(self, origin: str, decide: Callable[[Known], tuple[Answer, Known]]) -> Answer:
        ...


class _Refuse(Exception):
    def __init__(self, answer: Answer) -> None:
        self.answer = answer


def _bad(status: int, message: str) -> _Refuse:
    return _Refuse(Answer(status, message + "\n"))


def parse_request(body: bytes) -> tuple[int, list[bytes], str]:
    """``old <size>\\n`` + proof lines + ``\\n`` + the signed checkpoint."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad(400, "the request is not UTF-8") from None
    head, sep, signed = text.partition("\n\n")
    if not sep:
        raise _bad(400, "the request has no empty line before the checkpoint")
    lines = head.split("\n")
    match = _OLD.fullmatch(lines[0])
    if not match:
        raise _bad(400, "the first line must be 'old <size>'")
    if len(lines) - 1 > MAX_PROOF:
        raise _bad(400, f"more than {MAX_PROOF} consistency proof lines")
    proof = []
    for line in lines[1:]:
        try:
            value = base64.b64decode(line, validate=True)
        except binascii.Error:
            raise _bad(400, "a proof line is not base64") from None
        if len(value) != merkle.HASH_SIZE:
            raise _bad(400, "a proof line is not a 32-byte hash")
        proof.append(value)
    return int(match.group(1)), proof, signed


def _decide(old: int, proof: list[bytes], cp: checkpoint.Checkpoint, text: str,
            key: note.NoteKey, private: Ed25519PrivateKey, now: Callable[[], float],
            known: Known) -> tuple[Answer, Known]:
    known_size, known_root = known if known else (0, merkle.EMPTY_ROOT)
    if old != known_size:
        return Answer(409, f"{known_size}\n", SIZE_TYPE), known
    if old == cp.size:
        if known is not None and known_root != cp.root:
            return Answer(409, f"{known_size}\n", SIZE_TYPE), known
    elif old == 0:
        if proof:
            return Answer(422, "the consistency proof from size 0 must be empty\n"), known
    else:
        try:
            merkle.verify_consistency(old, cp.size, known_root, cp.root, proof)
        except merkle.ProofError as exc:
            return Answer(422, f"bad consistency proof: {exc}\n"), known
    sig = note.cosign(text, key.name, private, int(now()))
    return Answer(200, sig.line()), (cp.size, cp.root)


def add_checkpoint(body: bytes, *, logs: Iterable[note.NoteKey], name: str,
                   private: Ed25519PrivateKey,
                   state: StateStore, now: Callable[[], float] = time.time) -> Answer:
    """Verify and cosign one submitted checkpoint (see the module doc for the state store)."""
    try:
        old, proof, signed = parse_request(body)
        try:
            parsed = note.parse_note(signed)
            cp = checkpoint.parse_body(parsed.text)
        except (note.NoteError, checkpoint.CheckpointError) as exc:
            raise _bad(400, f"malformed checkpoint: {exc}") from None
        trusted = [k for k in logs if k.name == cp.origin]
        if not trusted:
            raise _bad(404, f"unknown log origin {cp.origin}")
        try:
            good = note.verify(parsed, trusted)
        except note.NoteError as exc:
            raise _bad(403, str(exc)) from None
        if not good:
            raise _bad(403, f"no signature by a trusted key of {cp.origin}")
        if old > cp.size:
            raise _bad(400, f"old size {old} is larger than the checkpoint size {cp.size}")
    except _Refuse as refusal:
        return refusal.answer
    key = note.NoteKey.of(name, private, note.COSIGNATURE_V1)
    return state.update(cp.origin, lambda known: _decide(old, proof, cp, parsed.text, key,
                                                         private, now, known))
