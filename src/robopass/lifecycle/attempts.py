"""Reading refused attempts and fraud alerts (SPEC §4), filtered by the gate's scope."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from robopass import gate
from robopass.auth.service import Actor
from robopass.lifecycle.models import FraudAlert, RefusedAttempt
from robopass.timeutil import rfc3339


def refused_attempts(session: Session, *, actor: Actor, limit: int = 100) -> list[dict[str, Any]]:
    """Refused event attempts a regulator may see (its province's units and organisations),
    newest first."""
    gate.require_regulator(actor)
    rows = session.scalars(
        select(RefusedAttempt)
        .where(gate.code_filter(actor, RefusedAttempt.code_input, RefusedAttempt.organization_id))
        .order_by(RefusedAttempt.created_at.desc()).limit(limit))
    return [{"id": a.id, "code_input": a.code_input, "type": a.type,
             "organization": a.organization_id, "error_code": a.error_code,
             "message": a.message, "at": rfc3339(a.created_at)} for a in rows]


def fraud_alerts(session: Session, *, actor: Actor, limit: int = 100) -> list[dict[str, Any]]:
    """Fraud alerts (resale of scrapped units, forged codes) a regulator may see, newest
    first."""
    gate.require_regulator(actor)
    rows = session.scalars(
        select(FraudAlert)
        .where(gate.code_filter(actor, FraudAlert.code_input, FraudAlert.organization_id))
        .order_by(FraudAlert.created_at.desc()).limit(limit))
    return [{"id": a.id, "kind": a.kind, "code_input": a.code_input,
             "organization": a.organization_id, "message": a.message,
             "at": rfc3339(a.created_at)} for a in rows]
