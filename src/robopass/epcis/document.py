"""EPCIS 2.0 export and capture of robot lifecycle events (pure: no database, no web).

:func:`build_document` turns a robot's lifecycle events (SPEC §4) into an ``EPCISDocument``
(EPCIS 2.0 JSON-LD, valid against GS1's official JSON schema); :func:`parse_capture` reads an
``EPCISDocument`` — our own export, or a third party's using CBV business steps — back into
:class:`CapturedEvent` values for ``POST /api/v1/epcis/capture``. Validation is done here, by
hand, without the schema file (which is reference data and is not shipped).

Mapping (:data:`EVENT_MAPPING`)
-------------------------------
Bare names are GS1 CBV 2.0 values; ``voc/bizstep/X`` and ``voc/disp/X`` are the registry's own
vocabulary, written in documents as ``{vocab_base}/voc/bizstep/X`` / ``{vocab_base}/voc/disp/X``
(the EPCIS 2.0 schema requires non-CBV values to be URIs). ``—``: no disposition (the event
does not change the unit's business condition, or the resulting condition is not known from
the event alone).

| event type            | action  | bizStep                      | disposition        |
| --------------------- | ------- | ---------------------------- | ------------------ |
| manufactured          | ADD     | commissioning                | active             |
| shipped               | OBSERVE | shipping                     | in_transit         |
| sold                  | OBSERVE | retail_selling               | retail_sold        |
| deployed              | OBSERVE | voc/bizstep/deployed         | available          |
| maintenance_started   | OBSERVE | repairing                    | unavailable        |
| maintenance_completed | OBSERVE | repairing                    | available          |
| firmware_updated      | OBSERVE | voc/bizstep/firmware_updated | —                  |
| component_replaced    | OBSERVE | replacing                    | —                  |
| transferred           | OBSERVE | voc/bizstep/transferred      | retail_sold        |
| suspended             | OBSERVE | voc/bizstep/suspended        | voc/disp/suspended |
| reinstated            | OBSERVE | voc/bizstep/reinstated       | —                  |
| recall_remedied       | OBSERVE | voc/bizstep/recall_remedied  | —                  |
| decommissioned        | OBSERVE | decommissioning              | inactive           |
| refurbished           | OBSERVE | voc/bizstep/refurbished      | available          |
| recycled              | OBSERVE | voc/bizstep/recycled         | destroyed          |
| scrapped              | OBSERVE | destroying                   | destroyed          |
| correction            | OBSERVE | voc/bizstep/correction       | —                  |
| exported              | OBSERVE | voc/bizstep/exported         | —                  |

Open recall: when ``EventRecord.recalled`` is true (the unit had at least one open, unremedied
recall right after the event) the disposition is CBV ``recalled`` ("non-sellable because of
public safety reasons"), except for the terminal ``recycled`` / ``scrapped`` (``destroyed``
is then the relevant fact).

Reasons:

* ``manufactured`` uses action ``ADD``: the robot's identifier enters the supply chain
  (CBV ``commissioning`` / ``active``); all other events ``OBSERVE`` — nothing, not even
  scrapping, deletes the identifier, since a code is never reused and stays queryable.
* ``maintenance_started`` / ``_completed`` both use ``repairing``; CBV 2.0 distinguishes them
  by disposition: ``unavailable`` ("removed from service ... e.g. pending repair") and
  ``available`` ("returned to service ... following a successfully completed repairing step").
* ``deployed`` and ``refurbished`` (back to ``sold`` from ``decommissioned``) have no CBV
  step; their result is CBV ``available`` (in service / usable again). ``transferred``
  (resale) has no CBV step; its result is ``retail_sold`` as for ``sold``.
* ``recycled``: CBV 2.0 has no recycling step. ``destroying`` would make it indistinguishable
  from ``scrapped`` for a reader without our extension fields, ``collecting`` and
  ``disassembling`` describe steps *before* recycling, and disposition ``disposed`` means
  "returned for disposal" (pending). So: the registry step ``voc/bizstep/recycled`` with CBV
  disposition ``destroyed`` ("fully rendered non-usable") — any CBV reader learns that the
  robot is gone, and the step says how.
* ``suspended`` is a regulatory hold that blocks both use and sale; no CBV disposition says
  that (``unavailable`` is used for maintenance, ``non_sellable_other`` says nothing about
  use), hence ``voc/disp/suspended``. ``reinstated`` returns to the state before suspension,
  which the event alone does not carry: no disposition.
* ``decommissioned`` → ``decommissioning`` / ``inactive`` ("may be reintroduced"), matching
  SPEC §4 where a decommissioned robot may still be refurbished.

Every exported event also carries registry extension fields under the ``robopass`` prefix
(bound in ``@context`` to ``{vocab_base}/voc/``), so that capture round-trips exactly:
``robopass:eventType`` (the exact type), ``robopass:eventId``, ``robopass:ledgerIndex``,
``robopass:organization``, ``robopass:toOrganization``, ``robopass:details``, and for
corrections ``robopass:corrects`` (the corrected event id). A corrected event gets
``robopass:corrected: true`` and, when its correction is in the same document, an EPCIS
``errorDeclaration`` (reason ``incorrect_data``, ``correctiveEventIDs`` = the correction's
``eventID``). ``readPoint`` / ``bizLocation`` are emitted when ``details`` holds a URI under
``read_point`` / ``biz_location``. ``eventID`` is ``{vocab_base}/events/{id}`` (id
percent-encoded).

Capture (reverse mapping)
-------------------------
Event type: ``robopass:eventType`` when present (any prefix bound in ``@context`` to
``{vocab_base}/voc/``, the literal ``robopass:`` prefix unless the document binds it to another
namespace — e.g. another registry's export, which is then read like any third party's — or
the full IRI); otherwise from
``bizStep`` (bare CBV name, ``https://ref.gs1.org/cbv/BizStep-…``, ``urn:epcglobal:cbv:bizstep:…``
or ``{vocab_base}/voc/bizstep/{type}``):

| bizStep         | event type                                                             |
| --------------- | ---------------------------------------------------------------------- |
| commissioning   | manufactured                                                           |
| shipping        | shipped                                                                |
| retail_selling  | sold                                                                   |
| repairing       | maintenance_completed if the disposition is ``available`` or           |
|                 | ``conformant``, else maintenance_started (a repair observation without |
|                 | a successful outcome means the robot is being repaired)                |
| replacing       | component_replaced                                                     |
| decommissioning | decommissioned                                                         |
| destroying      | scrapped                                                               |
| voc/bizstep/X   | X (any of the 17 types)                                                |

Any other bizStep (``receiving``, ``inspecting``, ...) is refused. Robot code: from each
``epcList`` entry, ``http(s)://…/r/{code}`` or ``urn:robopass:{code}``, returned as written
(the caller validates it); an event with several robots yields one captured event per robot.
Any other EPC (an SGTIN, ...) is refused, naming its path. Details: ``robopass:details`` when
present; for third-party events ``{"read_point", "biz_location", "epcis_event_id"}`` from
``readPoint.id``, ``bizLocation.id`` and ``eventID`` (whichever are present). ``errorDeclaration``
is accepted only on events carrying ``robopass:eventType`` (our own export, where the
correction travels as its own event); a third party's error declaration is refused, since
it retracts an event we cannot identify — record a ``correction`` instead.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final
from urllib.parse import quote

from robopass.epcis.vocabulary import (
    ACTIONS,
    EVENT_MAPPING,
    EVENT_TYPES,
    VOCAB_BASE,
    EventMapping,
    biz_step_value,
    disposition_value,
    event_type_for_biz_step,
    is_uri,
    normalize_vocab_base,
    vocab_namespace,
)

__all__ = [
    "EPCIS_CONTEXT_URL",
    "EVENT_MAPPING",
    "EVENT_TYPES",
    "EXT_CORRECTED",
    "EXT_CORRECTS",
    "EXT_DETAILS",
    "EXT_EVENT_ID",
    "EXT_EVENT_TYPE",
    "EXT_LEDGER_INDEX",
    "EXT_ORGANIZATION",
    "EXT_TO_ORGANIZATION",
    "MAX_CAPTURE_EVENTS",
    "PREFIX",
    "CapturedEvent",
    "EpcisError",
    "EventMapping",
    "EventRecord",
    "build_document",
    "event_uri",
    "parse_capture",
    "parse_party_uri",
    "party_uri",
    "robot_code_from_epc",
]

EPCIS_CONTEXT_URL: Final[str] = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
SCHEMA_VERSION: Final[str] = "2.0"
MAX_CAPTURE_EVENTS: Final[int] = 10_000

#: JSON-LD prefix of the registry's vocabulary, bound to ``{vocab_base}/voc/``.
PREFIX: Final[str] = "robopass"
# Extension field local names (written as ``robopass:<name>``).
EXT_EVENT_TYPE: Final[str] = "eventType"
EXT_EVENT_ID: Final[str] = "eventId"
EXT_LEDGER_INDEX: Final[str] = "ledgerIndex"
EXT_ORGANIZATION: Final[str] = "organization"
EXT_TO_ORGANIZATION: Final[str] = "toOrganization"
EXT_DETAILS: Final[str] = "details"
EXT_CORRECTS: Final[str] = "corrects"
EXT_CORRECTED: Final[str] = "corrected"

#: ``details`` keys that become ``readPoint`` / ``bizLocation`` (when they hold a URI).
DETAILS_READ_POINT: Final[str] = "read_point"
DETAILS_BIZ_LOCATION: Final[str] = "biz_location"
DETAILS_EPCIS_EVENT_ID: Final[str] = "epcis_event_id"


class EpcisError(ValueError):
    """A capture document is not acceptable; ``path`` locates the problem.

    ``path`` is dotted, with list indexes in brackets, e.g.
    ``epcisBody.eventList[2].eventTime``; ``""`` is the document itself.
    """

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One stored lifecycle event, as the export needs it."""

    id: str
    code: str
    type: str
    at: datetime
    recorded_at: datetime
    organization: str
    to_organization: str | None
    details: dict[str, Any]
    ledger_index: int | None
    #: the unit had an open, unremedied recall right after this event
    recalled: bool = False
    #: a ``correction`` event voids this one
    corrected: bool = False
    #: portable URI of the ``to_organization`` (see :func:`party_uri`), sent as the CBV
    #: ``owning_party`` (ownership changes) or ``possessing_party`` (deployment) destination
    to_party: str | None = None

    def __post_init__(self) -> None:
        if self.type not in EVENT_MAPPING:
            raise ValueError(f"unknown event type {self.type!r}")
        if not isinstance(self.at, datetime) or not isinstance(self.recorded_at, datetime):
            raise ValueError("at and recorded_at must be datetimes")
        if not isinstance(self.details, dict):
            raise ValueError("details must be a dict")


