"""Issue passports: the unit's public-tier facts, signed with the registry's active key.

Claims: ``iss`` (the ledger origin), ``sub`` (code), ``iat``, ``exp`` (``iat`` +
:data:`PASSPORT_TTL`), ``registry`` (country), ``model``, ``manufacturer``, ``status``,
``open_recalls``, ``production_month``, ``summary`` (the buyer summary of
``verification.service.buyer_summary``), ``ledger`` ``{size, root_hash}`` (the latest signed
tree head, which covers every event of the unit), ``history_digest`` (see
``passports.verify``), ``status_list`` ``{idx, uri}`` (SPEC §16) and ``transparency``
``{checkpoint, vkey}`` (where anyone checks the ledger, SPEC §15). A robot exported to a peer
registry also carries ``exported_to``.

The offline label passport (SPEC §16, :mod:`robopass.passports.offline`) carries the facts
that do not change — who made the robot, what model, which level, when — and its status-list
index; the status itself comes from the status list.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from robopass.config import get_settings
from robopass.errors import Conflict, NotFound
from robopass.ledger import keys, transparency
from robopass.ledger import service as ledger_service
from robopass.passports import offline
from robopass.passports.verify import history_digest, sign_passport
from robopass.registry import service as registry_service
from robopass.robots import service as robot_service
from robopass.statuslist import service as statuslist_service
from robopass.timeutil import utcnow
from robopass.verification import service as verification_service

#: Seconds an online passport passes as current (``exp`` - ``iat``).
PASSPORT_TTL = 86_400


def claims_for(session: Session, code: str, *, public_url: str | None = None
               ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The passport claims of a registered unit and the event summaries behind its digest.
    Raises InvalidInput (malformed code) or NotFound (not registered here)."""
    unit = robot_service.get_unit_or_raise(session, code)
    facts = verification_service.verify(session, unit.code, federate=False)
    if not facts["registered"]:
        raise NotFound(f"no robot with code {unit.code} is registered", code="unit_not_found")
    summaries = verification_service.event_summaries(session, unit.code)
    head = ledger_service.latest_head(session)
    iat = int(utcnow().timestamp())
    claims: dict[str, Any] = {
        "iss": registry_service.origin(session),
        "sub": unit.code,
        "iat": iat,
        "exp": iat + PASSPORT_TTL,
        "registry": registry_service.country(session),
        "model": facts["model"],
        "manufacturer": facts["manufacturer"],
        "status": facts["status"],
        "open_recalls": facts["open_recalls"],
        "open_recall_count": int(unit.open_recalls or 0),
        "production_month": unit.production_month,
        "summary": verification_service.buyer_summary(session, unit.code,
                                                      unit.production_month,
                                                      imported=bool(unit.imported)),
        "ledger": {"size": int(head["size"]), "root_hash": head["root_hash"]},
        "history_digest": history_digest(summaries),
        "transparency": transparency.where_to_check(session, get_settings().public_url),
    }
    if unit.imported_from:
        claims["imported_from"] = unit.imported_from
    if unit.exported_to:
        claims["exported_to"] = unit.exported_to
    if unit.status_index is not None and public_url:
        claims["status_list"] = {"idx": int(unit.status_index),
                                 "uri": statuslist_service.uri_for(public_url)}
    return claims, summaries


def issue(session: Session, code: str, *, public_url: str | None = None) -> dict[str, Any]:
    """``{passport: <compact JWS>, history: [event summaries]}``; ``history`` is unsigned but
    bound by the signed ``history_digest``, so a holder can check it offline."""
    claims, summaries = claims_for(session, code, public_url=public_url)
    kid, private = keys.active(session)
    return {"passport": sign_passport(private, kid, claims), "history": summaries}


def offline_claims(session: Session, code: str, *, public_url: str) -> dict[Any, Any]:
    """The CBOR claims of the offline passport (keys as in :mod:`robopass.passports.offline`).
    Raises InvalidInput, NotFound, or Conflict for a unit without a status-list index."""
    unit = robot_service.get_unit_or_raise(session, code)
    facts = verification_service.verify(session, unit.code, federate=False)
    if unit.status_index is None:
        raise Conflict(f"{unit.code} has no status-list index", code="no_status_index")
    model = facts["model"] or {}
    maker = facts["manufacturer"] or {}
    return offline.wire_claims(
        iss=registry_service.origin(session), sub=unit.code, iat=int(utcnow().timestamp()),
        model_code=model.get("model_code"), model_name=model.get("name"),
        manufacturer=maker.get("name"), country=maker.get("country"),
        level=int(unit.code[18]), production_month=unit.production_month,
        status_idx=int(unit.status_index), status_uri=statuslist_service.uri_for(public_url))


def issue_offline(session: Session, code: str, *, public_url: str) -> str:
    """``RP1:…`` — the offline label passport of a registered unit."""
    claims = offline_claims(session, code, public_url=public_url)
    kid, private = keys.active(session)
    return offline.sign_offline(private, kid, claims)
