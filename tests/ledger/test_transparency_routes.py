"""Checkpoint, vkey, tiles and entry bundles over HTTP, on both databases (SPEC §15)."""

from __future__ import annotations

import hashlib

from robopass.ledger import checkpoint, merkle, note, tiles
from tests.ledger import fill


def _open(client) -> checkpoint.Checkpoint:  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/ledger/checkpoint")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    key = note.parse_vkey(client.get("/api/v1/ledger/vkey").text)
    cp, _ = checkpoint.open_checkpoint(r.text, key)
    return cp


def test_the_checkpoint_covers_every_acknowledged_write(client) -> None:  # type: ignore[no-untyped-def]
    maker = client.org("manufacturer")
    model_id = client.approved_model(maker)
    client.codes(maker, model_id, 5)
    head = client.get("/api/v1/ledger/head").json()
    cp = _open(client)
    assert (cp.origin, cp.size, cp.root.hex()) == (head["origin"], head["size"],
                                                   head["root_hash"])
    client.codes(maker, model_id, 2)
    assert _open(client).size == head["size"] + 2


def test_an_empty_ledger_has_a_checkpoint_of_the_empty_tree(client) -> None:  # type: ignore[no-untyped-def]
    cp = _open(client)
    assert (cp.size, cp.root) == (0, merkle.EMPTY_ROOT)


def test_tiles_hold_the_leaf_hashes_and_subtree_roots(client) -> None:  # type: ignore[no-untyped-def]
    fill.append(client.registry.url, 600)
    size = _open(client).size
    assert size == 600
    entries = client.get("/api/v1/ledger/entries", params={"start": 0, "end": 600})
    leaves = [e["leaf"].encode() for e in entries.json()["entries"]]
    hashes = [merkle.hash_leaf(leaf) for leaf in leaves]

    full = client.get("/api/v1/ledger/tile/0/001")
    assert full.status_code == 200 and full.content == b"".join(hashes[256:512])
    assert full.headers["content-type"] == "application/octet-stream"
    assert "immutable" in full.headers["cache-control"]
    partial = client.get("/api/v1/ledger/tile/0/002.p/88")
    assert partial.content == b"".join(hashes[512:600])
    assert "immutable" not in partial.headers["cache-control"]
    level1 = client.get("/api/v1/ledger/tile/1/000.p/2")
    tree = merkle.MerkleTree(hashes)
    assert level1.content == tree.nodes()[(8, 0)] + tree.nodes()[(8, 1)]
    bundle = client.get("/api/v1/ledger/tile/entries/001")
    assert tiles.decode_bundle(bundle.content, 256) == leaves[256:512]
    assert client.get("/api/v1/ledger/tile/entries/002.p/10").content == \
        tiles.encode_bundle(leaves[512:522])


def test_tiles_beyond_the_ledger_or_with_bad_paths_are_404(client) -> None:  # type: ignore[no-untyped-def]
    fill.append(client.registry.url, 300)
    for path in ("0/002", "0/001.p/45", "1/000", "entries/001", "2/000.p/1"):
        r = client.get(f"/api/v1/ledger/tile/{path}")
        assert r.status_code == 404 and r.json()["error"]["code"] == "no_such_tile", path
    for path in ("0/1", "0/001.p/256", "x/000", "0/000.p/01"):
        r = client.get(f"/api/v1/ledger/tile/{path}")
        assert r.status_code == 404 and r.json()["error"]["code"] == "bad_tile_path", path
    assert client.get("/api/v1/ledger/tile/0/001.p/44").status_code == 200


def test_the_vkey_names_the_origin_and_the_active_key(client) -> None:  # type: ignore[no-untyped-def]
    text = client.get("/api/v1/ledger/vkey").text
    key = note.parse_vkey(text)
    origin = client.get("/api/v1/ledger/head").json()["origin"]
    jwks = client.get("/.well-known/jwks.json").json()["keys"]
    import base64

    xs = [base64.urlsafe_b64decode(k["x"] + "=") for k in jwks if "retired_at" not in k]
    assert key.name == origin and key.kind == note.ED25519 and key.public in xs
    assert key.id == int.from_bytes(hashlib.sha256(origin.encode() + b"\n\x01" + key.public)
                                    .digest()[:4], "big")


def test_passports_and_the_public_page_say_where_to_check(client) -> None:  # type: ignore[no-untyped-def]
    from robopass.passports.verify import verify_passport

    _, code = client.manufactured_unit()
    passport = client.get(f"/api/v1/robots/{code}/passport").json()["passport"]
    claims = verify_passport(passport, client.get("/.well-known/jwks.json").json())
    vkey = client.get("/api/v1/ledger/vkey").text.strip()
    assert claims["transparency"]["vkey"] == vkey
    assert claims["transparency"]["checkpoint"].endswith("/api/v1/ledger/checkpoint")
    page = client.get(f"/r/{code}").text
    assert 'href="/api/v1/ledger/checkpoint"' in page and 'href="/api/v1/ledger/vkey"' in page
