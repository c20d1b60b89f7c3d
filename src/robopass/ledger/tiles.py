"""C2SP tlog-tiles (SPEC §15): tile paths, widths, entry bundles and proofs from tiles.

Pure. A tile at level ``L`` (height 8) holds up to 256 consecutive Merkle tree hashes at tree
level ``8 * L``: tile ``(L, N)`` hash ``i`` is MTH of leaves ``[(N*256 + i) * 256**L,
(N*256 + i + 1) * 256**L)``. So a tree node ``(k, j)`` (level ``k``, covering leaves
``[j * 2**k, (j+1) * 2**k)``) is the fold of ``2**(k % 8)`` consecutive hashes of one tile at
level ``k // 8`` — which is how :class:`TileNodes` turns tiles into the nodes
:mod:`robopass.ledger.merkle` plans proofs from.

Index paths: ``1234067`` → ``x001/x234/067``; partial tiles add ``.p/<width>``.
Entry bundles: for each leaf, a big-endian uint16 length then the leaf bytes.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from robopass.ledger import merkle

__all__ = [
    "HEIGHT",
    "WIDTH",
    "Tile",
    "TileError",
    "TileNodes",
    "decode_bundle",
    "encode_bundle",
    "index_path",
    "parse_path",
    "tile_for_node",
    "tiles_for_nodes",
    "width_at",
]

HEIGHT = 8
WIDTH = 1 << HEIGHT
HASH = merkle.HASH_SIZE
#: ``level`` of an entry bundle in a :class:`Tile`.
ENTRIES = -1

_LEVEL = re.compile(r"0|[1-9][0-9]?")
_WIDTH = re.compile(r"[1-9][0-9]{0,2}")
_PREFIX_ELEMENT = re.compile(r"x[0-9]{3}")
_LAST_ELEMENT = re.compile(r"[0-9]{3}")


class TileError(ValueError):
    """A tile path is malformed, or a tile or bundle has the wrong shape."""


@dataclass(frozen=True, slots=True, order=True)
class Tile:
    """Tile ``(level, index)`` of ``width`` hashes (``level`` -1: an entry bundle)."""

    level: int
    index: int
    width: int = WIDTH

    @property
    def full(self) -> bool:
        return self.width == WIDTH

    def path(self) -> str:
        """The path after ``<prefix>/tile/``, e.g. ``0/x001/234.p/7`` or ``entries/005``."""
        head = "entries" if self.level == ENTRIES else str(self.level)
        tail = "" if self.full else f".p/{self.width}"
        return f"{head}/{index_path(self.index)}{tail}"


def index_path(index: int) -> str:
    if index < 0:
        raise TileError("a tile index is non-negative")
    groups = []
    while True:
        groups.append(f"{index % 1000:03d}")
        index //= 1000
        if index == 0:
            break
    groups.reverse()
    return "/".join([f"x{g}" for g in groups[:-1]] + [groups[-1]])


def parse_path(path: str) -> Tile:
    """Parse ``<L>/<N>[.p/<W>]`` or ``entries/<N>[.p/<W>]`` exactly as tlog-tiles writes them."""
    width = WIDTH
    parts = path.split("/")
    if len(parts) >= 3 and parts[-2].endswith(".p"):
        if not _WIDTH.fullmatch(parts[-1]) or not 1 <= int(parts[-1]) < WIDTH:
            raise TileError(f"partial width {parts[-1]!r} is not 1..255 without leading zeros")
        width = int(parts[-1])
        parts = [*parts[:-2], parts[-2][:-2]]
    if len(parts) < 2:
        raise TileError("a tile path is <level>/<index>")
    head, elements = parts[0], parts[1:]
    if head == "entries":
        level = ENTRIES
    elif _LEVEL.fullmatch(head) and int(head) <= 63:
        level = int(head)
    else:
        raise TileError(f"tile level {head!r} is not 0..63 without leading zeros")
    if not all(_PREFIX_ELEMENT.fullmatch(e) for e in elements[:-1]) or not \
            _LAST_ELEMENT.fullmatch(elements[-1]):
        raise TileError("a tile index is 3-digit groups, all but the last prefixed with x")
    index = int("".join(e.removeprefix("x") for e in elements))
    if index_path(index) != "/".join(elements):
        raise TileError("a tile index path has a leading zero group")
    return Tile(level, index, width)


def width_at(level: int, index: int, size: int) -> int:
    """Hashes tile ``(level, index)`` holds in a tree of ``size`` (0: it does not exist yet)."""
    level = max(level, 0)  # entry bundles are as wide as their level-0 tile
    count = (size >> (HEIGHT * level)) - index * WIDTH
    return max(0, min(WIDTH, count))


def tile_for_node(level: int, index: int) -> tuple[int, int, int, int]:
    """``(tile level, tile index, first hash, hash count)`` holding tree node ``(level, index)``."""
    tile_level, shift = divmod(level, HEIGHT)
    first = index << shift
    return tile_level, first >> HEIGHT, first % WIDTH, 1 << shift


def tiles_for_nodes(nodes: Iterable[merkle.NodeKey], size: int) -> set[Tile]:
    """The tiles (at their width in a tree of ``size``) that hold ``nodes``."""
    wanted = set()
    for level, index in nodes:
        tl, ti, _, _ = tile_for_node(level, index)
        wanted.add(Tile(tl, ti, width_at(tl, ti, size)))
    return wanted


def _split(data: bytes, width: int) -> list[bytes]:
    if len(data) != width * HASH:
        raise TileError(f"a tile of width {width} is {width * HASH} bytes, not {len(data)}")
    return [data[i : i + HASH] for i in range(0, len(data), HASH)]


class TileNodes:
    """Tree nodes ``(level, index) → hash`` read from the tiles of one tree size.

    ``fetch(tile)`` returns a tile's bytes; each tile is fetched once (``fetched`` counts them).
    :meth:`nodes` gives the mapping :func:`merkle.inclusion_proof` and friends take."""

    def __init__(self, size: int, fetch: Callable[[Tile], bytes]) -> None:
        self.size = size
        self._fetch = fetch
        self._tiles: dict[Tile, list[bytes]] = {}

    @property
    def fetched(self) -> int:
        return len(self._tiles)

    def _hashes(self, tile: Tile) -> list[bytes]:
        if tile not in self._tiles:
            self._tiles[tile] = _split(self._fetch(tile), tile.width)
        return self._tiles[tile]

    def __getitem__(self, key: merkle.NodeKey) -> bytes:
        level, index = key
        if (index + 1) << level > self.size:
            raise KeyError(key)
        tl, ti, first, count = tile_for_node(level, index)
        hashes = self._hashes(Tile(tl, ti, width_at(tl, ti, self.size)))[first : first + count]
        while len(hashes) > 1:
            hashes = [merkle.hash_children(hashes[i], hashes[i + 1])
                      for i in range(0, len(hashes), 2)]
        return hashes[0]

    def nodes(self, keys: Iterable[merkle.NodeKey]) -> dict[merkle.NodeKey, bytes]:
        return {key: self[key] for key in keys}

    def inclusion_proof(self, index: int) -> list[bytes]:
        keys = merkle.inclusion_proof_keys(index, self.size)
        return merkle.inclusion_proof(index, self.size, self.nodes(keys))

    def consistency_proof(self, first: int) -> list[bytes]:
        keys = merkle.consistency_proof_keys(first, self.size)
        return merkle.consistency_proof(first, self.size, self.nodes(keys))

    def root(self) -> bytes:
        return merkle.root_from_nodes(self.size, self.nodes(merkle.root_keys(self.size)))


def encode_bundle(leaves: Iterable[bytes]) -> bytes:
    out = bytearray()
    for leaf in leaves:
        if len(leaf) >= 1 << 16:
            raise TileError("an entry is at most 65,535 bytes")
        out += struct.pack(">H", len(leaf)) + leaf
    return bytes(out)


def decode_bundle(data: bytes, width: int) -> list[bytes]:
    """Split an entry bundle of ``width`` entries; refuses trailing or missing bytes."""
    leaves, pos = [], 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise TileError("an entry bundle ends inside a length prefix")
        (n,) = struct.unpack_from(">H", data, pos)
        if pos + 2 + n > len(data):
            raise TileError("an entry bundle ends inside an entry")
        leaves.append(data[pos + 2 : pos + 2 + n])
        pos += 2 + n
    if len(leaves) != width:
        raise TileError(f"entry bundle holds {len(leaves)} entries, want {width}")
    return leaves
