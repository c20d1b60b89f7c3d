"""Issue passports: the unit's public-tier facts, signed with the registry's active key.

Claims: ``iss`` (the ledger origin), ``sub`` (code), ``iat``, ``registry`` (country), ``model``,
``manufacturer``, ``status``, ``open_recalls``, ``production_month``, ``summary`` (the buyer
summary of ``verification.service.buyer_summary``), ``ledger`` ``{size, root_hash}`` (the latest
signed tree head, which covers every event of the unit), ``history_digest`` (see
``passports.verify``) and ``transparency`` ``{checkpoint, vkey}`` (where anyone checks the
ledger, SPEC §15). Nothing of the legitimate or authority tier is in it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from robopass.config import get_settings
from robopass.errors import NotFound
from robopass.ledger import keys, transparency
from robopass.ledger import service as ledger_service
from robopass.passports.verify import history_digest, sign_passport
from robopass.registry import service as registry_service
from robopass.robots import service as robot_service
from robopass.timeutil import utcnow
from robopass.verification import service as verification_service


def claims_for(session: Session, code: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The passport claims of a registered unit and the event summaries behind its digest.
    Raises InvalidInput (malformed code) or NotFound (not registered here)."""
    unit = robot_service.get_unit_or_raise(session, code)
    facts = verification_service.verify(session, unit.code, federate=False)
    if not facts["registered"]:
        raise NotFound(f"no robot with code {unit.code} is registered", code="unit_not_found")
    summaries = verification_service.event_summaries(session, unit.code)
    head = ledger_service.latest_head(session)
    claims: dict[str, Any] = {
        "iss": registry_service.origin(session),
        "sub": unit.code,
        "iat": int(utcnow().timestamp()),
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
    return claims, summaries


def issue(session: Session, code: str) -> dict[str, Any]:
    """``{passport: <compact JWS>, history: [event summaries]}``; ``history`` is unsigned but
    bound by the signed ``history_digest``, so a holder can check it offline."""
    claims, summaries = claims_for(session, code)
    kid, private = keys.active(session)
    return {"passport": sign_passport(private, kid, claims), "history": summaries}
