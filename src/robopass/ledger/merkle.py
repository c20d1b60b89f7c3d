"""RFC 9162 (RFC 6962) Merkle tree hashing, stored-node planning, proofs and verification.

Pure: bytes in, bytes out. Nothing here touches a database or the web, so a buyer or a foreign
registry can verify a proof with this module alone.

Storage model. Every leaf hash is node ``(0, i)``; every *perfect* subtree root is node
``(k, j)`` covering leaves ``[j * 2**k, (j + 1) * 2**k)``. A node is stored once it is complete
and never changes afterwards. The root of a tree of any size is the fold of at most log2(n)
perfect-subtree roots (a "compact range"), and a proof reads O(log n) stored nodes: only the
ragged right edge of the tree is recomputed, from the perfect nodes under it.

Typical use by the single writer::

    keys = frontier_keys(size)                       # read these nodes
    new = append_leaves(size, frontier, leaf_hashes)  # write these (level, index, hash) rows
    frontier = frontier_after(size, frontier, new)    # keep for the next batch
    root = root_from_nodes(size + len(leaf_hashes), frontier)

and by a reader::

    keys = inclusion_proof_keys(index, size)          # read these nodes
    hashes = inclusion_proof(index, size, nodes)      # list of 32-byte hashes

All sizes and indexes are non-negative ints; preconditions are checked first and violations raise
:class:`ProofError` (a ``ValueError``) with an exact message. A node the caller failed to supply
raises :class:`MissingNode` (a ``LookupError``).
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import chain, repeat
from operator import itemgetter

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MerkleTree",
    "MissingNode",
    "NodeKey",
    "ProofError",
    "RootMismatch",
    "append_leaves",
    "append_plan",
    "consistency_proof",
    "consistency_proof_keys",
    "frontier_after",
    "frontier_keys",
    "hash_children",
    "hash_leaf",
    "hash_leaves",
    "inclusion_proof",
    "inclusion_proof_keys",
    "root_from_inclusion_proof",
    "root_from_nodes",
    "root_keys",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
_sha256 = hashlib.sha256

#: MTH({}) — the root of the empty tree, SHA-256 of the empty string.
EMPTY_ROOT: bytes = _sha256(b"").digest()

#: ``(level, index)`` of a stored node.
NodeKey = tuple[int, int]


class ProofError(ValueError):
    """A precondition failed or a proof is malformed (wrong count or size of hashes)."""


class RootMismatch(ProofError):
    """A proof was well formed but recomputes a root other than the expected one."""

    def __init__(self, expected: bytes, calculated: bytes) -> None:
        self.expected = expected
        self.calculated = calculated
        super().__init__(
            f"calculated root {calculated.hex()} does not match expected root {expected.hex()}"
        )


class MissingNode(LookupError):
    """The caller's node mapping lacks a node the computation needs."""

    def __init__(self, key: NodeKey) -> None:
        self.key = key
        super().__init__(f"node (level {key[0]}, index {key[1]}) was not supplied")


# --- hashing -------------------------------------------------------------------------------------


def hash_leaf(data: bytes) -> bytes:
    """Return the RFC 9162 leaf hash SHA-256(0x00 ‖ data)."""
    return _sha256(_LEAF_PREFIX + data).digest()


def hash_children(left: bytes, right: bytes) -> bytes:
    """Return the RFC 9162 interior node hash SHA-256(0x01 ‖ left ‖ right)."""
    return _sha256(_NODE_PREFIX + left + right).digest()


def hash_leaves(leaves: Iterable[bytes]) -> list[bytes]:
    """Return :func:`hash_leaf` of every item, in order (a fast loop for batches)."""
    sha, prefix = _sha256, _LEAF_PREFIX
    return [sha(prefix + data).digest() for data in leaves]


# --- preconditions -------------------------------------------------------------------------------


def _check_size(size: int, what: str = "tree size") -> None:
    if size < 0:
        raise ProofError(f"{what} {size} is negative")


def _check_index(index: int, size: int) -> None:
    _check_size(size)
    if not 0 <= index < size:
        raise ProofError(f"index {index} out of bounds for tree size {size}")


