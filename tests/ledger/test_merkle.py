"""RFC 6962 / RFC 9162 Merkle tree: known-answer vectors, tampered proofs, cross-checks of the
stored-node algorithms against the recursive reference tree."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from robopass.ledger.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    MissingNode,
    NodeKey,
    ProofError,
    RootMismatch,
    append_leaves,
    consistency_proof,
    consistency_proof_keys,
    frontier_after,
    frontier_keys,
    hash_children,
    hash_leaf,
    hash_leaves,
    inclusion_proof,
    inclusion_proof_keys,
    root_from_inclusion_proof,
    root_from_nodes,
    root_keys,
    verify_consistency,
    verify_inclusion,
)

VECTORS = json.loads(
    (Path(__file__).parent.parent / "data" / "rfc6962_vectors.json").read_text("utf-8")
)
LEAVES = [bytes.fromhex(h) for h in VECTORS["leaves"]]
ROOTS = {int(size): bytes.fromhex(h) for size, h in VECTORS["roots"].items()}
ROOTS[0] = bytes.fromhex(VECTORS["empty_root"])
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def _proof(hexes: Sequence[str]) -> list[bytes]:
    return [bytes.fromhex(h) for h in hexes]


def _flip(proof: Sequence[bytes], i: int, mask: int) -> list[bytes]:
    tampered = list(proof)
    tampered[i] = bytes([tampered[i][0] ^ mask]) + tampered[i][1:]
    return tampered


def _build_nodes(leaf_hashes: Sequence[bytes], chunks: Sequence[int]) -> dict[NodeKey, bytes]:
    """Store a tree the way the storage layer will: append batch by batch, frontier only."""
    nodes: dict[NodeKey, bytes] = {}
    size = 0
    for chunk in chunks:
        frontier = {key: nodes[key] for key in frontier_keys(size)}
        for level, index, value in append_leaves(size, frontier, leaf_hashes[size : size + chunk]):
            assert (level, index) not in nodes, "a node was emitted twice"
            nodes[(level, index)] = value
        size += chunk
    assert size == len(leaf_hashes)
    return nodes


def _only(nodes: dict[NodeKey, bytes], keys: set[NodeKey]) -> dict[NodeKey, bytes]:
    """Hand a proof function exactly the nodes it asked for, as storage will."""
    return {key: nodes[key] for key in keys}


@pytest.fixture(scope="module")
def ref8() -> MerkleTree:
    return MerkleTree.from_leaves(LEAVES)


@pytest.fixture(scope="module")
def nodes8() -> dict[NodeKey, bytes]:
    return _build_nodes(hash_leaves(LEAVES), [8])


# --- hashing -------------------------------------------------------------------------------------


def test_hashes_are_domain_separated() -> None:
    assert EMPTY_ROOT == hashlib.sha256(b"").digest() == ROOTS[0]
    assert hash_leaf(b"x") == hashlib.sha256(b"\x00x").digest()
    assert hash_children(b"l", b"r") == hashlib.sha256(b"\x01lr").digest()
    assert hash_leaves([b"", b"x"]) == [hash_leaf(b""), hash_leaf(b"x")]
    # The one-leaf tree's root is its leaf hash.
    assert hash_leaf(LEAVES[0]) == ROOTS[1]


# --- known answers -------------------------------------------------------------------------------


@pytest.mark.parametrize("size", range(0, 9))
def test_roots_match_vectors(size: int, ref8: MerkleTree, nodes8: dict) -> None:
    assert ref8.root(size) == ROOTS[size]
    assert root_from_nodes(size, _only(nodes8, set(root_keys(size)))) == ROOTS[size]


@pytest.mark.parametrize("chunks", [[1] * 8, [8], [3, 5], [1, 2, 4, 1], [5, 3], [7, 1]])
def test_append_in_batches_gives_the_same_roots(chunks: list[int]) -> None:
    leaf_hashes = hash_leaves(LEAVES)
    frontier: dict[NodeKey, bytes] = {}
    size = 0
    for chunk in chunks:
        new = append_leaves(size, frontier, leaf_hashes[size : size + chunk])
        frontier = frontier_after(size, frontier, new)
        size += chunk
        assert set(frontier) == set(frontier_keys(size))
        assert root_from_nodes(size, frontier) == ROOTS[size]
    assert _build_nodes(leaf_hashes, chunks) == MerkleTree(leaf_hashes).nodes()


@pytest.mark.parametrize("vector", VECTORS["inclusion"], ids=lambda v: f"{v['index']}@{v['size']}")
def test_inclusion_vectors(vector: dict, ref8: MerkleTree, nodes8: dict) -> None:
    index, size, want = vector["index"], vector["size"], _proof(vector["proof"])
    leaf_hash = hash_leaf(LEAVES[index])
    assert ref8.inclusion_proof(index, size) == want
    assert inclusion_proof(index, size, _only(nodes8, inclusion_proof_keys(index, size))) == want
    assert root_from_inclusion_proof(index, size, leaf_hash, want) == ROOTS[size]
    verify_inclusion(index, size, leaf_hash, want, ROOTS[size])


@pytest.mark.parametrize(
    "vector", VECTORS["consistency"], ids=lambda v: f"{v['first']}-{v['second']}"
)
def test_consistency_vectors(vector: dict, ref8: MerkleTree, nodes8: dict) -> None:
    first, second, want = vector["first"], vector["second"], _proof(vector["proof"])
    assert ref8.consistency_proof(first, second) == want
    keys = consistency_proof_keys(first, second)
    assert consistency_proof(first, second, _only(nodes8, keys)) == want
    verify_consistency(first, second, ROOTS[first], ROOTS[second], want)


@pytest.mark.parametrize(
    "vector", VECTORS["inclusion_nodes"], ids=lambda v: f"{v['index']}@{v['size']}"
)
def test_inclusion_reads_the_same_nodes_as_transparency_dev(vector: dict) -> None:
    want = {tuple(node) for node in vector["nodes"]}
    assert inclusion_proof_keys(vector["index"], vector["size"]) == want


@pytest.mark.parametrize(
    "vector", VECTORS["consistency_nodes"], ids=lambda v: f"{v['first']}-{v['second']}"
)
def test_consistency_reads_the_same_nodes_as_transparency_dev(vector: dict) -> None:
    want = {tuple(node) for node in vector["nodes"]}
    assert consistency_proof_keys(vector["first"], vector["second"]) == want


@pytest.mark.parametrize("vector", VECTORS["inclusion_node_errors"])
def test_inclusion_keys_reject_bad_parameters(vector: dict) -> None:
    index, size = vector["index"], vector["size"]
    with pytest.raises(ProofError, match=f"^index {index} out of bounds for tree size {size}$"):
        inclusion_proof_keys(index, size)


@pytest.mark.parametrize("vector", VECTORS["consistency_node_errors"])
def test_consistency_keys_reject_bad_parameters(vector: dict) -> None:
    first, second = vector["first"], vector["second"]
    with pytest.raises(ProofError, match=f"^first size {first} is greater than second size"):
        consistency_proof_keys(first, second)


# --- tampering -----------------------------------------------------------------------------------


def _inclusion_probes(
    index: int, size: int, leaf_hash: bytes, proof: list[bytes], root: bytes
) -> list[tuple[str, Callable[[], None]]]:
    """The corruptions transparency-dev/merkle's verifier tests try; each must be refused."""

    def probe(
        i: int = index,
        s: int = size,
        leaf: bytes = leaf_hash,
        p: Sequence[bytes] = proof,
        r: bytes = root,
    ) -> Callable[[], None]:
        return lambda: verify_inclusion(i, s, leaf, p, r)

    probes = [
        ("index - 1", probe(i=index - 1)),
        ("index + 1", probe(i=index + 1)),
        ("index ^ 2", probe(i=index ^ 2)),
        ("size * 2", probe(s=size * 2)),
        ("size // 2", probe(s=size // 2)),
        ("wrong leaf", probe(leaf=b"WrongLeaf")),
        ("other leaf", probe(leaf=SOME_HASH)),
        ("empty root", probe(r=EMPTY_ROOT)),
        ("random root", probe(r=SOME_HASH)),
        ("trailing garbage", probe(p=[*proof, b""])),
        ("trailing root", probe(p=[*proof, root])),
        ("preceding garbage", probe(p=[b"", *proof])),
        ("preceding root", probe(p=[root, *proof])),
    ]
    for i in range(len(proof)):
        probes.append((f"proof[{i}] bit 3 flipped", probe(p=_flip(proof, i, 8))))
    if proof:
        probes.append(("removed component", probe(p=proof[:-1])))
    if len(proof) > 1:
        probes.append(("inserted component", probe(p=[proof[0], SOME_HASH, *proof[1:]])))
    return probes


def _consistency_probes(
    first: int, second: int, root1: bytes, root2: bytes, proof: list[bytes]
) -> list[tuple[str, Callable[[], None]]]:
    def probe(
        f: int = first,
        s: int = second,
        r1: bytes = root1,
        r2: bytes = root2,
        p: Sequence[bytes] = proof,
    ) -> Callable[[], None]:
        return lambda: verify_consistency(f, s, r1, r2, p)

    probes = [
        ("first - 1", probe(f=first - 1)),
        ("first + 1", probe(f=first + 1)),
        ("first ^ 2", probe(f=first ^ 2)),
        ("second * 2", probe(s=second * 2)),
        ("second // 2", probe(s=second // 2)),
        ("wrong root1", probe(r1=b"WrongRoot")),
        ("wrong root2", probe(r2=b"WrongRoot")),
        ("other root1", probe(r1=SOME_HASH)),
        ("other root2", probe(r2=SOME_HASH)),
        ("swapped roots", probe(r1=root2, r2=root1)),
        ("empty proof", probe(p=[])),
        ("trailing garbage", probe(p=[*proof, b""])),
        ("trailing root1", probe(p=[*proof, root1])),
        ("trailing root2", probe(p=[*proof, root2])),
        ("preceding garbage", probe(p=[b"", *proof])),
        ("preceding root1", probe(p=[root1, *proof])),
        ("preceding root2", probe(p=[root2, *proof])),
        ("preceding proof[0]", probe(p=[proof[0], *proof])),
        ("truncated proof", probe(p=proof[:-1])),
    ]
    for i in range(len(proof)):
        probes.append((f"proof[{i}] bit 4 flipped", probe(p=_flip(proof, i, 16))))
    return probes


@pytest.mark.parametrize("vector", VECTORS["inclusion"], ids=lambda v: f"{v['index']}@{v['size']}")
def test_tampered_inclusion_proofs_are_refused(vector: dict) -> None:
    index, size, proof = vector["index"], vector["size"], _proof(vector["proof"])
    leaf_hash = hash_leaf(LEAVES[index])
    refused_silently = []
    for desc, check in _inclusion_probes(index, size, leaf_hash, proof, ROOTS[size]):
        try:
            check()
        except ProofError:
            continue
        refused_silently.append(desc)
    assert refused_silently == []


@pytest.mark.parametrize(
    "vector",
    [v for v in VECTORS["consistency"] if v["proof"]],
    ids=lambda v: f"{v['first']}-{v['second']}",
)
def test_tampered_consistency_proofs_are_refused(vector: dict) -> None:
    first, second, proof = vector["first"], vector["second"], _proof(vector["proof"])
    accepted = []
    for desc, check in _consistency_probes(first, second, ROOTS[first], ROOTS[second], proof):
        try:
            check()
        except ProofError:
            continue
        accepted.append(desc)
    assert accepted == []


def test_one_flipped_bit_is_a_root_mismatch() -> None:
    vector = VECTORS["inclusion"][2]
    index, size, proof = vector["index"], vector["size"], _proof(vector["proof"])
    leaf_hash = hash_leaf(LEAVES[index])
    for i in range(len(proof)):
        for bit in range(8):
            with pytest.raises(RootMismatch) as info:
                verify_inclusion(index, size, leaf_hash, _flip(proof, i, 1 << bit), ROOTS[size])
            assert info.value.expected == ROOTS[size]
            assert info.value.calculated != ROOTS[size]
            assert str(info.value) == (
                f"calculated root {info.value.calculated.hex()} does not match expected root "
                f"{ROOTS[size].hex()}"
            )
    with pytest.raises(RootMismatch):
        verify_inclusion(index, size, _flip([leaf_hash], 0, 1)[0], proof, ROOTS[size])
    consistency = VECTORS["consistency"][2]
    first, second, proof = consistency["first"], consistency["second"], consistency["proof"]
    for i in range(len(proof)):
        with pytest.raises(RootMismatch):
            verify_consistency(
                first, second, ROOTS[first], ROOTS[second], _flip(_proof(proof), i, 1)
            )


# --- exact precondition messages -----------------------------------------------------------------


def test_messages() -> None:
    leaf = hash_leaf(b"")
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: inclusion_proof_keys(7, 5), "index 7 out of bounds for tree size 5"),
        (lambda: inclusion_proof(-1, 5, {}), "index -1 out of bounds for tree size 5"),
        (lambda: inclusion_proof_keys(0, -2), "tree size -2 is negative"),
        (lambda: consistency_proof_keys(9, 8), "first size 9 is greater than second size 8"),
        (lambda: consistency_proof(-1, 8, {}), "first size -1 is negative"),
        (lambda: frontier_keys(-1), "tree size -1 is negative"),
        (
            lambda: root_from_inclusion_proof(5, 5, leaf, []),
            "index 5 out of bounds for tree size 5",
        ),
        (lambda: root_from_inclusion_proof(0, 8, leaf[:31], []), "leaf hash has 31 bytes, want 32"),
        (
            lambda: root_from_inclusion_proof(0, 8, leaf, [leaf] * 2),
            "proof has 2 hashes, want 3 for index 0 in tree size 8",
        ),
        (lambda: root_from_inclusion_proof(0, 2, leaf, [b"x"]), "proof[0] has 1 bytes, want 32"),
        (lambda: verify_inclusion(0, 1, leaf, [], b""), "root has 0 bytes, want 32"),
        (
            lambda: verify_consistency(3, 2, leaf, leaf, []),
            "first size 3 is greater than second size 2",
        ),
        (
            lambda: verify_consistency(3, 3, leaf, leaf, [leaf]),
            "proof has 1 hashes, want 0 for sizes 3 and 3",
        ),
        (
            lambda: verify_consistency(1, 2, leaf, leaf, []),
            "proof has 0 hashes, want 1 for sizes 1 and 2",
        ),
        (
            lambda: verify_consistency(1, 2, b"WrongRoot", leaf, [leaf]),
            "first root has 9 bytes, want 32",
        ),
        (lambda: append_leaves(0, {}, [leaf, leaf[:5]]), "leaf_hashes[1] has 5 bytes, want 32"),
    ]
    for call, message in cases:
        with pytest.raises(ProofError) as info:
            call()
        assert str(info.value) == message
        assert isinstance(info.value, ValueError)


def test_trivial_consistency() -> None:
    # Any tree extends the empty tree; a tree is consistent with itself.
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(0, 5, EMPTY_ROOT, ROOTS[5], [])
    verify_consistency(5, 5, ROOTS[5], ROOTS[5], [])
    with pytest.raises(RootMismatch):
        verify_consistency(5, 5, ROOTS[5], ROOTS[6], [])
    with pytest.raises(RootMismatch):  # the empty tree has exactly one root
        verify_consistency(0, 5, ROOTS[1], ROOTS[5], [])
    with pytest.raises(ProofError):  # roots match but the proof is not empty
        verify_consistency(0, 1, EMPTY_ROOT, ROOTS[1], [EMPTY_ROOT])
    assert consistency_proof(0, 5, {}) == []
    assert consistency_proof(5, 5, {}) == []


def test_missing_nodes_are_named() -> None:
    with pytest.raises(MissingNode, match=r"^node \(level 1, index 1\) was not supplied$"):
        inclusion_proof(0, 4, {(0, 1): SOME_HASH})
    with pytest.raises(MissingNode) as info:
        append_leaves(3, {(1, 0): SOME_HASH}, [SOME_HASH])
    assert info.value.key == (0, 2)
    with pytest.raises(MissingNode):
        root_from_nodes(3, {(1, 0): SOME_HASH})


def test_append_nothing() -> None:
    assert append_leaves(0, {}, []) == []
    assert append_leaves(5, {}, []) == []
    assert root_from_nodes(0, {}) == EMPTY_ROOT


# --- cross-checks against the reference tree -----------------------------------------------------

CROSS_MAX = 130


@pytest.fixture(scope="module")
def ref_big() -> MerkleTree:
    return MerkleTree.from_leaves(i.to_bytes(2, "big") for i in range(CROSS_MAX))


@pytest.fixture(scope="module")
def nodes_big(ref_big: MerkleTree) -> dict[NodeKey, bytes]:
    rng = random.Random(6962)
    chunks = []
    left = CROSS_MAX
    while left:
        chunks.append(rng.randint(1, min(left, 17)))
        left -= chunks[-1]
    return _build_nodes(ref_big.leaf_hashes, chunks)


def test_stored_nodes_are_exactly_the_perfect_subtrees(ref_big: MerkleTree, nodes_big) -> None:
    assert nodes_big == ref_big.nodes()


def test_every_inclusion_proof_up_to_130(ref_big: MerkleTree, nodes_big: dict) -> None:
    for size in range(1, CROSS_MAX + 1):
        root = ref_big.root(size)
        assert root_from_nodes(size, _only(nodes_big, set(root_keys(size)))) == root
        for index in range(size):
            keys = inclusion_proof_keys(index, size)
            assert len(keys) <= 2 * size.bit_length()
            proof = inclusion_proof(index, size, _only(nodes_big, keys))
            assert proof == ref_big.inclusion_proof(index, size), (index, size)
            verify_inclusion(index, size, ref_big.leaf_hashes[index], proof, root)


def test_every_consistency_proof_up_to_130(ref_big: MerkleTree, nodes_big: dict) -> None:
    for second in range(0, CROSS_MAX + 1):
        root2 = ref_big.root(second)
        for first in range(0, second + 1):
            keys = consistency_proof_keys(first, second)
            assert len(keys) <= 2 * second.bit_length() + 1
            proof = consistency_proof(first, second, _only(nodes_big, keys))
            assert proof == ref_big.consistency_proof(first, second), (first, second)
            verify_consistency(first, second, ref_big.root(first), root2, proof)


def test_random_larger_trees() -> None:
    rng = random.Random(9162)
    size = 5000
    ref = MerkleTree(rng.randbytes(32) for _ in range(size))
    chunks = [1, 2, 1000, 1, 2047, 1949]
    nodes = _build_nodes(ref.leaf_hashes, chunks)
    assert len(nodes) == len(ref.nodes())
    for _ in range(300):
        second = rng.randint(1, size)
        first = rng.randint(0, second)
        index = rng.randrange(second)
        proof = inclusion_proof(index, second, _only(nodes, inclusion_proof_keys(index, second)))
        assert proof == ref.inclusion_proof(index, second)
        verify_inclusion(index, second, ref.leaf_hashes[index], proof, ref.root(second))
        proof = consistency_proof(
            first, second, _only(nodes, consistency_proof_keys(first, second))
        )
        assert proof == ref.consistency_proof(first, second)
        verify_consistency(first, second, ref.root(first), ref.root(second), proof)


def test_frontier_after_matches_a_full_store() -> None:
    rng = random.Random(8)
    leaf_hashes = [rng.randbytes(32) for _ in range(700)]
    nodes: dict[NodeKey, bytes] = {}
    frontier: dict[NodeKey, bytes] = {}
    size = 0
    while size < len(leaf_hashes):
        count = min(rng.choice([1, 2, 3, 64, 129]), len(leaf_hashes) - size)
        new = append_leaves(size, frontier, leaf_hashes[size : size + count])
        nodes.update(((level, index), value) for level, index, value in new)
        frontier = frontier_after(size, frontier, new)
        size += count
        assert frontier == {key: nodes[key] for key in frontier_keys(size)}


def test_proofs_at_huge_sizes_stay_logarithmic() -> None:
    size = 10_000_000_000
    keys = inclusion_proof_keys(size // 3, size)
    assert len(keys) <= 2 * size.bit_length()
    assert len(consistency_proof_keys(size // 3, size)) <= 2 * size.bit_length() + 1
    # A proof over random node values still has the RFC length and verifies against its root.
    rng = random.Random(1)
    nodes = {key: rng.randbytes(32) for key in keys | {(0, size // 3)}}
    proof = inclusion_proof(size // 3, size, nodes)
    root = root_from_inclusion_proof(size // 3, size, nodes[(0, size // 3)], proof)
    verify_inclusion(size // 3, size, nodes[(0, size // 3)], proof, root)
