"""The database side of EPCIS export and capture (the formats are in ``epcis.document``).

An exported event's content never changes (SPEC §16): everything in it is fixed when the event
is recorded — its disposition is computed *as of the event* (a recall opened later does not
turn an old event's disposition into ``recalled``; one open when the event was recorded does,
for good), and the destination party is the organisation's portable identifier.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from robopass.epcis.document import CapturedEvent, EventRecord, parse_party_uri, party_uri
from robopass.errors import InvalidInput
from robopass.lifecycle.models import Event
from robopass.organizations.models import Organization
from robopass.recalls.models import Recall, RecallUnit
from robopass.timeutil import as_utc


def _recall_spans(session: Session, code: str) -> list[tuple[datetime, datetime | None]]:
    """(opened, remedied) per recall of the unit, both as *recording* times: a remedy event may
    be dated back, but what an export said before it was recorded must not change."""
    rows = session.execute(select(Recall.opened_at, RecallUnit.remedied_at, Event.recorded_at)
                           .join(Recall, Recall.id == RecallUnit.recall_id)
                           .outerjoin(Event, Event.id == RecallUnit.remedy_event_id)
                           .where(RecallUnit.code == code))
    spans: list[tuple[datetime, datetime | None]] = []
    for opened, remedied, recorded in rows:
        closed = recorded or remedied
        spans.append((as_utc(opened), as_utc(closed) if closed is not None else None))
    return spans


def recalled_as_of(spans: list[tuple[datetime, datetime | None]], instant: datetime) -> bool:
    """Pure: was a recall open (opened, not yet remedied) at ``instant``?"""
    return any(opened <= instant and (remedied is None or remedied > instant)
               for opened, remedied in spans)


def _parties(session: Session, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = session.execute(select(Organization.id, Organization.country, Organization.uscc,
                                  Organization.registration_number)
                           .where(Organization.id.in_(sorted(ids))))
    return {i: party_uri(country=c, uscc=u, registration_number=r, organization_id=i)
            for i, c, u, r in rows}


def records(session: Session, events: list[Event]) -> list[EventRecord]:
    """The export records of a unit's events, each as of its own recording."""
    spans = _recall_spans(session, events[0].code) if events else []
    parties = _parties(session, {e.to_organization_id for e in events if e.to_organization_id})
    return [EventRecord(id=e.id, code=e.code, type=e.type, at=e.at, recorded_at=e.recorded_at,
                        organization=e.organization_id, to_organization=e.to_organization_id,
                        details=e.details or {}, ledger_index=e.ledger_index,
                        recalled=recalled_as_of(spans, as_utc(e.recorded_at)),
                        corrected=bool(e.corrected),
                        to_party=parties.get(e.to_organization_id or ""))
            for e in events]


def resolve_party(session: Session, captured: CapturedEvent) -> str | None:
    """The local organisation id of a captured event's destination party (it wins over
    ``robopass:toOrganization``, an id of the exporting registry), else that id. Raises
    InvalidInput naming the path when the party is unknown here."""
    if captured.to_party is None:
        return captured.to_organization
    path = captured.to_party_path or "destinationList"
    parsed = parse_party_uri(captured.to_party)
    if parsed is None:
        raise InvalidInput(f"party {captured.to_party!r} is not a robopass party URI "
                           "(urn:robopass:party:{country}:{USCC or registration number})",
                           field=path, code="unknown_party")
    country, number = parsed
    if country is None:
        if session.get(Organization, number) is None:
            raise InvalidInput(f"no organisation {number!r} here", field=path,
                               code="unknown_party")
        return number
    found = list(session.scalars(select(Organization.id).where(
        Organization.country == country,
        (Organization.uscc == number) | (Organization.registration_number == number))
        .limit(2)))
    if len(found) != 1:
        raise InvalidInput(f"party {captured.to_party} is {'ambiguous' if found else 'unknown'} "
                           "in this registry: register the organisation first", field=path,
                           code="unknown_party")
    return found[0]


def capture_requests(session: Session, captured: list[CapturedEvent]) -> list[dict[str, Any]]:
    """``{code, type, at, to_organization, details}`` per captured event, parties resolved."""
    cache: dict[str, str | None] = {}
    out = []
    for c in captured:
        key = c.to_party or ""
        if key not in cache or not c.to_party:
            cache[key] = resolve_party(session, c)
        out.append({"code": c.code, "type": c.type, "at": c.at,
                    "to_organization": cache[key] if c.to_party else c.to_organization,
                    "details": dict(c.details)})
    return out