def _check_sizes(first: int, second: int) -> None:
    _check_size(first, "first size")
    _check_size(second, "second size")
    if first > second:
        raise ProofError(f"first size {first} is greater than second size {second}")


# --- node planning -------------------------------------------------------------------------------

# A "plan" is a list of entries, one per proof hash; each entry is a tuple of node keys whose
# right fold is the hash: a single perfect node, or the perfect nodes under a ragged edge node.
_Plan = list[tuple[NodeKey, ...]]


def _range_keys(begin: int, end: int) -> tuple[NodeKey, ...]:
    """Perfect subtrees covering ``[begin, end)``, left to right; ``begin`` must be aligned to
    a power of two greater than ``end - begin`` (true for every use here)."""
    keys = []
    length = end - begin
    pos = begin
    for level in range(length.bit_length() - 1, -1, -1):
        if length >> level & 1:
            keys.append((level, pos >> level))
            pos += 1 << level
    return tuple(keys)


def _inclusion_plan(index: int, size: int, start_level: int = 0) -> _Plan:
    """Plan of the audit path of leaf ``index`` in a tree of ``size`` from ``start_level`` up:
    inner siblings (the top one possibly ragged), then the left siblings on the border."""
    inner = (index ^ (size - 1)).bit_length()
    # Below the top inner level every sibling is a complete, stored node.
    plan: _Plan = [((level, (index >> level) ^ 1),) for level in range(start_level, inner - 1)]
    if inner > start_level:
        level = inner - 1
        sibling = (index >> level) ^ 1
        begin = sibling << level
        if begin + (1 << level) <= size:
            plan.append(((level, sibling),))
        else:  # the sibling straddles the end of the tree: fold the perfect nodes under it
            plan.append(_range_keys(begin, size))
    plan.extend(
        [
            ((level, (index >> level) ^ 1),)
            for level in range(inner, index.bit_length())
            if index >> level & 1
        ]
    )
    return plan


def _consistency_plan(first: int, second: int) -> _Plan:
    if first == 0 or first == second:
        return []
    shift = (first & -first).bit_length() - 1  # trailing zeros of first
    seed = (first - 1) >> shift
    # The seed, node (shift, seed), is the root of the first tree when first is a power of two;
    # then the verifier already has it and it is left out.
    plan: _Plan = [((shift, seed),)] if seed else []
    plan.extend(_inclusion_plan(first - 1, second, shift))
    return plan


def _fold(keys: Sequence[NodeKey], nodes: Mapping[NodeKey, bytes]) -> bytes:
    try:
        result = nodes[keys[-1]]
        for key in keys[-2::-1]:
            result = _sha256(_NODE_PREFIX + nodes[key] + result).digest()
    except KeyError as exc:
        raise MissingNode(exc.args[0]) from None
    return result


def _evaluate(plan: _Plan, nodes: Mapping[NodeKey, bytes]) -> list[bytes]:
    try:
        return [nodes[entry[0]] if len(entry) == 1 else _fold(entry, nodes) for entry in plan]
    except KeyError as exc:
        raise MissingNode(exc.args[0]) from None


def _keys_of(plan: _Plan) -> set[NodeKey]:
    return {key for entry in plan for key in entry}


def frontier_keys(size: int) -> list[NodeKey]:
    """Nodes an append to a tree of ``size`` may need: the perfect-subtree roots along the right
    edge, one per set bit of ``size``, left (highest level) to right."""
    _check_size(size)
    return [
        (level, (size >> level) - 1)
        for level in range(size.bit_length() - 1, -1, -1)
        if size >> level & 1
    ]


def root_keys(size: int) -> list[NodeKey]:
    """Nodes whose fold is the root of a tree of ``size`` (same as :func:`frontier_keys`)."""
    return frontier_keys(size)


def root_from_nodes(size: int, nodes: Mapping[NodeKey, bytes]) -> bytes:
    """Return MTH of the first ``size`` leaves from the nodes of :func:`root_keys` (``size``)."""
    keys = root_keys(size)
    if not keys:
        return EMPTY_ROOT
    return _fold(keys, nodes)