@dataclass(frozen=True, slots=True)
class CapturedEvent:
    """One event read from a capture document (one per robot EPC)."""

    code: str
    type: str
    #: always set by :func:`parse_capture` (eventTime is required); None is left for callers
    #: that build captured events themselves and want "now"
    at: datetime | None
    to_organization: str | None
    details: dict[str, Any] = field(default_factory=dict)
    #: the CBV ``destinationList`` party (``owning_party`` / ``possessing_party``) URI, when
    #: the document names one; the caller resolves it to an organisation (it wins over
    #: ``robopass:toOrganization``, an id only meaningful in the exporting registry)
    to_party: str | None = None
    #: where ``to_party`` was found, for error messages
    to_party_path: str | None = None


# --- export ---------------------------------------------------------------------------------


#: Event types whose ``to_organization`` travels as a CBV destination party.
PARTY_TYPES: Final[dict[str, str]] = {"shipped": "owning_party", "sold": "owning_party",
                                      "transferred": "owning_party",
                                      "deployed": "possessing_party"}
_PARTY_RE = re.compile(r"urn:robopass:party:([A-Z]{2}):([^\s:]+)", re.ASCII)


def party_uri(*, country: str, uscc: str | None, registration_number: str | None,
              organization_id: str) -> str:
    """A portable URI for an organisation, the same in every registry that knows it:
    ``urn:robopass:party:{country}:{USCC or registration number, percent-encoded}``; an
    organisation with neither is ``urn:robopass:org:{id}`` (meaningful in its registry only)."""
    number = uscc or registration_number
    if number:
        return f"urn:robopass:party:{country}:{quote(number, safe='')}"
    return f"urn:robopass:org:{quote(organization_id, safe='')}"


