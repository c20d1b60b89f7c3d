"""Public ledger endpoints (SPEC §5, §9): head, proofs, entries — all hex."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from robopass.deps import ReadSession
from robopass.ledger import keys, service
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