def append_leaves(
    size: int, frontier: Mapping[NodeKey, bytes], leaf_hashes: Sequence[bytes]
) -> list[tuple[int, int, bytes]]:
    """Return every node that becomes complete when ``leaf_hashes`` are appended to a tree of
    ``size``: ``(level, index, hash)``, level 0 (the leaves themselves) first, each level in index
    order. ``frontier`` must hold the nodes of :func:`frontier_keys` (``size``) — more is fine.

    Costs one hash per new interior node (fewer than ``len(leaf_hashes)`` plus log2 n).
    Raises :class:`ProofError` for a negative size or a leaf hash that is not 32 bytes and
    :class:`MissingNode` when a needed frontier node is absent.
    """
    _check_size(size)
    count = len(leaf_hashes)
    if count and set(map(len, leaf_hashes)) != {HASH_SIZE}:
        bad = next(i for i, h in enumerate(leaf_hashes) if len(h) != HASH_SIZE)
        raise ProofError(f"leaf_hashes[{bad}] has {len(leaf_hashes[bad])} bytes, want {HASH_SIZE}")
    out: list[tuple[int, int, bytes]] = list(
        zip(repeat(0), range(size, size + count), leaf_hashes, strict=False)
    )
    sha, prefix = _sha256, _NODE_PREFIX
    level = 0
    current: Sequence[bytes] = leaf_hashes  # new nodes at `level`, from index `first`
    first = size
    it: Iterator[bytes]
    while current:
        if first & 1:  # the first new node is a right child: pair it with the frontier node
            key = (level, first - 1)
            try:
                left = frontier[key]
            except KeyError:
                raise MissingNode(key) from None
            it = chain((left,), current)
            first -= 1
        else:
            it = iter(current)
        parents = [sha(prefix + lhs + rhs).digest() for lhs, rhs in zip(it, it, strict=False)]
        level += 1
        first >>= 1
        out.extend(zip(repeat(level), range(first, first + len(parents)), parents, strict=False))
        current = parents
    return out


#: Alias of :func:`append_leaves`.
append_plan = append_leaves


def frontier_after(
    size: int, frontier: Mapping[NodeKey, bytes], new_nodes: Sequence[tuple[int, int, bytes]]
) -> dict[NodeKey, bytes]:
    """Return the frontier (:func:`frontier_keys`) of the grown tree, given the old ``frontier``
    and the exact output of :func:`append_leaves` (``size``, ``frontier``, ...). O(log n)."""
    _check_size(size)
    if new_nodes and new_nodes[0][:2] != (0, size):
        raise ProofError(f"new nodes do not start at leaf {size}")
    # Level 0 (the appended leaves) comes first and levels never decrease.
    new_size = size + bisect_left(new_nodes, 1, key=itemgetter(0))
    result: dict[NodeKey, bytes] = {}
    offsets = [0]  # start of each level's block in new_nodes
    for level in range(new_size.bit_length()):
        offsets.append(offsets[-1] + (new_size >> level) - (size >> level))
    for key in frontier_keys(new_size):
        level, index = key
        if index >= size >> level:
            node = new_nodes[offsets[level] + index - (size >> level)]
            if node[:2] != key:
                raise ProofError("new nodes are not the output of append_leaves for this size")
            result[key] = node[2]
        else:
            try:
                result[key] = frontier[key]
            except KeyError:
                raise MissingNode(key) from None
    return result


def inclusion_proof_keys(index: int, size: int) -> set[NodeKey]:
    """Stored nodes needed for the inclusion proof of leaf ``index`` in a tree of ``size``.

    Precondition ``0 <= index < size``, else :class:`ProofError`."""
    _check_index(index, size)
    return _keys_of(_inclusion_plan(index, size))