def parse_party_uri(uri: str) -> tuple[str, str] | tuple[None, str] | None:
    """``(country, number)`` of a party URI, ``(None, id)`` of a local org URI, else None."""
    from urllib.parse import unquote

    match = _PARTY_RE.fullmatch(uri)
    if match:
        return match.group(1), unquote(match.group(2))
    if uri.startswith("urn:robopass:org:") and len(uri) > len("urn:robopass:org:"):
        return None, unquote(uri[len("urn:robopass:org:"):])
    return None


def event_uri(vocab_base: str, event_id: str) -> str:
    """The ``eventID`` of a stored event: ``{vocab_base}/events/{id}``."""
    return f"{normalize_vocab_base(vocab_base)}/events/{quote(event_id, safe='')}"


def _timestamp(value: datetime) -> tuple[str, str]:
    """RFC 3339 text and the ``±hh:mm`` offset; naive datetimes are taken as UTC."""
    offset = value.utcoffset()
    if offset is None:
        value, offset = value.replace(tzinfo=UTC), timedelta(0)
    if offset % timedelta(minutes=1) or abs(offset) > timedelta(hours=14):
        # not expressible in RFC 3339 / the schema's eventTimeZoneOffset pattern
        value, offset = value.astimezone(UTC), timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    zone = f"{sign}{hours:02d}:{mins:02d}"
    text = value.replace(tzinfo=timezone(offset)).isoformat()
    return text, zone


