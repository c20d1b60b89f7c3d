"""Public ledger endpoints (SPEC §5, §9, §15): head, proofs, entries (JSON, hex) and the same
log in C2SP formats: checkpoint, vkey, tiles, entry bundles."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from robopass.deps import ReadSession
from robopass.errors import NotFound
from robopass.ledger import keys, service, tiles, transparency
from robopass.ledger.schemas import (
    ConsistencyProof,
    InclusionProof,
    JwkSet,
    LedgerEntries,
    SignedHead,
)

router = APIRouter(tags=["ledger"])


@router.get("/api/v1/ledger/head", response_model=SignedHead)
def head(session: ReadSession) -> dict[str, Any]:
    return service.latest_head(session)


@router.get("/api/v1/ledger/proof/inclusion", response_model=InclusionProof)
def inclusion(session: ReadSession, index: int = Query(ge=0, le=2**53),
              size: int = Query(ge=1, le=2**53)) -> dict[str, Any]:
    return service.inclusion_proof(session, index=index, tree_size=size)


@router.get("/api/v1/ledger/proof/consistency", response_model=ConsistencyProof)
def consistency(session: ReadSession, first: int = Query(ge=0, le=2**53),
                second: int = Query(ge=0, le=2**53)) -> dict[str, Any]:
    return service.consistency_proof(session, first=first, second=second)


@router.get("/api/v1/ledger/entries", response_model=LedgerEntries)
def entries(session: ReadSession, start: int = Query(ge=0, le=2**53),
            end: int = Query(ge=1, le=2**53)) -> dict[str, Any]:
    """Leaves ``[start, end)``, at most 1,000 a page; ``next`` is where the next page starts."""
    return service.entries(session, start=start, end=end)


@router.get("/.well-known/jwks.json", response_model=JwkSet, response_model_exclude_unset=True)
def jwks(session: ReadSession) -> dict[str, Any]:
    return keys.jwks(session)


_TEXT = "text/plain; charset=utf-8"
_OCTETS = "application/octet-stream"
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such tile yet (beyond the ledger) or a malformed tile path "
                         "(error code no_such_tile or bad_tile_path)"}}


@router.get("/api/v1/ledger/checkpoint", response_class=Response,
            responses={200: {"content": {_TEXT: {"schema": {"type": "string"}}},
                             "description": "C2SP checkpoint: a signed note (SPEC §15)"}})
def checkpoint(session: ReadSession) -> Response:
    """The latest head as a C2SP checkpoint signed by the log's Ed25519 note key, followed by
    the witnesses' cosignatures of the same size and root."""
    return Response(transparency.checkpoint_text(session), media_type=_TEXT,
                    headers={"Cache-Control": "no-cache"})


@router.get("/api/v1/ledger/vkey", response_class=Response,
            responses={200: {"content": {_TEXT: {"schema": {"type": "string"}}},
                             "description": "The log's note verifier key"}})
def vkey(session: ReadSession) -> Response:
    """``<origin>+<key hash>+<base64(0x01 ‖ Ed25519 public key)>``."""
    return Response(transparency.vkey(session) + "\n", media_type=_TEXT)


@router.get("/api/v1/ledger/tile/{path:path}", response_class=Response,
            responses={200: {"content": {_OCTETS: {"schema": {"type": "string",
                                                               "format": "binary"}}},
                             "description": "A C2SP tile (256 hashes of 32 bytes; partial "
                                            "tiles .p/W) or entry bundle (entries/...)"},
                       **_ERRORS})
async def tile(path: str, request: Request) -> Response:
    """tlog-tiles: ``tile/<L>/<N>[.p/<W>]`` and ``tile/entries/<N>[.p/<W>]``. Full tiles never
    change and are cacheable forever. Two indexed statements on a pooled connection, on the
    event loop (cheaper than the thread-pool hop and a Session)."""
    try:
        wanted = tiles.parse_path(path)
    except tiles.TileError as exc:
        raise NotFound(str(exc), code="bad_tile_path", field="path") from None
    data = transparency.tile_from_pool(request.app.state.settings.database_url, wanted)
    cache = transparency.FULL_TILE_CACHE if wanted.full else transparency.PARTIAL_TILE_CACHE
    return Response(data, media_type=_OCTETS, headers={"Cache-Control": cache})
