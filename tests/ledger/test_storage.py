"""Ledger storage, proofs served over the API, and `robopass ledger verify` (SPEC §5)."""

from __future__ import annotations

import json

from sqlalchemy import text
from typer.testing import CliRunner

from robopass.canonical import canonical_json, sha256_hex
from robopass.cli import app
from robopass.db import writing
from robopass.ledger import heads, merkle
from tests.conftest import Registry
from tests.utils.api import ApiClient

#: _populate's first leaves are two decisions (the lab's accreditation, the model's approval);
#: then 13 codes (2-14) and 7 events (15-21).
D = 2
N = 20 + D


def _populate(client: ApiClient) -> tuple[str, list[str]]:
    maker = client.org("manufacturer")
    model_id = client.approved_model(maker)
    codes = client.codes(maker, model_id, 13)
    for code in codes[:7]:
        client.event(maker, code, "manufactured", at="2026-03-02T00:00:00Z")
    return maker.id, codes


def test_head_is_signed_and_proofs_verify(client: ApiClient) -> None:
    _populate(client)
    head = client.get("/api/v1/ledger/head").json()
    assert head["size"] == N
    jwks = client.get("/.well-known/jwks.json").json()["keys"]
    key = next(k for k in jwks if k["kid"] == head["key_id"])
    heads.verify_head(head, heads.public_key_from_jwk(key))
    root = bytes.fromhex(head["root_hash"])
    entries = client.get("/api/v1/ledger/entries?start=0&end=100").json()["entries"]
    assert len(entries) == N
    for size in (1, 7, 13, N):
        for index in range(size):
            proof = client.get(f"/api/v1/ledger/proof/inclusion?index={index}&size={size}")
            body = proof.json()
            leaf_hash = merkle.hash_leaf(entries[index]["leaf"].encode())
            assert body["leaf_hash"] == leaf_hash.hex()
            if size == N:
                merkle.verify_inclusion(index, size, leaf_hash,
                                        [bytes.fromhex(h) for h in body["hashes"]], root)
    reference = merkle.MerkleTree([merkle.hash_leaf(e["leaf"].encode()) for e in entries])
    assert reference.root() == root
    for first in range(0, N + 1):
        proof = client.get(f"/api/v1/ledger/proof/consistency?first={first}&second={N}").json()
        merkle.verify_consistency(first, N, reference.root(first), root,
                                  [bytes.fromhex(h) for h in proof["hashes"]])


def test_leaf_is_public_record_with_digest(client: ApiClient) -> None:
    _populate(client)
    entries = client.get(f"/api/v1/ledger/entries?start={13 + D}&end={14 + D}").json()[
        "entries"]
    leaf = json.loads(entries[0]["leaf"])
    assert set(leaf) == {"kind", "code", "type", "at", "id", "digest"}
    assert leaf["kind"] == "event" and leaf["type"] == "manufactured"
    events = client.get(f"/api/v1/robots/{leaf['code']}/events", client.regulator).json()
    event = events["events"][0]
    record = {k: event[k] for k in ("id", "code", "type", "at", "recorded_at", "organization",
                                    "to_organization", "details")}
    assert sha256_hex(canonical_json(record)) == leaf["digest"]
    assert canonical_json(leaf).decode() == entries[0]["leaf"]


def test_bad_proof_requests(client: ApiClient) -> None:
    _populate(client)
    r = client.get("/api/v1/ledger/proof/inclusion?index=25&size=20")
    assert r.status_code == 422 and "out of bounds" in r.json()["error"]["message"]
    r = client.get("/api/v1/ledger/proof/inclusion?index=0&size=999")
    assert r.status_code == 422 and r.json()["error"]["code"] == "beyond_ledger_size"
    assert client.get("/api/v1/ledger/proof/consistency?first=9&second=3").status_code == 422
    assert client.get("/api/v1/ledger/entries?start=5&end=5").status_code == 422
    assert client.get("/api/v1/ledger/proof/inclusion?index=x&size=3").status_code == 422


def _verify(db_url: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["ledger", "verify", "--db", db_url])
    return result.exit_code, result.output


def test_verify_detects_tampering(client: ApiClient, registry: Registry) -> None:
    _populate(client)
    code, out = _verify(registry.url)
    assert code == 0, out
    assert f"ledger OK: {N} entries" in out

    with writing(registry.url) as session:  # change one event's details behind the ledger
        session.execute(text("UPDATE events SET details = '{\"x\": 1}' "
                             f"WHERE ledger_index = {15 + D}"))
    code, out = _verify(registry.url)
    assert code == 1 and f"at entry {15 + D}" in out, out


def test_verify_detects_removed_event(client: ApiClient, registry: Registry) -> None:
    _populate(client)
    with writing(registry.url) as session:
        session.execute(text(f"DELETE FROM events WHERE ledger_index = {19 + D}"))
    code, out = _verify(registry.url)
    assert code == 1 and f"entry {19 + D}" in out and "removed" in out, out


def test_verify_detects_reordered_leaves(client: ApiClient, registry: Registry) -> None:
    _populate(client)
    with writing(registry.url) as session:
        rows = session.execute(text(
            "SELECT \"index\", leaf, leaf_hash FROM ledger_leaves "
            f"WHERE \"index\" IN ({3 + D}, {4 + D}) ORDER BY \"index\"")).all()
        for (idx, _, _), (_, leaf, h) in zip(rows, reversed(rows), strict=True):
            session.execute(text("UPDATE ledger_leaves SET leaf = :l, leaf_hash = :h "
                                 "WHERE \"index\" = :i"), {"l": leaf, "h": h, "i": idx})
    code, out = _verify(registry.url)
    assert code == 1 and f"entry {3 + D}" in out, out


def test_verify_detects_changed_unit_issuance(client: ApiClient, registry: Registry) -> None:
    _populate(client)
    with writing(registry.url) as session:
        session.execute(text("UPDATE units SET plant = 'Z9' WHERE code IN "
                             "(SELECT code FROM units ORDER BY code LIMIT 1)"))
    code, out = _verify(registry.url)
    assert code == 1 and f"entry {D}" in out, out
