"""Hand-over between registries (SPEC §16): status follows the robot.

Importing side (``robopass import-robot``, and later its own lifecycle): in the transaction
that admits a robot, :func:`queue_export_notice` puts a signed ``exported`` message for the
origin registry into the outbox (:class:`~robopass.federation.models.PeerMessage`); when the
robot is later scrapped or recycled here, :func:`queue_terminal_reports` puts a ``scrapped`` /
``recycled`` message in the same way. :mod:`robopass.federation.delivery` sends them with
retries, so nothing is lost while the origin is down.

Origin side (``POST /api/v1/federation/handover``): :func:`receive` checks the message against
the JWKS pinned for the sender's country and records, in the ledger like any event,

* ``exported`` (``details.to_country``): ``units.exported_to`` is set; from then on the unit
  takes no local events but corrections (:func:`check_local_event`, called by the lifecycle
  service), and verify, passport and public page say where the robot lives;
* ``scrapped`` / ``recycled`` reported by the registry the robot lives in
  (``details.reported_by``): the unit's status becomes terminal here too, so its passport, the
  status list and every peer's ``import-robot`` refuse it as live.

Both are idempotent (a message delivered twice records once). The recorder of these events is
a stand-in organisation for the peer registry (no API key: it cannot act otherwise).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from robopass import canonical
from robopass.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from robopass.federation import messages
from robopass.federation.models import Peer, PeerMessage
from robopass.ids import new_id
from robopass.ledger import keys
from robopass.ledger import service as ledger_service
from robopass.lifecycle.models import Event
from robopass.lifecycle.plan import exported_refusal  # noqa: F401  (one rule, re-exported)
from robopass.organizations.models import Organization
from robopass.registry import service as registry_service
from robopass.robots.models import TERMINAL_STATUSES, Unit
from robopass.stats import counts as unit_counts
from robopass.timeutil import as_utc, rfc3339, utcnow

EXPORTED = "exported"


# --- the rule the lifecycle service asks ---------------------------------------------------

# --- importing side -------------------------------------------------------------------------

def _queue(session: Session, *, to: str, kind: str, code: str, at: datetime) -> PeerMessage:
    own = registry_service.country(session)
    message_id = new_id("hmsg")
    now = utcnow()
    payload = {"iss": own, "aud": to, "kind": kind, "code": code, "to_country": own,
               "at": rfc3339(at), "jti": message_id, "iat": int(now.timestamp())}
    kid, private = keys.active(session)
    row = PeerMessage(id=message_id, country=to, kind=kind, code=code,
                      body=messages.sign_message(private, kid, payload), status="pending",
                      attempts=0, next_attempt_at=now, created_at=now)
    session.add(row)
    session.flush()
    return row


def queue_export_notice(session: Session, unit: Unit) -> PeerMessage:
    """Tell the origin registry of an imported unit that it lives here now (outbox)."""
    assert unit.imported_from is not None
    return _queue(session, to=unit.imported_from, kind=EXPORTED, code=unit.code, at=utcnow())


def queue_terminal_reports(session: Session, ended: dict[str, tuple[str, datetime]]) -> int:
    """For units that just became ``scrapped`` / ``recycled`` here (code → (type, at)): tell
    the origin of each imported one. Returns the number of messages queued."""
    if not ended:
        return 0
    rows = session.execute(select(Unit.code, Unit.imported_from).where(
        Unit.code.in_(list(ended)), Unit.imported_from.is_not(None))).all()
    for code, origin in rows:
        kind, at = ended[code]
        _queue(session, to=str(origin), kind=kind, code=code, at=at)
    return len(rows)


# --- origin side ----------------------------------------------------------------------------

def _peer_registry_org(session: Session, country: str) -> Organization:
    reference = f"REGISTRY:{country}"
    org = session.scalar(select(Organization).where(
        Organization.registration_number == reference, Organization.country == country))
    if org is None:
        org = Organization(id=new_id("org"), name=f"Robot registry of {country} (peer)",
                           roles=["peer_registry"], country=country,
                           registration_number=reference, company_code=None,
                           status="approved", created_at=utcnow())
        session.add(org)
        session.flush()
    return org


def _record(session: Session, unit: Unit, *, event_type: str, org: Organization,
            details: dict[str, Any], at: datetime) -> Event:
    """Append one event (and its ledger leaf) reported by a peer registry."""
    now = utcnow()
    if unit.last_event_at is not None and at < as_utc(unit.last_event_at):
        at = as_utc(unit.last_event_at)  # the peer's clock may lag ours; order is kept
    at = min(at, now)
    event_id = new_id("evt")
    from robopass.lifecycle.service import event_record

    record = event_record(id=event_id, code=unit.code, type=event_type, at=rfc3339(at) or "",
                          recorded_at=rfc3339(now) or "", organization=org.id,
                          to_organization=None, details=details)
    index = ledger_service.append(session, [ledger_service.LeafInput(
        kind="event", code=unit.code, type=event_type, at=rfc3339(at), id=event_id,
        record=canonical.canonical_json(record))])
    unit.event_count = int(unit.event_count or 0) + 1
    unit.last_event_at = at
    event = Event(id=event_id, code=unit.code, seq=unit.event_count, type=event_type, at=at,
                  recorded_at=now, organization_id=org.id, to_organization_id=None,
                  details=details, ledger_index=index, corrected=False)
    session.add(event)
    session.flush()
    return event


def _sender(session: Session, token: str) -> tuple[Peer, dict[str, Any]]:
    try:
        claimed = messages.peek(token)
    except messages.MessageError as exc:
        raise InvalidInput(f"the body is not a hand-over message: {exc}", field="body",
                           code="invalid_message") from exc
    country = claimed.get("iss")
    peer = session.get(Peer, country) if isinstance(country, str) else None
    if peer is None:
        raise Unauthorized(f"{country!r} is not a known peer registry: the message cannot be "
                           "checked", code="unknown_peer")
    try:
        payload = messages.verify_message(token, peer.jwks)
    except messages.MessageError as exc:
        raise Unauthorized(f"the hand-over message failed verification ({exc.reason}): {exc}",
                           code="bad_message_signature") from exc
    own = registry_service.country(session)
    if payload["aud"] != own or payload["iss"] != peer.country \
            or payload["to_country"] != peer.country:
        raise Forbidden(f"this message is addressed to {payload['aud']}, about a robot living "
                        f"in {payload['to_country']}, from {payload['iss']}",
                        code="wrong_audience")
    return peer, payload


def receive(session: Session, *, token: str) -> dict[str, Any]:
    """Record a peer's signed hand-over message; returns ``{code, kind, recorded, event_id}``
    (``recorded`` false when it was already recorded). Raises Unauthorized (unknown sender,
    bad signature), Forbidden (not addressed to us, or the sender is not where the robot
    lives), NotFound (no such robot here), Conflict (exported elsewhere, or terminal)."""
    peer, payload = _sender(session, token)
    code, kind = payload["code"], payload["kind"]
    unit = session.get(Unit, code, with_for_update=True)
    if unit is None or unit.imported:
        raise NotFound(f"{code} is not a robot of this registry", code="unit_not_found")
    org = _peer_registry_org(session, peer.country)
    try:
        at = as_utc(datetime.fromisoformat(payload["at"].replace("Z", "+00:00")))
    except ValueError:
        at = utcnow()
    base = {"code": code, "kind": kind, "to_country": peer.country}
    if kind == EXPORTED:
        if unit.exported_to == peer.country:
            return {**base, "recorded": False, "event_id": None}
        if unit.exported_to is not None:
            raise Conflict(f"{code} was already exported to {unit.exported_to}",
                           code="exported_elsewhere", exported_to=unit.exported_to)
        if unit.status in TERMINAL_STATUSES:
            raise Conflict(f"{code} is {unit.status}: it may not be admitted anywhere",
                           code="terminal_unit", status=unit.status)
        event = _record(session, unit, event_type=EXPORTED, org=org, at=at,
                        details={"to_country": peer.country, "message": payload["jti"]})
        unit.exported_to = peer.country
        return {**base, "recorded": True, "event_id": event.id}
    if unit.exported_to != peer.country:
        raise Forbidden(f"{code} does not live in the {peer.country} registry; only the "
                        "registry it lives in reports its end", code="not_its_registry")
    if unit.status == kind:
        return {**base, "recorded": False, "event_id": None}
    if unit.status in TERMINAL_STATUSES:
        raise Conflict(f"{code} is already {unit.status}", code="terminal_unit")
    event = _record(session, unit, event_type=kind, org=org, at=at,
                    details={"reported_by": peer.country, "message": payload["jti"]})
    unit_counts.change_unit(session, unit, status=kind)
    unit.status = kind
    unit.operator_id = None
    return {**base, "recorded": True, "event_id": event.id}


def outbox(session: Session, *, code: str | None = None) -> list[PeerMessage]:
    query = select(PeerMessage).order_by(PeerMessage.created_at)
    if code:
        query = query.where(PeerMessage.code == code)
    return list(session.scalars(query))
