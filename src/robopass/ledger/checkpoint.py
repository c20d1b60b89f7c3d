"""C2SP tlog-checkpoint bodies (SPEC §15): ``<origin>\\n<size>\\n<base64 root>\\n``.

Pure. The signed form is a :mod:`robopass.ledger.note` whose text is this body; the log's key
name is the origin.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from robopass.ledger import note

__all__ = ["Checkpoint", "CheckpointError", "body", "open_checkpoint", "parse_body"]

_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")


class CheckpointError(ValueError):
    """A checkpoint is malformed or not signed by the log's key."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    #: The whole signed note as received (kept as evidence).
    text: str = ""


def body(origin: str, size: int, root: bytes) -> str:
    if not origin or "\n" in origin:
        raise CheckpointError("origin must be a non-empty line")
    if size < 0 or len(root) != 32:
        raise CheckpointError("size must be ≥ 0 and the root 32 bytes")
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def parse_body(text: str) -> Checkpoint:
    """Parse the first three lines of a checkpoint body (extension lines are allowed)."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise CheckpointError("a checkpoint body is origin, size and root hash lines")
    origin, size_text, root_text = lines[:3]
    if not origin:
        raise CheckpointError("the checkpoint origin line is empty")
    if not _SIZE.fullmatch(size_text):
        raise CheckpointError(f"checkpoint size {size_text!r} is not a decimal without "
                              "leading zeros")
    try:
        root = base64.b64decode(root_text, validate=True)
    except binascii.Error:
        raise CheckpointError("checkpoint root hash is not base64") from None
    if len(root) != 32 or base64.b64encode(root).decode() != root_text:
        raise CheckpointError("checkpoint root hash is not 32 bytes of canonical base64")
    return Checkpoint(origin, int(size_text), root)


def open_checkpoint(signed: str | bytes, log_key: note.NoteKey,
                    witnesses: tuple[note.NoteKey, ...] = ()) -> tuple[Checkpoint,
                                                                         list[note.NoteKey]]:
    """Verify a signed checkpoint: the log's signature must verify and the origin must be the
    log key's name. Returns the checkpoint and the witness keys whose cosignatures verified."""
    try:
        parsed = note.parse_note(signed)
        good = note.verify(parsed, (log_key, *witnesses))
    except note.NoteError as exc:
        raise CheckpointError(str(exc)) from None
    if log_key not in good:
        raise CheckpointError(f"the checkpoint carries no valid signature by {log_key.name}")
    cp = parse_body(parsed.text)
    if cp.origin != log_key.name:
        raise CheckpointError(f"checkpoint origin {cp.origin!r} is not the log key's name "
                              f"{log_key.name!r}")
    text = signed.decode() if isinstance(signed, bytes) else signed
    return Checkpoint(cp.origin, cp.size, cp.root, text), [k for k in good if k != log_key]