def inclusion_proof(index: int, size: int, nodes: Mapping[NodeKey, bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3 inclusion proof (audit path) of leaf ``index`` in a tree of ``size``,
    leaf-side first, from the nodes of :func:`inclusion_proof_keys`."""
    _check_index(index, size)
    return _evaluate(_inclusion_plan(index, size), nodes)


def consistency_proof_keys(first: int, second: int) -> set[NodeKey]:
    """Stored nodes needed for the consistency proof between tree sizes ``first`` and
    ``second``. Precondition ``0 <= first <= second``, else :class:`ProofError`."""
    _check_sizes(first, second)
    return _keys_of(_consistency_plan(first, second))


def consistency_proof(first: int, second: int, nodes: Mapping[NodeKey, bytes]) -> list[bytes]:
    """RFC 9162 §2.1.4 consistency proof from tree size ``first`` to ``second`` (empty when
    ``first`` is 0 or equals ``second``), from the nodes of :func:`consistency_proof_keys`."""
    _check_sizes(first, second)
    return _evaluate(_consistency_plan(first, second), nodes)


# --- verification --------------------------------------------------------------------------------


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} has {len(value)} bytes, want {HASH_SIZE}")


def _check_proof(proof: Sequence[bytes], want: int, context: str) -> None:
    if len(proof) != want:
        raise ProofError(f"proof has {len(proof)} hashes, want {want} {context}")
    for i, value in enumerate(proof):
        _check_hash(value, f"proof[{i}]")


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, sibling in enumerate(proof):
        if index >> i & 1:
            seed = hash_children(sibling, seed)
        else:
            seed = hash_children(seed, sibling)
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, sibling in enumerate(proof):
        if index >> i & 1:
            seed = hash_children(sibling, seed)
    return seed


def _chain_border_right(seed: bytes, proof: Sequence[bytes]) -> bytes:
    for sibling in proof:
        seed = hash_children(sibling, seed)
    return seed


def _decompose(index: int, size: int) -> tuple[int, int]:
    """Split an audit path into its inner part (below the point where the paths to ``index``
    and ``size - 1`` meet) and its border part (left siblings above)."""
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner, border


def root_from_inclusion_proof(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes]
) -> bytes:
    """Recompute the root of a tree of ``size`` from leaf ``index``'s hash and its audit path.

    Preconditions: ``0 <= index < size``; ``leaf_hash`` and every proof hash are 32 bytes; the
    proof has exactly the length a tree of ``size`` implies. Violations raise
    :class:`ProofError`."""
    _check_index(index, size)
    _check_hash(leaf_hash, "leaf hash")
    inner, border = _decompose(index, size)
    _check_proof(proof, inner + border, f"for index {index} in tree size {size}")
    result = _chain_inner(leaf_hash, proof[:inner], index)
    return _chain_border_right(result, proof[inner:])


def verify_inclusion(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that leaf ``index`` with ``leaf_hash`` is in the tree of ``size`` with ``root``.

    Raises :class:`RootMismatch` if the proof recomputes another root, :class:`ProofError` as
    :func:`root_from_inclusion_proof` does or if ``root`` is not 32 bytes."""
    _check_hash(root, "root")
    calculated = root_from_inclusion_proof(index, size, leaf_hash, proof)
    if calculated != root:
        raise RootMismatch(root, calculated)


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of ``second`` leaves with ``second_root`` extends the tree of
    ``first`` leaves with ``first_root`` (RFC 9162 §2.1.4.2).

    Preconditions: ``0 <= first <= second``; both roots and every proof hash are 32 bytes; the
    proof is empty when ``first`` is 0 or equals ``second`` and otherwise has exactly the length
    the sizes imply. Violations raise :class:`ProofError`; a root that does not recompute raises
    :class:`RootMismatch` (for ``first == 0`` ``first_root`` must be :data:`EMPTY_ROOT`)."""
    _check_sizes(first, second)
    _check_hash(first_root, "first root")
    _check_hash(second_root, "second root")
    context = f"for sizes {first} and {second}"
    if first == 0 or first == second:
        _check_proof(proof, 0, context)
        if first == 0:
            if first_root != EMPTY_ROOT:
                raise RootMismatch(first_root, EMPTY_ROOT)
        elif first_root != second_root:
            raise RootMismatch(second_root, first_root)
        return

    inner, border = _decompose(first - 1, second)
    shift = (first & -first).bit_length() - 1
    inner -= shift  # shift < inner whenever first < second
    # When first is a power of two its root is the seed; otherwise the proof starts with it.
    start = 0 if first == 1 << shift else 1
    _check_proof(proof, start + inner + border, context)
    seed = proof[0] if start else first_root
    path = proof[start:]
    mask = (first - 1) >> shift

    first_calculated = _chain_border_right(
        _chain_inner_right(seed, path[:inner], mask), path[inner:]
    )
    if first_calculated != first_root:
        raise RootMismatch(first_root, first_calculated)
    second_calculated = _chain_border_right(_chain_inner(seed, path[:inner], mask), path[inner:])
    if second_calculated != second_root:
        raise RootMismatch(second_root, second_calculated)


# --- reference tree ------------------------------------------------------------------------------


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """In-memory reference tree that follows the RFC 6962 §2.1 definitions literally (recursive
    MTH, PATH and SUBPROOF). Slow, obviously correct; used by tests to cross-check the
    stored-node algorithms above. Subtree hashes are memoised: the tree is append-only, so the
    hash of a leaf range never changes."""

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self.leaf_hashes: list[bytes] = list(leaf_hashes)
        self._memo: dict[tuple[int, int], bytes] = {}

    @classmethod
    def from_leaves(cls, leaves: Iterable[bytes]) -> MerkleTree:
        """A tree of the given leaf data (hashed with :func:`hash_leaf`)."""
        return cls(hash_leaf(data) for data in leaves)

    def __len__(self) -> int:
        return len(self.leaf_hashes)

    def append(self, data: bytes) -> int:
        """Append leaf data; return its index."""
        self.leaf_hashes.append(hash_leaf(data))
        return len(self.leaf_hashes) - 1

    def _size(self, size: int | None) -> int:
        if size is None:
            return len(self.leaf_hashes)
        if not 0 <= size <= len(self.leaf_hashes):
            raise ProofError(f"tree size {size} out of bounds for {len(self.leaf_hashes)} leaves")
        return size

    def _mth(self, begin: int, end: int) -> bytes:
        n = end - begin
        if n == 0:
            return EMPTY_ROOT
        if n == 1:
            return self.leaf_hashes[begin]
        memo = self._memo.get((begin, end))
        if memo is None:
            k = _split(n)
            memo = hash_children(self._mth(begin, begin + k), self._mth(begin + k, end))
            self._memo[(begin, end)] = memo
        return memo

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (all by default)."""
        return self._mth(0, self._size(size))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[size])."""
        size = self._size(size)
        _check_index(index, size)
        return self._path(index, 0, size)

    def _path(self, m: int, begin: int, end: int) -> list[bytes]:
        n = end - begin
        if n == 1:
            return []
        k = _split(n)
        if m < k:
            return self._path(m, begin, begin + k) + [self._mth(begin + k, end)]
        return self._path(m - k, begin + k, end) + [self._mth(begin, begin + k)]

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """PROOF(first, D[second]); empty when ``first`` is 0 or equals ``second``."""
        second = self._size(second)
        _check_sizes(first, second)
        if first == 0:
            return []
        return self._subproof(first, 0, second, True)

    def _subproof(self, m: int, begin: int, end: int, whole: bool) -> list[bytes]:
        n = end - begin
        if m == n:
            return [] if whole else [self._mth(begin, end)]
        k = _split(n)
        if m <= k:
            return self._subproof(m, begin, begin + k, whole) + [self._mth(begin + k, end)]
        return self._subproof(m - k, begin + k, end, False) + [self._mth(begin, begin + k)]

    def nodes(self) -> dict[NodeKey, bytes]:
        """Every stored node of the storage model: all perfect subtree roots, leaves included."""
        result: dict[NodeKey, bytes] = {}
        size = len(self.leaf_hashes)
        level = 0
        while (1 << level) <= size:
            for index in range(size >> level):
                result[(level, index)] = self._mth(index << level, (index + 1) << level)
            level += 1
        return result
