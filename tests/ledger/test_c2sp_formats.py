"""Pure C2SP formats: signed notes, checkpoints, cosignatures, tile paths and bundles."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from robopass.ledger import checkpoint, merkle, note, tiles

ROOT = bytes(range(32))


def test_a_checkpoint_signed_by_the_log_opens_with_its_vkey() -> None:
    private = Ed25519PrivateKey.generate()
    text = checkpoint.body("example.org/reg/ledger", 42, ROOT)
    assert text == f"example.org/reg/ledger\n42\n{base64.b64encode(ROOT).decode()}\n"
    signed = text + "\n" + note.sign(text, "example.org/reg/ledger", private).line()
    key = note.parse_vkey(note.vkey(note.NoteKey.of("example.org/reg/ledger", private)))
    cp, witnessed = checkpoint.open_checkpoint(signed, key)
    assert (cp.origin, cp.size, cp.root, witnessed) == ("example.org/reg/ledger", 42, ROOT, [])


def test_the_key_id_is_sha256_of_name_newline_type_and_key() -> None:
    import hashlib

    private = Ed25519PrivateKey.generate()
    key = note.NoteKey.of("w.example/1", private, note.COSIGNATURE_V1)
    want = hashlib.sha256(b"w.example/1\n\x04" + key.public).digest()[:4]
    assert key.id == int.from_bytes(want, "big")
    name, hash_hex, blob = note.vkey(key).split("+", 2)
    assert (name, hash_hex, base64.b64decode(blob)) == ("w.example/1", want.hex(),
                                                          b"\x04" + key.public)


def test_a_changed_body_or_foreign_key_is_refused() -> None:
    private = Ed25519PrivateKey.generate()
    key = note.NoteKey.of("o", private)
    text = checkpoint.body("o", 1, ROOT)
    line = note.sign(text, "o", private).line()
    with pytest.raises(checkpoint.CheckpointError, match="does not verify"):
        checkpoint.open_checkpoint(checkpoint.body("o", 2, ROOT) + "\n" + line, key)
    other = note.NoteKey.of("o", Ed25519PrivateKey.generate())
    with pytest.raises(checkpoint.CheckpointError, match="no valid signature by o"):
        checkpoint.open_checkpoint(text + "\n" + line, other)


def test_a_cosignature_signs_header_time_and_body() -> None:
    log, witness = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    text = checkpoint.body("o", 7, ROOT)
    cosig = note.cosign(text, "w", witness, 1_700_000_000)
    assert cosig.data[:8] == (1_700_000_000).to_bytes(8, "big") and len(cosig.data) == 72
    witness.public_key().verify(cosig.data[8:], b"cosignature/v1\ntime 1700000000\n"
                                + text.encode())
    signed = text + "\n" + note.sign(text, "o", log).line() + cosig.line()
    wkey = note.NoteKey.of("w", witness, note.COSIGNATURE_V1)
    _, witnessed = checkpoint.open_checkpoint(signed, note.NoteKey.of("o", log), (wkey,))
    assert witnessed == [wkey]


@pytest.mark.parametrize("bad", ["o\n01\nAAAA\n", "o\n1\n", "\n1\n" + "A" * 43 + "=\n",
                                 "o\n1\nAAAA\n"])
def test_malformed_checkpoint_bodies_are_refused(bad: str) -> None:
    with pytest.raises(checkpoint.CheckpointError):
        checkpoint.parse_body(bad)


@pytest.mark.parametrize(("tile", "path"), [
    (tiles.Tile(0, 1234067), "0/x001/x234/067"),
    (tiles.Tile(1, 5, 17), "1/005.p/17"),
    (tiles.Tile(tiles.ENTRIES, 0, 1), "entries/000.p/1"),
    (tiles.Tile(2, 1000), "2/x001/000"),
])
def test_tile_paths_follow_tlog_tiles(tile: tiles.Tile, path: str) -> None:
    assert tile.path() == path
    assert tiles.parse_path(path) == tile


@pytest.mark.parametrize("path", ["00/001", "0/1", "0/001.p/256", "0/001.p/0", "0/x000/001",
                                  "64/000", "0/001/x002", "entries", "0/001.p/07"])
def test_malformed_tile_paths_are_refused(path: str) -> None:
    with pytest.raises(tiles.TileError):
        tiles.parse_path(path)


def test_tile_widths_for_a_tree_of_70000() -> None:
    # The example of tlog-tiles: 273 full level-0 tiles, one of width 112, one full level-1
    # tile, one of width 17 and a level-2 tile of width 1.
    assert tiles.width_at(0, 272, 70_000) == 256 and tiles.width_at(0, 273, 70_000) == 112
    assert tiles.width_at(1, 0, 70_000) == 256 and tiles.width_at(1, 1, 70_000) == 17
    assert tiles.width_at(2, 0, 70_000) == 1 and tiles.width_at(0, 274, 70_000) == 0


def test_bundles_round_trip_and_refuse_truncation() -> None:
    leaves = [b"", b"a", b"x" * 300]
    data = tiles.encode_bundle(leaves)
    assert data[:5] == b"\x00\x00\x00\x01a" and data[5:7] == (300).to_bytes(2, "big")
    assert tiles.decode_bundle(data, 3) == leaves
    with pytest.raises(tiles.TileError):
        tiles.decode_bundle(data[:-1], 3)
    with pytest.raises(tiles.TileError):
        tiles.decode_bundle(data, 2)


@pytest.mark.parametrize("size", [1, 255, 256, 257, 1000, 65_536 + 3])
def test_proofs_from_tiles_match_the_reference_tree(size: int) -> None:
    tree = merkle.MerkleTree.from_leaves(i.to_bytes(4, "big") for i in range(size))
    nodes = tree.nodes()

    def fetch(tile: tiles.Tile) -> bytes:
        level = tile.level * tiles.HEIGHT
        first = tile.index * tiles.WIDTH
        return b"".join(nodes[(level, first + i)] for i in range(tile.width))

    reader = tiles.TileNodes(size, fetch)
    assert reader.root() == tree.root()
    for index in {0, size // 2, size - 1}:
        assert reader.inclusion_proof(index) == tree.inclusion_proof(index)
    for first in {1, size // 3, size - 1}:
        if first:
            assert reader.consistency_proof(first) == tree.consistency_proof(first, size)
