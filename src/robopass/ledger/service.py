"""Storage side of the Merkle log: append leaves, sign heads, serve proofs, verify all.

The hashing and proof logic is in the pure modules ``merkle``/``heads``; this module only reads
and writes the nodes they ask for. Appends happen inside the caller's write transaction (which
holds the writer lock), so leaf indexes have no gaps and no duplicates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from robopass.canonical import canonical_json
from robopass.db import bulk_insert
from robopass.errors import InvalidInput, NotFound
from robopass.ledger import heads, keys, merkle
from robopass.ledger.models import LedgerLeaf, LedgerState, TreeHead
from robopass.registry import service as registry_service
from robopass.timeutil import utcnow

Key = tuple[int, int]

#: Largest page of entries one request returns.
MAX_ENTRIES_PAGE = 1000


@dataclass(frozen=True, slots=True)
class LeafInput:
    """One record to commit: the public leaf is {kind, code, type, at, id, digest(record)}.

    ``record`` is the full stored record, or its canonical (JCS) bytes when the caller already
    serialised it.
    """

    kind: str
    code: str
    type: str
    at: str | None
    id: str
    record: Mapping[str, Any] | bytes


def leaf_bytes(item: LeafInput) -> bytes:
    """JCS of the public leaf record. Its values are strings (or null) that the registry made,
    so orjson with keys in sorted order *is* JCS here (see canonical.py's fast path)."""
    record = item.record if isinstance(item.record, bytes) else canonical_json(dict(item.record))
    return orjson.dumps({"at": item.at, "code": item.code,
                         "digest": hashlib.sha256(record).hexdigest(), "id": item.id,
                         "kind": item.kind, "type": item.type})


def size(session: Session) -> int:
    state = session.get(LedgerState, 1)
    return 0 if state is None else int(state.size)


#: Perfect-subtree roots below this level are not stored: they are recomputed from at most
#: 2**STORED_FROM_LEVEL - 1 leaf hashes when a proof needs them. That stores 1/8 of the
#: internal nodes (issuance writes far fewer rows) for a few more hashes per proof.
STORED_FROM_LEVEL = 4


def _cursor(session: Session) -> tuple[Any, str]:
    """The DBAPI cursor of the session's connection and its placeholder: proofs are a dozen
    point lookups, and driver-level statements keep each one a few microseconds."""
    conn = session.connection()
    raw: Any = conn.connection.dbapi_connection
    return raw.cursor(), ("%s" if conn.dialect.name == "postgresql" else "?")


def _fold(hashes: list[bytes]) -> bytes:
    while len(hashes) > 1:
        hashes = [merkle.hash_children(hashes[i], hashes[i + 1])
                  for i in range(0, len(hashes), 2)]
    return hashes[0]


def read_nodes(session: Session, wanted: Iterable[Key]) -> dict[Key, bytes]:
    """Fetch the nodes a proof or an append needs: level 0 from the leaves, levels below
    STORED_FROM_LEVEL folded from their leaves, the rest from ``ledger_nodes``."""
    wanted = set(wanted)
    found: dict[Key, bytes] = {}
    cur, ph = _cursor(session)
    try:
        leaf_sql = f'SELECT leaf_hash FROM ledger_leaves WHERE "index" = {ph}'
        range_sql = (f'SELECT leaf_hash FROM ledger_leaves WHERE "index" >= {ph} '
                     f'AND "index" < {ph} ORDER BY "index"')
        node_sql = f'SELECT hash FROM ledger_nodes WHERE level = {ph} AND "index" = {ph}'
        for lvl, i in wanted:
            if lvl == 0:
                cur.execute(leaf_sql, (i,))
                row = cur.fetchone()
                if row is not None:
                    found[(0, i)] = bytes(row[0])
            elif lvl < STORED_FROM_LEVEL:
                lo, hi = i << lvl, (i + 1) << lvl
                cur.execute(range_sql, (lo, hi))
                hashes = [bytes(h) for (h,) in cur.fetchall()]
                if len(hashes) == hi - lo:
                    found[(lvl, i)] = _fold(hashes)
            else:
                cur.execute(node_sql, (lvl, i))
                row = cur.fetchone()
                if row is not None:
                    found[(lvl, i)] = bytes(row[0])
    finally:
        cur.close()
    missing = wanted - found.keys()
    if missing:
        raise RuntimeError(f"ledger storage is missing nodes {sorted(missing)[:5]}")
    return found


def append(session: Session, items: Sequence[LeafInput]) -> int:
    """Append leaves, store the new nodes, sign a head; returns the first new index."""
    if not items:
        return size(session)
    state = session.get(LedgerState, 1, with_for_update=True)
    if state is None:
        state = LedgerState(id=1, size=0)
        session.add(state)
        session.flush()
    start = int(state.size)
    blobs = [leaf_bytes(item) for item in items]
    hashes = [merkle.hash_leaf(b) for b in blobs]
    frontier = read_nodes(session, merkle.frontier_keys(start))
    new_nodes = merkle.append_leaves(start, frontier, hashes)
    bulk_insert(session, "ledger_leaves", ("index", "leaf", "leaf_hash"),
                [(start + i, blob.decode(), h)
                 for i, (blob, h) in enumerate(zip(blobs, hashes, strict=True))])
    bulk_insert(session, "ledger_nodes", ("level", "index", "hash"),
                [node for node in new_nodes if node[0] >= STORED_FROM_LEVEL])
    new_size = start + len(items)
    session.execute(update(LedgerState).where(LedgerState.id == 1).values(size=new_size))
    root = merkle.root_from_nodes(new_size, merkle.frontier_after(start, frontier, new_nodes))
    sign_head(session, new_size, root)
    return start


def sign_head(session: Session, tree_size: int, root: bytes) -> TreeHead:
    kid, private = keys.active(session)
    origin = registry_service.origin(session)
    signed = heads.sign_head(private, origin=origin, size=tree_size, root_hash_hex=root.hex(),
                             timestamp=heads.format_timestamp(utcnow()), key_id=kid)
    head = TreeHead(size=tree_size, root_hash=signed["root_hash"], timestamp=signed["timestamp"],
                    origin=origin, key_id=kid, signature=signed["signature"])
    session.add(head)
    session.flush()
    return head


def resign_latest_head(session: Session) -> bool:
    """Re-sign the latest head under the registry's current origin if it was signed under
    another (after migration 0005 or a changed origin); True when it did."""
    head = latest_tree_head(session)
    if head is None or head.origin == registry_service.origin(session):
        return False
    size_, root = int(head.size), bytes.fromhex(head.root_hash)
    session.delete(head)
    session.flush()
    sign_head(session, size_, root)
    return True


def head_dict(session: Session, head: TreeHead) -> dict[str, Any]:
    return {"origin": head.origin, "size": int(head.size),
            "root_hash": head.root_hash, "timestamp": head.timestamp, "key_id": head.key_id,
            "signature": head.signature}


def latest_tree_head(session: Session) -> TreeHead | None:
    return session.scalar(select(TreeHead).order_by(TreeHead.size.desc()).limit(1))


def latest_head(session: Session) -> dict[str, Any]:
    head = latest_tree_head(session)
    if head is None:
        ts = heads.format_timestamp(utcnow())
        kid, private = keys.active(session)
        return heads.sign_head(private, origin=registry_service.origin(session), size=0,
                               root_hash_hex=merkle.EMPTY_ROOT.hex(), timestamp=ts, key_id=kid)
    return head_dict(session, head)


def root_at(session: Session, tree_size: int) -> bytes:
    if tree_size == 0:
        return merkle.EMPTY_ROOT
    return merkle.root_from_nodes(tree_size, read_nodes(session, merkle.root_keys(tree_size)))


def _check_size(session: Session, tree_size: int, field: str) -> None:
    current = size(session)
    if tree_size > current:
        raise InvalidInput(f"{field} {tree_size} is beyond the ledger size {current}",
                           field=field, code="beyond_ledger_size", ledger_size=current)


def inclusion_proof(session: Session, *, index: int, tree_size: int) -> dict[str, Any]:
    _check_size(session, tree_size, "size")
    if not 0 <= index < tree_size:
        raise InvalidInput(f"index {index} out of bounds for tree size {tree_size}",
                           field="index", code="index_out_of_bounds")
    wanted = set(merkle.inclusion_proof_keys(index, tree_size)) | {(0, index)}
    nodes = read_nodes(session, wanted)
    proof = merkle.inclusion_proof(index, tree_size, nodes)
    return {"index": index, "size": tree_size, "leaf_hash": nodes[(0, index)].hex(),
            "hashes": [h.hex() for h in proof]}


def consistency_proof(session: Session, *, first: int, second: int) -> dict[str, Any]:
    _check_size(session, second, "second")
    if not 0 <= first <= second:
        raise InvalidInput(f"first {first} must be between 0 and second {second}",
                           field="first", code="invalid_range")
    nodes = read_nodes(session, merkle.consistency_proof_keys(first, second))
    proof = merkle.consistency_proof(first, second, nodes)
    return {"first": first, "second": second, "hashes": [h.hex() for h in proof]}


def entries(session: Session, *, start: int, end: int) -> dict[str, Any]:
    if start < 0:
        raise InvalidInput("start must be ≥ 0", field="start")
    if end <= start:
        raise InvalidInput("end must be greater than start (end is exclusive)", field="end")
    end = min(end, start + MAX_ENTRIES_PAGE, size(session))
    rows = session.execute(select(LedgerLeaf.index, LedgerLeaf.leaf, LedgerLeaf.leaf_hash)
                           .where(LedgerLeaf.index >= start, LedgerLeaf.index < end)
                           .order_by(LedgerLeaf.index))
    return {"entries": [{"index": int(i), "leaf": leaf, "leaf_hash": bytes(h).hex()}
                        for i, leaf, h in rows], "next": end}


def get_leaf(session: Session, index: int) -> LedgerLeaf:
    leaf = session.get(LedgerLeaf, index)
    if leaf is None:
        raise NotFound(f"no ledger entry {index}", code="entry_not_found")
    return leaf


def iter_leaves(session: Session, batch: int = 20_000) -> Iterator[list[LedgerLeaf]]:
    start = 0
    while True:
        rows = list(session.scalars(select(LedgerLeaf).where(LedgerLeaf.index >= start)
                                    .order_by(LedgerLeaf.index).limit(batch)))
        if not rows:
            return
        yield rows
        start = int(rows[-1].index) + 1
