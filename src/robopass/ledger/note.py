"""C2SP signed notes, Ed25519 note keys and tlog-cosignature/v1 (SPEC §15).

Pure: text and bytes in, text and bytes out; ``cryptography`` does Ed25519. Nothing here touches
a database or the web, so a monitor or a witness can use it alone.

* A signed note is a text ending in ``\\n``, an empty line, then one or more signature lines
  ``— <key name> <base64(4-byte key id ‖ signature)>\\n`` (c2sp.org/signed-note).
* Key id = SHA-256(key name ‖ 0x0A ‖ type ‖ 32-byte public key)[:4]; type 0x01 for the log's
  Ed25519 note signature, 0x04 for a witness's timestamped cosignature.
* A verifier key (vkey) is ``<name>+<8 hex digits of the key id>+<base64(type ‖ public key)>``.
* A cosignature signs ``cosignature/v1\\ntime <unix seconds>\\n`` + the note text; its signature
  bytes are the 8-byte big-endian timestamp ‖ the 64-byte Ed25519 signature
  (c2sp.org/tlog-cosignature).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = [
    "ED25519",
    "COSIGNATURE_V1",
    "NoteError",
    "NoteKey",
    "Signature",
    "SignedNote",
    "cosign",
    "key_id",
    "parse_note",
    "parse_vkey",
    "sign",
    "signature_line",
    "verify",
    "vkey",
]

#: Signature type bytes (c2sp.org/signed-note "Signature types").
ED25519 = 0x01
COSIGNATURE_V1 = 0x04

DASH = "\u2014"
#: Verifiers must accept at least 16 signatures; more than this is refused as malformed.
MAX_SIGNATURES = 100
_NAME = re.compile(r"[^\s+]+")
_B64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_HEX8 = re.compile(r"[0-9a-f]{8}")


class NoteError(ValueError):
    """A note, key or signature is malformed or does not verify."""


def _b64decode(text: str, what: str) -> bytes:
    if not _B64.fullmatch(text) or len(text) % 4:
        raise NoteError(f"{what} is not standard base64")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise NoteError(f"{what} is not standard base64") from None


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def check_name(name: str) -> str:
    """A key name is non-empty and holds no Unicode space and no ``+``."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise NoteError(f"key name {name!r} must be non-empty, without spaces or '+'")
    return name


def key_id(name: str, kind: int, public: bytes) -> int:
    """SHA-256(name ‖ 0x0A ‖ kind ‖ public key)[:4] as a big-endian uint32."""
    digest = hashlib.sha256(check_name(name).encode() + b"\n" + bytes([kind]) + public).digest()
    return int.from_bytes(digest[:4], "big")


@dataclass(frozen=True, slots=True)
class NoteKey:
    """A public note key: name, signature type (0x01 or 0x04) and 32-byte Ed25519 key."""

    name: str
    kind: int
    public: bytes

    @property
    def id(self) -> int:
        return key_id(self.name, self.kind, self.public)

    @classmethod
    def of(cls, name: str, private: Ed25519PrivateKey, kind: int = ED25519) -> NoteKey:
        return cls(check_name(name), kind, _raw(private.public_key()))


def vkey(key: NoteKey) -> str:
    """``<name>+<key id hex>+<base64(type ‖ public key)>``."""
    blob = base64.b64encode(bytes([key.kind]) + key.public).decode()
    return f"{key.name}+{key.id:08x}+{blob}"


