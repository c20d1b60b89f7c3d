"""A witness's private key file: ``PRIVATE+KEY+<name>+<key hash>+<base64(0x04 ‖ seed)>``.

The layout follows Go's ``sumdb/note`` private keys (type byte 0x04: cosignature/v1). The file
is written with mode 0600; keep it secret. Pure except :func:`write` and :func:`read`.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from robopass.ledger import note

PREFIX = "PRIVATE+KEY+"


@dataclass(frozen=True)
class WitnessKey:
    name: str
    private: Ed25519PrivateKey

    @property
    def public(self) -> note.NoteKey:
        return note.NoteKey.of(self.name, self.private, note.COSIGNATURE_V1)

    @property
    def vkey(self) -> str:
        return note.vkey(self.public)


def generate(name: str) -> WitnessKey:
    return WitnessKey(note.check_name(name), Ed25519PrivateKey.generate())


def encode(key: WitnessKey) -> str:
    seed = key.private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    blob = base64.b64encode(bytes([note.COSIGNATURE_V1]) + seed).decode()
    return f"{PREFIX}{key.name}+{key.public.id:08x}+{blob}\n"


def decode(text: str) -> WitnessKey:
    if not text.startswith(PREFIX):
        raise note.NoteError("a witness key file starts with PRIVATE+KEY+")
    parts = text.strip()[len(PREFIX):].split("+", 2)
    if len(parts) != 3:
        raise note.NoteError("a witness key is PRIVATE+KEY+<name>+<hash>+<base64 key>")
    name, hash_hex, blob_b64 = parts
    try:
        blob = base64.b64decode(blob_b64, validate=True)
    except ValueError:
        raise note.NoteError("the witness key is not base64") from None
    if len(blob) != 33 or blob[0] != note.COSIGNATURE_V1:
        raise note.NoteError("the witness key is not a cosignature/v1 Ed25519 key")
    key = WitnessKey(note.check_name(name), Ed25519PrivateKey.from_private_bytes(blob[1:]))
    if f"{key.public.id:08x}" != hash_hex:
        raise note.NoteError("the witness key hash does not match its name and key")
    return key


def write(key: WitnessKey, path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(encode(key))


def read(path: Path) -> WitnessKey:
    return decode(path.read_text(encoding="ascii"))
