"""Response shapes of the public ledger endpoints (SPEC §5, §9): all hashes in hex."""

from __future__ import annotations

from pydantic import BaseModel


class SignedHead(BaseModel):
    origin: str
    size: int
    root_hash: str
    timestamp: str
    key_id: str
    signature: str


class InclusionProof(BaseModel):
    index: int
    size: int
    leaf_hash: str
    hashes: list[str]


class ConsistencyProof(BaseModel):
    first: int
    second: int
    hashes: list[str]


class LedgerEntry(BaseModel):
    index: int
    leaf: str
    leaf_hash: str


class LedgerEntries(BaseModel):
    entries: list[LedgerEntry]
    next: int | None


class Jwk(BaseModel):
    kty: str
    crv: str
    x: str
    kid: str
    alg: str
    use: str
    retired_at: str | None = None


class JwkSet(BaseModel):
    keys: list[Jwk]