def parse_vkey(text: str) -> NoteKey:
    """Parse a verifier key; checks the key id against name, type and key."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise NoteError("a verifier key is <name>+<hash>+<base64 key>")
    name, hash_hex, blob_b64 = parts
    check_name(name)
    if not _HEX8.fullmatch(hash_hex):
        raise NoteError("the verifier key hash is not 8 lowercase hex digits")
    blob = _b64decode(blob_b64, "the verifier key")
    if len(blob) != 33 or blob[0] not in (ED25519, COSIGNATURE_V1):
        raise NoteError("only Ed25519 (type 0x01) and cosignature/v1 (0x04) keys are supported")
    key = NoteKey(name, blob[0], blob[1:])
    if key.id != int(hash_hex, 16):
        raise NoteError("the verifier key hash does not match its name and key")
    return key


@dataclass(frozen=True, slots=True)
class Signature:
    """One signature line: key name, key id and the signature bytes after the id."""

    name: str
    id: int
    data: bytes

    def line(self) -> str:
        blob = base64.b64encode(struct.pack(">I", self.id) + self.data).decode()
        return f"{DASH} {self.name} {blob}\n"


@dataclass(frozen=True, slots=True)
class SignedNote:
    text: str
    signatures: tuple[Signature, ...]

    def render(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError("note text holds a control character")


def signature_line(line: str) -> Signature:
    """Parse ``— <name> <base64>`` (with or without its final newline)."""
    body = line.removesuffix("\n")
    if not body.startswith(DASH + " "):
        raise NoteError("a signature line starts with an em dash and a space")
    name, sep, blob_b64 = body[2:].partition(" ")
    if not sep:
        raise NoteError("a signature line is '— <name> <signature>'")
    check_name(name)
    blob = _b64decode(blob_b64, "a signature")
    if len(blob) < 5:
        raise NoteError("a signature is at least a key id and one byte")
    return Signature(name, int.from_bytes(blob[:4], "big"), blob[4:])


def parse_note(message: str | bytes) -> SignedNote:
    """Split a signed note into its text and signature lines (nothing is verified here)."""
    if isinstance(message, bytes):
        try:
            message = message.decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError("a note must be UTF-8") from None
    if not message.endswith("\n"):
        raise NoteError("a signed note ends with a newline")
    split = message.rfind("\n\n")
    if split < 0:
        raise NoteError("a signed note has an empty line before its signatures")
    text, sig_block = message[: split + 1], message[split + 2 :]
    _check_text(text)
    lines = sig_block.splitlines(keepends=True)
    if not lines:
        raise NoteError("a signed note has at least one signature line")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"a note with more than {MAX_SIGNATURES} signatures is refused")
    return SignedNote(text, tuple(signature_line(line) for line in lines))


def cosigned_message(text: str, timestamp: int) -> bytes:
    """What a cosignature/v1 signs: header, time line, then the note text."""
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


def sign(text: str, name: str, private: Ed25519PrivateKey) -> Signature:
    """The log's Ed25519 (type 0x01) signature of a note text."""
    _check_text(text)
    key = NoteKey.of(name, private)
    return Signature(key.name, key.id, private.sign(text.encode()))


def cosign(text: str, name: str, private: Ed25519PrivateKey, timestamp: int) -> Signature:
    """A witness's timestamped cosignature (type 0x04) of a checkpoint text."""
    _check_text(text)
    if not 0 <= timestamp < 2**63:
        raise NoteError("a cosignature timestamp is 0 ≤ t < 2**63")
    key = NoteKey.of(name, private, COSIGNATURE_V1)
    sig = private.sign(cosigned_message(text, timestamp))
    return Signature(key.name, key.id, struct.pack(">Q", timestamp) + sig)


def _check(key: NoteKey, text: str, sig: Signature) -> None:
    public = Ed25519PublicKey.from_public_bytes(key.public)
    if key.kind == ED25519:
        message, raw = text.encode(), sig.data
    else:
        if len(sig.data) != 8 + 64:
            raise NoteError(f"cosignature by {key.name} is not 8 + 64 bytes")
        timestamp = int.from_bytes(sig.data[:8], "big")
        message, raw = cosigned_message(text, timestamp), sig.data[8:]
    if len(raw) != 64:
        raise NoteError(f"signature by {key.name} is not 64 bytes")
    try:
        public.verify(raw, message)
    except InvalidSignature:
        raise NoteError(f"signature by {key.name} does not verify") from None


def verify(note: SignedNote, keys: Iterable[NoteKey]) -> list[NoteKey]:
    """The known keys whose signatures on ``note`` verify (unknown signatures are ignored).

    A signature whose name and id match a known key but does not verify raises
    :class:`NoteError` (the whole note is rejected, as signed-note recommends)."""
    known = {(k.name, k.id): k for k in keys}
    good: list[NoteKey] = []
    for sig in note.signatures:
        key = known.get((sig.name, sig.id))
        if key is None:
            continue
        _check(key, note.text, sig)
        if key not in good:
            good.append(key)
    return good


def cosignature_time(sig: Signature) -> int:
    """The timestamp of a cosignature/v1 signature."""
    if len(sig.data) != 72:
        raise NoteError("a cosignature is 8 + 64 bytes")
    return int.from_bytes(sig.data[:8], "big")


def signatures_of(lines: Sequence[str]) -> list[Signature]:
    return [signature_line(line) for line in lines if line.strip()]
