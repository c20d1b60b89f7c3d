"""``robopass ledger verify``: recompute every digest, leaf, node and signed root.

Detects a changed record (digest mismatch), a removed record (leaf without its record), an added
record (a record no leaf commits to), reordering (leaf index ≠ the record's ledger index, or a
root that no longer matches its signed head) and tampered tree nodes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rich.progress import Progress
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from robopass.canonical import canonical_json
from robopass.decisions import service as decision_service
from robopass.decisions.models import Decision
from robopass.ledger import heads, merkle
from robopass.ledger.models import LedgerNode, SigningKey, TreeHead
from robopass.ledger.service import (
    STORED_FROM_LEVEL,
    LeafInput,
    iter_leaves,
    leaf_bytes,
    size,
)
from robopass.lifecycle.models import Event
from robopass.lifecycle.service import event_record
from robopass.registry import service as registry_service
from robopass.robots.models import Unit
from robopass.robots.service import issuance_record
from robopass.timeutil import rfc3339


@dataclass
class Report:
    ok: bool
    size: int
    root_hash: str | None = None
    bad_index: int | None = None
    reason: str | None = None


class _Bad(Exception):
    def __init__(self, index: int | None, reason: str) -> None:
        super().__init__(reason)
        self.index = index
        self.reason = reason


def _expected_leaf(leaf: dict[str, Any], index: int, units: dict[str, Unit],
                   events: dict[str, Event], decisions: dict[str, Decision]) -> bytes:
    kind = leaf.get("kind")
    if kind == decision_service.LEAF_KIND:
        decision = decisions.get(leaf.get("id", ""))
        if decision is None:
            raise _Bad(index, f"decision {leaf.get('id')} is in the ledger but its record was "
                       "removed")
        if decision.ledger_index != index:
            raise _Bad(index, f"decision {decision.id} claims ledger index "
                       f"{decision.ledger_index}: records were reordered")
        return leaf_bytes(decision_service.leaf_input(decision))
    if kind == "code":
        unit = units.get(leaf.get("code", ""))
        if unit is None:
            raise _Bad(index, f"code {leaf.get('code')} is in the ledger but its unit record "
                       "was removed")
        at = rfc3339(unit.issued_at)
        record = issuance_record(code=unit.code, model_id=unit.model_id,
                                 manufacturer_id=unit.manufacturer_id,
                                 production_month=unit.production_month, plant=unit.plant, at=at)
        return leaf_bytes(LeafInput(kind="code", code=unit.code, type="issued", at=at,
                                    id=unit.code, record=record))
    if kind == "event":
        event = events.get(leaf.get("id", ""))
        if event is None:
            raise _Bad(index, f"event {leaf.get('id')} is in the ledger but its record was "
                       "removed")
        if event.ledger_index != index:
            raise _Bad(index, f"event {event.id} claims ledger index {event.ledger_index}: "
                       "records were reordered")
        at = rfc3339(event.at)
        assert at is not None
        record = event_record(id=event.id, code=event.code, type=event.type, at=at,
                              recorded_at=rfc3339(event.recorded_at) or "",
                              organization=event.organization_id,
                              to_organization=event.to_organization_id,
                              details=event.details or {})
        return leaf_bytes(LeafInput(kind="event", code=event.code, type=event.type, at=at,
                                    id=event.id, record=record))
    raise _Bad(index, f"unknown leaf kind {kind!r}")


def verify_ledger(session: Session, *, progress: bool = False) -> Report:
    total = size(session)
    public_keys = {row.kid: heads.public_key_from_jwk(
        {"kty": "OKP", "crv": "Ed25519", "x": row.public_x}) for row in session.scalars(
        select(SigningKey))}
    tree_heads = list(session.scalars(select(TreeHead).order_by(TreeHead.size)))
    origin = registry_service.origin(session)
    head_pos = 0
    frontier: dict[tuple[int, int], bytes] = {}
    current = 0
    root = merkle.EMPTY_ROOT
    last_code: tuple[Any, str, int] | None = None
    try:
        with Progress(disable=not progress, transient=True) as bar:
            task = bar.add_task("verifying ledger", total=total)
            for chunk in iter_leaves(session):
                codes = [json.loads(r.leaf).get("code") for r in chunk]
                ids = [json.loads(r.leaf).get("id") for r in chunk]
                units = {u.code: u for u in session.scalars(
                    select(Unit).where(Unit.code.in_([c for c in codes if c])))} if codes else {}
                events = {e.id: e for e in session.scalars(
                    select(Event).where(Event.id.in_([i for i in ids if i])))}
                decisions = {d.id: d for d in session.scalars(select(Decision).where(
                    Decision.id.in_([i for i in ids if i and i.startswith("dec_")])))}
                hashes: list[bytes] = []
                for row in chunk:
                    index = int(row.index)
                    if index != current + len(hashes):
                        raise _Bad(index, f"leaf index {index} follows "
                                   f"{current + len(hashes) - 1}: a leaf was removed")
                    try:
                        leaf = json.loads(row.leaf)
                    except ValueError as exc:
                        raise _Bad(index, "leaf is not JSON") from exc
                    expected = _expected_leaf(leaf, index, units, events, decisions)
                    if leaf.get("kind") == "code":
                        # Codes of one batch share `at` and are ledgered in sequence order.
                        prefix, seq = str(leaf["code"])[:20], int(str(leaf["code"])[20:28])
                        if last_code and last_code[:2] == (leaf.get("at"), prefix) \
                                and seq != last_code[2] + 1:
                            raise _Bad(index, f"code {leaf['code']} is out of issuance order: "
                                       "entries were reordered")
                        last_code = (leaf.get("at"), prefix, seq)
                    if expected != row.leaf.encode():
                        raise _Bad(index, "the record no longer matches its ledger leaf "
                                   "(changed record or leaf)")
                    h = merkle.hash_leaf(expected)
                    if h != bytes(row.leaf_hash):
                        raise _Bad(index, "stored leaf hash does not match the leaf")
                    hashes.append(h)
                new_nodes = merkle.append_leaves(current, frontier, hashes)
                _check_nodes(session, new_nodes)
                # Check heads whose size falls inside this chunk, leaf by leaf.
                start = current
                known = dict(frontier)
                known.update({(lvl, i): h for lvl, i, h in new_nodes})
                current += len(hashes)
                while head_pos < len(tree_heads) and tree_heads[head_pos].size <= current:
                    head = tree_heads[head_pos]
                    hsize = int(head.size)
                    if hsize <= start:
                        head_pos += 1
                        continue
                    root = _root_at(hsize, known)
                    _check_head(head, root, origin, public_keys)
                    head_pos += 1
                frontier = {k: known[k] for k in merkle.frontier_keys(current)}
                bar.advance(task, len(hashes))
        if current != total:
            raise _Bad(current, f"ledger state says {total} entries but {current} were found")
        if head_pos < len(tree_heads):
            raise _Bad(int(tree_heads[head_pos].size), "a signed head covers entries that are "
                       "missing")
        n_events = session.scalar(select(func.count()).select_from(Event)) or 0
        n_codes = session.scalar(select(func.count()).select_from(Unit)
                                 .where(Unit.imported.is_(False))) or 0
        counted = _count_kinds(session)
        n_decisions = session.scalar(select(func.count()).select_from(Decision)) or 0
        if n_decisions != counted["decision"]:
            raise _Bad(None, f"{n_decisions} decision records but {counted['decision']} "
                       "decision leaves: a record was added outside the ledger")
        if n_events != counted["event"]:
            raise _Bad(None, f"{n_events} event records but {counted['event']} event leaves: "
                       "a record was added outside the ledger")
        if n_codes != counted["code"]:
            raise _Bad(None, f"{n_codes} issued units but {counted['code']} code leaves: "
                       "a record was added outside the ledger")
        root = _root_at(current, frontier) if current else merkle.EMPTY_ROOT
    except _Bad as bad:
        return Report(ok=False, size=total, bad_index=bad.index, reason=bad.reason)
    return Report(ok=True, size=total, root_hash=root.hex())


def _count_kinds(session: Session) -> dict[str, int]:
    from robopass.ledger.models import LedgerLeaf

    n_code = session.scalar(select(func.count()).select_from(LedgerLeaf)
                            .where(LedgerLeaf.leaf.like('{"at":%"kind":"code"%'))) or 0
    n_decision = session.scalar(select(func.count()).select_from(LedgerLeaf)
                                .where(LedgerLeaf.leaf.like('%"kind":"decision"%'))) or 0
    n_all = session.scalar(select(func.count()).select_from(LedgerLeaf)) or 0
    return {"code": n_code, "decision": n_decision, "event": n_all - n_code - n_decision}


def _root_at(tree_size: int, known: dict[tuple[int, int], bytes]) -> bytes:
    return merkle.root_from_nodes(tree_size, {k: known[k] for k in merkle.root_keys(tree_size)})


def _check_nodes(session: Session, new_nodes: list[tuple[int, int, bytes]]) -> None:
    upper = [(lvl, i, h) for lvl, i, h in new_nodes if lvl >= STORED_FROM_LEVEL]
    if not upper:
        return
    by_level: dict[int, dict[int, bytes]] = {}
    for lvl, i, h in upper:
        by_level.setdefault(lvl, {})[i] = h
    for lvl, wanted in by_level.items():
        lo, hi = min(wanted), max(wanted)
        stored = {int(i): bytes(h) for i, h in session.execute(
            select(LedgerNode.index, LedgerNode.hash).where(
                LedgerNode.level == lvl, LedgerNode.index >= lo, LedgerNode.index <= hi))}
        for i, h in wanted.items():
            if stored.get(i) != h:
                raise _Bad(i << lvl, f"stored tree node (level {lvl}, index {i}, entries "
                           f"{i << lvl}-{((i + 1) << lvl) - 1}) does not match the entries: "
                           "the node was altered or entries were reordered")


def _check_head(head: TreeHead, root: bytes, origin: str, public_keys: dict[str, Any]) -> None:
    if head.root_hash != root.hex():
        raise _Bad(int(head.size) - 1, f"the signed head at size {head.size} no longer matches "
                   "the recomputed root: entries were changed or reordered")
    key = public_keys.get(head.key_id)
    if key is None:
        raise _Bad(int(head.size) - 1, f"head signed with unknown key {head.key_id}")
    try:
        heads.verify_head({"origin": head.origin or origin, "size": int(head.size),
                           "root_hash": head.root_hash, "timestamp": head.timestamp,
                           "key_id": head.key_id,
                           "signature": head.signature}, key)
    except Exception as exc:
        raise _Bad(int(head.size) - 1, f"bad signature on the head at size {head.size}") from exc


__all__ = ["Report", "verify_ledger", "canonical_json"]