def _object_event(
    event: EventRecord,
    *,
    robot_uri: str,
    base: str,
    ids: str,
    correction: EventRecord | None,
) -> dict[str, Any]:
    mapping = EVENT_MAPPING[event.type]
    event_time, zone = _timestamp(event.at)
    out: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventID": event_uri(ids, event.id),
        "action": mapping.action,
        "bizStep": biz_step_value(event.type, base),
    }
    disposition = disposition_value(event.type, base, recalled=event.recalled)
    if disposition is not None:
        out["disposition"] = disposition
    out["epcList"] = [robot_uri]
    out["eventTime"] = event_time
    out["eventTimeZoneOffset"] = zone
    out["recordTime"] = _timestamp(event.recorded_at)[0]
    read_point = event.details.get(DETAILS_READ_POINT)
    if is_uri(read_point):
        out["readPoint"] = {"id": read_point}
    biz_location = event.details.get(DETAILS_BIZ_LOCATION)
    if is_uri(biz_location):
        out["bizLocation"] = {"id": biz_location}
    party_type = PARTY_TYPES.get(event.type)
    if party_type is not None and event.to_party is not None and is_uri(event.to_party):
        out["destinationList"] = [{"type": party_type, "destination": event.to_party}]
    if event.corrected and correction is not None:
        out["errorDeclaration"] = {
            "declarationTime": _timestamp(correction.recorded_at)[0],
            "reason": "incorrect_data",
            "correctiveEventIDs": [event_uri(ids, correction.id)],
        }
    out[f"{PREFIX}:{EXT_EVENT_TYPE}"] = event.type
    out[f"{PREFIX}:{EXT_EVENT_ID}"] = event.id
    if event.ledger_index is not None:
        out[f"{PREFIX}:{EXT_LEDGER_INDEX}"] = event.ledger_index
    out[f"{PREFIX}:{EXT_ORGANIZATION}"] = event.organization
    if event.to_organization is not None:
        out[f"{PREFIX}:{EXT_TO_ORGANIZATION}"] = event.to_organization
    out[f"{PREFIX}:{EXT_DETAILS}"] = copy.deepcopy(event.details)
    corrects = event.details.get("corrects")
    if event.type == "correction" and isinstance(corrects, str):
        out[f"{PREFIX}:{EXT_CORRECTS}"] = corrects
    if event.corrected:
        out[f"{PREFIX}:{EXT_CORRECTED}"] = True
    return out


