"""One monitoring pass over a registry's log, using only its public C2SP endpoints.

The monitor keeps, in its state directory, the last checkpoint it verified (as signed text, the
evidence) and the *compact range* of that tree: the ≤ 64 perfect-subtree roots on its right
edge. A pass:

1. fetches ``/api/v1/ledger/checkpoint`` and verifies the log's signature (and, with witness
   keys, counts valid cosignatures against the quorum);
2. a smaller size than before, or the same size with another root, is a rewritten history or
   a split view;
3. otherwise fetches the entry bundles of the new leaves, checks each is a well-formed public
   leaf record, hashes them onto the compact range and requires the new checkpoint's root —
   which proves the new tree extends the old one and holds exactly these leaves;
4. checks that the hash tiles serve a consistency proof old → new that verifies, so buyers'
   inclusion proofs from tiles will work.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from robopass.ledger import checkpoint, merkle, note, tiles
from robopass.monitor import leaves

#: Leaves appended to the compact range at a time (bounds memory on a long catch-up).
CHUNK = 256 * 64


class Inconsistent(Exception):
    """The log contradicts a checkpoint it signed before (split view or rewritten history)."""

    def __init__(self, reason: str, old: str, new: str) -> None:
        super().__init__(reason)
        self.reason, self.old, self.new = reason, old, new


class MonitorError(Exception):
    """Anything else that stops a pass: unreachable log, bad signature, malformed data."""


class QuorumMissing(MonitorError):
    pass


@dataclass
class State:
    size: int = 0
    root: bytes = merkle.EMPTY_ROOT
    frontier: dict[merkle.NodeKey, bytes] = field(default_factory=dict)
    checkpoint: str = ""

    @classmethod
    def load(cls, directory: Path) -> State:
        path = directory / "state.json"
        if not path.exists():
            return cls()
        data = json.loads(path.read_text())
        return cls(size=data["size"], root=bytes.fromhex(data["root"]),
                   frontier={(lv, i): bytes.fromhex(h) for lv, i, h in data["frontier"]},
                   checkpoint=data["checkpoint"])

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / "state.json.tmp"
        tmp.write_text(json.dumps({
            "size": self.size, "root": self.root.hex(), "checkpoint": self.checkpoint,
            "frontier": [[lv, i, h.hex()] for (lv, i), h in sorted(self.frontier.items())]}))
        os.replace(tmp, directory / "state.json")


@dataclass
class Report:
    origin: str
    size: int
    root: bytes
    new_entries: int
    cosigners: list[str]


class Log:
    """The log's public endpoints under ``base`` (``/api/v1/ledger/...``)."""

    def __init__(self, base: str, client: httpx.Client) -> None:
        self.base = base.rstrip("/") + "/api/v1/ledger"
        self.client = client
        self.reads = 0

    def get(self, path: str) -> bytes:
        self.reads += 1
        try:
            r = self.client.get(f"{self.base}/{path}")
        except httpx.HTTPError as exc:
            raise MonitorError(f"GET {path}: {exc}") from None
        if r.status_code != 200:
            raise MonitorError(f"GET {path}: HTTP {r.status_code} {r.text[:200]}")
        return r.content

    def tile(self, tile: tiles.Tile) -> bytes:
        return self.get(f"tile/{tile.path()}")


def fetch_checkpoint(log: Log, key: note.NoteKey, witnesses: Sequence[note.NoteKey]
                     ) -> tuple[checkpoint.Checkpoint, list[note.NoteKey]]:
    signed = log.get("checkpoint").decode("utf-8", "replace")
    try:
        return checkpoint.open_checkpoint(signed, key, tuple(witnesses))
    except checkpoint.CheckpointError as exc:
        raise MonitorError(f"the checkpoint does not verify: {exc}\n{signed}") from None


def _new_leaves(log: Log, start: int, end: int) -> list[bytes]:
    """Entries [start, end) from entry bundles (each checked to be well formed)."""
    out: list[bytes] = []
    for n in range(start // tiles.WIDTH, (end + tiles.WIDTH - 1) // tiles.WIDTH):
        width = tiles.width_at(0, n, end)
        bundle = tiles.decode_bundle(log.tile(tiles.Tile(tiles.ENTRIES, n, width)), width)
        first = n * tiles.WIDTH
        for i, leaf in enumerate(bundle):
            if first + i < start:
                continue
            bad = leaves.problem(leaf)
            if bad:
                raise MonitorError(f"entry {first + i} is not a public leaf record: {bad}")
            out.append(leaf)
    return out


def _extend(state: State, log: Log, cp: checkpoint.Checkpoint,
            progress: Callable[[int], None]) -> None:
    size, frontier = state.size, dict(state.frontier)
    while size < cp.size:
        end = min(cp.size, size + CHUNK)
        hashes = [merkle.hash_leaf(leaf) for leaf in _new_leaves(log, size, end)]
        new_nodes = merkle.append_leaves(size, frontier, hashes)
        frontier = merkle.frontier_after(size, frontier, new_nodes)
        size = end
        progress(size)
    if merkle.root_from_nodes(cp.size, frontier) != cp.root:
        raise Inconsistent(f"the entries from {state.size} to {cp.size} with the tree at "
                           f"size {state.size} do not give the new root: the log rewrote "
                           "history", state.checkpoint, cp.text)
    if state.size:
        proof = tiles.TileNodes(cp.size, log.tile).consistency_proof(state.size)
        try:
            merkle.verify_consistency(state.size, cp.size, state.root, cp.root, proof)
        except merkle.ProofError as exc:
            raise Inconsistent(f"the tiles' consistency proof fails: {exc}", state.checkpoint,
                               cp.text) from None
    state.size, state.root, state.frontier, state.checkpoint = cp.size, cp.root, frontier, \
        cp.text


def run_pass(base: str, key: note.NoteKey, witnesses: Sequence[note.NoteKey], quorum: int,
             directory: Path, *, client: httpx.Client,
             progress: Callable[[int], None] = lambda n: None) -> Report:
    """One pass (see the module doc); raises :class:`Inconsistent` or :class:`MonitorError`."""
    state = State.load(directory)
    log = Log(base, client)
    cp, cosigners = fetch_checkpoint(log, key, witnesses)
    if len(cosigners) < quorum:
        raise QuorumMissing(f"the checkpoint at size {cp.size} carries {len(cosigners)} valid "
                            f"cosignature(s), the quorum is {quorum}\n{cp.text}")
    if cp.size < state.size:
        raise Inconsistent(f"the log shrank from {state.size} to {cp.size} entries",
                           state.checkpoint, cp.text)
    if cp.size == state.size and cp.root != state.root:
        raise Inconsistent(f"two different trees of size {cp.size} (split view)",
                           state.checkpoint, cp.text)
    new = cp.size - state.size
    if new:
        _extend(state, log, cp, progress)
    else:
        state.checkpoint = state.checkpoint or cp.text
    state.save(directory)
    return Report(cp.origin, cp.size, cp.root, new, [k.name for k in cosigners])


def evidence(exc: Inconsistent) -> dict[str, Any]:
    return {"reason": exc.reason, "earlier_checkpoint": exc.old, "new_checkpoint": exc.new}
