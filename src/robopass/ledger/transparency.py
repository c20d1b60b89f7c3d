"""The ledger in C2SP formats (SPEC §15): signed checkpoint, verifier key, tiles, bundles.

Reads only. The checkpoint is the latest signed head (so it covers every acknowledged write)
as a signed note by the log's active Ed25519 key under the name = the registry's origin, with
the witnesses' latest cosignatures of that same size and root appended. Tiles come straight from
the stored leaf hashes (level 0) and perfect-subtree roots (level ≥ 1 = tree level 8·L, which
``ledger_nodes`` keeps since 8 ≥ ``STORED_FROM_LEVEL``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from robopass.errors import NotFound
from robopass.ledger import checkpoint, keys, merkle, note, service, tiles
from robopass.ledger.models import LedgerWitness
from robopass.registry import service as registry_service

_signed: dict[tuple[str, str, int], note.Signature] = {}


def log_key(session: Session) -> note.NoteKey:
    _, private = keys.active(session)
    return note.NoteKey.of(registry_service.origin(session), private)


def vkey(session: Session) -> str:
    return note.vkey(log_key(session))


def current(session: Session) -> tuple[int, bytes]:
    """(size, root) of the latest signed head — what the checkpoint says."""
    head = service.latest_tree_head(session)
    if head is None:
        return 0, merkle.EMPTY_ROOT
    return int(head.size), bytes.fromhex(head.root_hash)


def signed_body(session: Session, size: int, root: bytes) -> tuple[str, note.Signature]:
    """The checkpoint body for (size, root) and the log's note signature of it (Ed25519 is
    deterministic, so every worker signs the same bytes; the last signature is cached)."""
    origin = registry_service.origin(session)
    text = checkpoint.body(origin, size, root)
    kid, private = keys.active(session)
    cache_key = (kid, text, size)
    sig = _signed.get(cache_key)
    if sig is None:
        sig = note.sign(text, origin, private)
        _signed.clear()
        _signed[cache_key] = sig
    return text, sig


def cosignatures(session: Session, size: int, root: bytes) -> list[str]:
    rows = session.scalars(select(LedgerWitness.cosignature).where(
        LedgerWitness.cosigned_size == size, LedgerWitness.cosigned_root == root.hex(),
        LedgerWitness.cosignature.is_not(None)).order_by(LedgerWitness.name))
    return [line if line.endswith("\n") else line + "\n" for line in rows if line]


def checkpoint_text(session: Session, *, witnessed: bool = True) -> str:
    """The signed checkpoint of the latest head; ``witnessed``: with the cosignatures."""
    size, root = current(session)
    text, sig = signed_body(session, size, root)
    cosigs = cosignatures(session, size, root) if witnessed else []
    return text + "\n" + sig.line() + "".join(cosigs)


def _not_found(tile: tiles.Tile, size: int) -> NotFound:
    return NotFound(f"tile {tile.path()} is beyond the ledger (size {size})", code="no_such_tile",
                    field="tile")


def tile_data(session: Session, tile: tiles.Tile) -> bytes:
    """The bytes of a hash tile or an entry bundle; NotFound unless the ledger holds it."""
    conn = session.connection()
    raw = conn.connection.dbapi_connection
    assert raw is not None
    return read_tile(raw, conn.dialect.name, tile)


def read_tile(raw: Any, dialect: str, tile: tiles.Tile) -> bytes:
    """:func:`tile_data` on a DBAPI connection: two statements (the ledger size, then one range
    of leaf hashes, leaves or stored subtree roots), cheap enough for the event loop."""
    ph = "%s" if dialect == "postgresql" else "?"
    cur = raw.cursor()
    try:
        cur.execute("SELECT size FROM ledger_state WHERE id = 1")
        row = cur.fetchone()
        size = int(row[0]) if row else 0
        if tile.width > tiles.width_at(tile.level, tile.index, size):
            raise _not_found(tile, size)
        lo = tile.index * tiles.WIDTH
        hi = lo + tile.width
        if tile.level == tiles.ENTRIES:
            cur.execute(f'SELECT leaf FROM ledger_leaves WHERE "index" >= {ph} AND "index" < {ph} '
                        'ORDER BY "index"', (lo, hi))
            rows = [r[0].encode() for r in cur.fetchall()]
            data = tiles.encode_bundle(rows)
        elif tile.level == 0:
            cur.execute(f'SELECT leaf_hash FROM ledger_leaves WHERE "index" >= {ph} '
                        f'AND "index" < {ph} ORDER BY "index"', (lo, hi))
            rows = [bytes(r[0]) for r in cur.fetchall()]
            data = b"".join(rows)
        else:
            cur.execute(f'SELECT hash FROM ledger_nodes WHERE level = {ph} AND "index" >= {ph} '
                        f'AND "index" < {ph} ORDER BY "index"',
                        (tiles.HEIGHT * tile.level, lo, hi))
            rows = [bytes(r[0]) for r in cur.fetchall()]
            data = b"".join(rows)
    finally:
        cur.close()
    if len(rows) != tile.width:
        raise RuntimeError(f"ledger storage is missing hashes of tile {tile.path()}")
    return data


def tile_from_pool(url: str, tile: tiles.Tile) -> bytes:
    """:func:`read_tile` on a pooled connection of the registry at ``url`` (no Session)."""
    from robopass.db import get_engine

    engine = get_engine(url)
    connection = engine.raw_connection()
    try:
        return read_tile(connection, engine.dialect.name, tile)
    finally:
        connection.close()


def where_to_check(session: Session, public_url: str) -> dict[str, str]:
    """Where anyone checks this ledger: the checkpoint URL and the log's verifier key (for
    passports and the public page)."""
    return {"checkpoint": f"{public_url.rstrip('/')}/api/v1/ledger/checkpoint",
            "vkey": vkey(session)}


TILE_PREFIX = "/api/v1/ledger/tile/"
FULL_TILE_CACHE = "public, max-age=31536000, immutable"
PARTIAL_TILE_CACHE = "public, max-age=60"


def fast_tile(url: str, path: str) -> tuple[bytes, str] | None:
    """For the public fast path: ``(bytes, Cache-Control)`` of the tile at request path
    ``path`` (under :data:`TILE_PREFIX`), or None to let the route answer (a bad path, a tile
    beyond the ledger: the route's 404 says why)."""
    try:
        tile = tiles.parse_path(path[len(TILE_PREFIX):])
        data = tile_from_pool(url, tile)
    except (tiles.TileError, NotFound):
        return None
    return data, FULL_TILE_CACHE if tile.full else PARTIAL_TILE_CACHE