def build_document(
    *,
    robot_uri: str,
    events: Sequence[EventRecord],
    created_at: datetime,
    vocab_base: str = VOCAB_BASE,
    sender: str | None = None,
    event_base: str | None = None,
) -> dict[str, Any]:
    """An EPCIS 2.0 ``EPCISDocument`` with one ObjectEvent per event, in the given order.

    ``robot_uri`` is ``{public base URL}/r/{code}``; ``vocab_base`` is the namespace of the
    ``robopass`` prefix and of the non-CBV vocabulary (:data:`VOCAB_BASE` in every
    deployment); ``event_base`` (default ``vocab_base``) is where ``eventID``s live — the
    registry's public base URL. Naive datetimes are taken as UTC. Raises ValueError for an
    invalid ``robot_uri``, ``vocab_base`` or ``event_base``.
    """
    base = normalize_vocab_base(vocab_base)
    ids = normalize_vocab_base(event_base) if event_base is not None else base
    if not is_uri(robot_uri):
        raise ValueError(f"robot_uri is not an absolute URI: {robot_uri!r}")
    corrections: dict[str, EventRecord] = {}
    for event in events:
        corrects = event.details.get("corrects")
        if event.type == "correction" and isinstance(corrects, str):
            corrections.setdefault(corrects, event)
    document: dict[str, Any] = {
        # robopass:details is a JSON literal: JSON-LD processing keeps it whole (@json)
        "@context": [EPCIS_CONTEXT_URL, {PREFIX: vocab_namespace(base),
                                         f"{PREFIX}:{EXT_DETAILS}": {"@type": "@json"}}],
        "type": "EPCISDocument",
        "schemaVersion": SCHEMA_VERSION,
        "creationDate": _timestamp(created_at)[0],
    }
    if sender is not None:
        document["sender"] = sender
    document["epcisBody"] = {
        "eventList": [
            _object_event(e, robot_uri=robot_uri, base=base, ids=ids,
                          correction=corrections.get(e.id))
            for e in events
        ]
    }
    return document


# --- capture --------------------------------------------------------------------------------

_TIME_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})?",
    re.ASCII,
)
_ZONE_RE = re.compile(r"[+-](?:(?:0[0-9]|1[0-3]):[0-5][0-9]|14:00)", re.ASCII)
_VERSION_RE = re.compile(r"2(?:\.[0-9]+)*", re.ASCII)
_URN_PREFIX = "urn:robopass:"
_CODE_RE = re.compile(r"[^\s/?#:%]+")
_MAX_SHOWN = 80


def _show(value: Any) -> str:
    """A short, safe rendering of an offending value for error messages."""
    if isinstance(value, dict | list | tuple):
        return f"{_json_type(value)} of {len(value)}"
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (ValueError, TypeError):
        text = _json_type(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _parse_time(value: Any, path: str) -> datetime:
    if not isinstance(value, str):
        raise EpcisError(path, f"must be an RFC 3339 date-time string, got {_json_type(value)}")
    match = _TIME_RE.fullmatch(value)
    if match is None:
        raise EpcisError(path, f"not an RFC 3339 date-time: {_show(value)}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    if zone is None:
        raise EpcisError(path, f"must include a UTC offset ('Z' or '±hh:mm'): {_show(value)}")
    micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
    try:
        if zone in ("Z", "z"):
            tz = UTC
        else:
            hours, minutes = int(zone[1:3]), int(zone[4:6])
            if minutes > 59:
                raise ValueError("offset minutes out of range")
            delta = timedelta(hours=hours, minutes=minutes)
            tz = timezone(-delta if zone[0] == "-" else delta)
        return datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tz
        )
    except ValueError as exc:
        raise EpcisError(path, f"not a valid date-time ({exc}): {_show(value)}") from None


def robot_code_from_epc(epc: Any) -> str | None:
    """The robot code in ``http(s)://…/r/{code}`` or ``urn:robopass:{code}``, else None.

    The code is returned as written (not normalised or validated).
    """
    if not isinstance(epc, str):
        return None
    if epc[: len(_URN_PREFIX)].lower() == _URN_PREFIX:
        code = epc[len(_URN_PREFIX) :]
        return code if _CODE_RE.fullmatch(code) else None
    if not is_uri(epc):
        return None
    match = re.fullmatch(r"https?://[^/?#]+(?:/[^?#]*)?/r/([^/?#]+)", epc, re.IGNORECASE)
    if match is None:
        return None
    code = match.group(1)
    return code if _CODE_RE.fullmatch(code) else None


class _Extensions:
    """Looks up ``robopass:`` extension fields, whatever prefix the document binds to us."""

    def __init__(self, namespace: str, prefixes: set[str]) -> None:
        self.namespace = namespace
        self.prefixes = sorted(prefixes)

    def get(self, event: Mapping[str, Any], name: str) -> tuple[str, Any] | None:
        for prefix in self.prefixes:
            key = f"{prefix}:{name}"
            if key in event:
                return key, event[key]
        key = self.namespace + name
        if key in event:
            return key, event[key]
        return None


def _check_context(doc: Mapping[str, Any], namespace: str) -> set[str]:
    """Validate ``@context``; return the prefixes bound to the registry namespace."""
    if "@context" not in doc:
        raise EpcisError("@context", f"missing; expected [{_show(EPCIS_CONTEXT_URL)}, ...]")
    context = doc["@context"]
    items = context if isinstance(context, list) else [context]
    if not items:
        raise EpcisError("@context", "must not be empty")
    prefixes = {PREFIX}
    for index, item in enumerate(items):
        path = f"@context[{index}]" if isinstance(context, list) else "@context"
        if isinstance(item, dict):
            for key, value in item.items():
                if isinstance(value, dict):  # expanded term definition {"@id": ...}
                    value = value.get("@id")
                if key == PREFIX and value != namespace:
                    prefixes.discard(PREFIX)  # "robopass" means something else here
                elif value == namespace and isinstance(key, str):
                    prefixes.add(key)
        elif not isinstance(item, str) or not is_uri(item):
            raise EpcisError(path, f"must be a context URI or object, got {_show(item)}")
    return prefixes


def _parse_event(
    event: Any, path: str, *, base: str, ext: _Extensions
) -> tuple[list[str], str, datetime, str | None, dict[str, Any], tuple[str, str] | None]:
    if not isinstance(event, dict):
        raise EpcisError(path, f"an event must be an object, got {_json_type(event)}")
    if "type" not in event:
        raise EpcisError(f"{path}.type", 'missing; expected "ObjectEvent"')
    if event["type"] != "ObjectEvent":
        raise EpcisError(
            f"{path}.type",
            f"only ObjectEvent can be captured, got {_show(event['type'])}",
        )
    if "action" not in event:
        raise EpcisError(f"{path}.action", "missing; expected one of ADD, OBSERVE, DELETE")
    if not isinstance(event["action"], str) or event["action"] not in ACTIONS:
        raise EpcisError(
            f"{path}.action", f"must be one of ADD, OBSERVE, DELETE, got {_show(event['action'])}"
        )
    if "eventTime" not in event:
        raise EpcisError(f"{path}.eventTime", "missing")
    at = _parse_time(event["eventTime"], f"{path}.eventTime")
    if "eventTimeZoneOffset" in event:
        zone = event["eventTimeZoneOffset"]
        if not isinstance(zone, str) or _ZONE_RE.fullmatch(zone) is None:
            raise EpcisError(
                f"{path}.eventTimeZoneOffset",
                f"must be '±hh:mm' (-14:00..+14:00), got {_show(zone)}",
            )

    # robots
    epc_path = f"{path}.epcList"
    if "epcList" not in event:
        if "quantityList" in event:
            raise EpcisError(
                epc_path,
                "missing: class-level quantityList cannot be captured, robots must be listed "
                "individually in epcList",
            )
        raise EpcisError(epc_path, "missing")
    epcs = event["epcList"]
    if not isinstance(epcs, list):
        raise EpcisError(epc_path, f"must be an array of robot URIs, got {_json_type(epcs)}")
    if not epcs:
        raise EpcisError(epc_path, "must list at least one robot")
    codes: list[str] = []
    seen: set[str] = set()
    for index, epc in enumerate(epcs):
        code = robot_code_from_epc(epc)
        if code is None:
            raise EpcisError(
                f"{epc_path}[{index}]",
                f"not a robot URI (expected '…/r/{{code}}' or 'urn:robopass:{{code}}'): "
                f"{_show(epc)}",
            )
        if epc in seen:
            raise EpcisError(f"{epc_path}[{index}]", f"duplicate EPC {_show(epc)}")
        seen.add(epc)
        codes.append(code)

    # event type
    found = ext.get(event, EXT_EVENT_TYPE)
    ours = found is not None
    if found is not None:
        key, value = found
        if not isinstance(value, str) or value not in EVENT_MAPPING:
            raise EpcisError(f"{path}.{key}", f"unknown robopass event type {_show(value)}")
        event_type = value
    else:
        if "bizStep" not in event:
            raise EpcisError(
                f"{path}.bizStep",
                f"missing, and no {PREFIX}:{EXT_EVENT_TYPE}: cannot tell the event type",
            )
        biz_step = event["bizStep"]
        disposition = event.get("disposition")
        mapped = (
            event_type_for_biz_step(
                biz_step, disposition if isinstance(disposition, str) else None, base
            )
            if isinstance(biz_step, str)
            else None
        )
        if mapped is None:
            raise EpcisError(
                f"{path}.bizStep",
                f"no robopass event type for bizStep {_show(biz_step)} (known: commissioning, "
                "shipping, retail_selling, repairing, replacing, decommissioning, destroying, "
                f"{base}/voc/bizstep/{{type}})",
            )
        event_type = mapped

    # locations (shape check always; copied into details only for third-party events)
    locations: dict[str, str] = {}
    for field_name, detail_key in (
        ("readPoint", DETAILS_READ_POINT),
        ("bizLocation", DETAILS_BIZ_LOCATION),
    ):
        if field_name in event:
            value = event[field_name]
            if not isinstance(value, dict) or not is_uri(value.get("id")):
                raise EpcisError(
                    f"{path}.{field_name}", f"must be an object with a URI 'id', got {_show(value)}"
                )
            locations[detail_key] = value["id"]

    if "errorDeclaration" in event and not ours:
        raise EpcisError(
            f"{path}.errorDeclaration",
            "error declarations from other systems cannot be captured (the retracted event "
            "cannot be identified); capture a robopass 'correction' event instead",
        )

    # details
    details: dict[str, Any]
    found = ext.get(event, EXT_DETAILS)
    if found is not None:
        key, value = found
        if not isinstance(value, dict):
            raise EpcisError(f"{path}.{key}", f"must be an object, got {_json_type(value)}")
        details = dict(value)
    else:
        details = dict(locations)
        if isinstance(event.get("eventID"), str):
            details[DETAILS_EPCIS_EVENT_ID] = event["eventID"]

    found = ext.get(event, EXT_CORRECTS)
    if found is not None:
        key, value = found
        if not isinstance(value, str) or not value:
            raise EpcisError(f"{path}.{key}", f"must be an event id string, got {_show(value)}")
        if event_type != "correction":
            raise EpcisError(f"{path}.{key}", f"only a correction corrects, not {event_type!r}")
        if "corrects" not in details:
            details["corrects"] = value
        elif details["corrects"] != value:
            raise EpcisError(
                f"{path}.{key}",
                f"{_show(value)} disagrees with details.corrects {_show(details['corrects'])}",
            )

    party = _destination_party(event, path)
    to_organization: str | None = None
    found = ext.get(event, EXT_TO_ORGANIZATION)
    if found is not None:
        key, value = found
        if value is not None and not isinstance(value, str):
            raise EpcisError(
                f"{path}.{key}",
                f"must be an organisation id string or null, got {_json_type(value)}",
            )
        to_organization = value
    return codes, event_type, at, to_organization, details, party


def _destination_party(event: Mapping[str, Any], path: str) -> tuple[str, str] | None:
    """The first CBV ``owning_party`` (else ``possessing_party``) destination: (URI, path)."""
    if "destinationList" not in event:
        return None
    items = event["destinationList"]
    if not isinstance(items, list):
        raise EpcisError(f"{path}.destinationList", f"must be an array, got {_json_type(items)}")
    found: dict[str, tuple[str, str]] = {}
    for index, item in enumerate(items):
        where = f"{path}.destinationList[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("type"), str) \
                or not is_uri(item.get("destination")):
            raise EpcisError(where, "must be {type, destination: URI}")
        kind = _PARTY_FORMS.get(item["type"])
        if kind is not None and kind not in found:
            found[kind] = (item["destination"], f"{where}.destination")
    return found.get("owning_party") or found.get("possessing_party")


#: CBV source/destination types we read, in their bare, web-URI and URN spellings.
_PARTY_FORMS: Final[dict[str, str]] = {
    spelled: kind
    for kind in ("owning_party", "possessing_party")
    for spelled in (kind, f"https://ref.gs1.org/cbv/SDT-{kind}",
                    f"urn:epcglobal:cbv:sdt:{kind}")
}


def parse_capture(doc: Any, *, vocab_base: str = VOCAB_BASE) -> list[CapturedEvent]:
    """Read an ``EPCISDocument`` into captured events (one per robot EPC per ObjectEvent).

    Raises :class:`EpcisError` (a ValueError with ``path``) on the first problem; never any
    other exception for any JSON input. ``vocab_base`` must be the same base URL given to
    :func:`build_document` (a ValueError is raised if it is not an http(s) URL).
    """
    base = normalize_vocab_base(vocab_base)
    namespace = vocab_namespace(base)
    if not isinstance(doc, dict):
        raise EpcisError("", f"an EPCIS document must be a JSON object, got {_json_type(doc)}")
    if "type" not in doc:
        raise EpcisError("type", 'missing; expected "EPCISDocument"')
    if doc["type"] != "EPCISDocument":
        raise EpcisError("type", f'expected "EPCISDocument", got {_show(doc["type"])}')
    if "schemaVersion" not in doc:
        raise EpcisError("schemaVersion", 'missing; expected "2.0"')
    version = doc["schemaVersion"]
    if not isinstance(version, str) or _VERSION_RE.fullmatch(version) is None:
        raise EpcisError("schemaVersion", f'unsupported {_show(version)}; expected "2.0"')
    ext = _Extensions(namespace, _check_context(doc, namespace))
    if "epcisBody" not in doc:
        raise EpcisError("epcisBody", "missing")
    body = doc["epcisBody"]
    if not isinstance(body, dict):
        raise EpcisError("epcisBody", f"must be an object, got {_json_type(body)}")
    if "eventList" not in body:
        raise EpcisError("epcisBody.eventList", "missing")
    events = body["eventList"]
    if not isinstance(events, list):
        raise EpcisError("epcisBody.eventList", f"must be an array, got {_json_type(events)}")
    if len(events) > MAX_CAPTURE_EVENTS:
        raise EpcisError(
            "epcisBody.eventList",
            f"too many events: {len(events)} (at most {MAX_CAPTURE_EVENTS} per capture)",
        )
    captured: list[CapturedEvent] = []
    for index, event in enumerate(events):
        path = f"epcisBody.eventList[{index}]"
        codes, event_type, at, to_organization, details, party = _parse_event(
            event, path, base=base, ext=ext
        )
        if len(captured) + len(codes) > MAX_CAPTURE_EVENTS:
            raise EpcisError(
                f"{path}.epcList",
                f"too many robot events in this capture (at most {MAX_CAPTURE_EVENTS})",
            )
        for code in codes:
            captured.append(
                CapturedEvent(
                    code=code,
                    type=event_type,
                    at=at,
                    to_organization=to_organization,
                    details=dict(details) if len(codes) > 1 else details,
                    to_party=party[0] if party else None,
                    to_party_path=party[1] if party else None,
                )
            )
    return captured
