"""Lifecycle event types ↔ GS1 CBV 2.0 business steps and dispositions.

The full mapping table, and the reasons behind each choice, are in the docstring of
:mod:`robopass.epcis.document`; this module holds the data (:data:`EVENT_MAPPING`) and the
small, pure helpers that turn it into EPCIS values and back. Registry-specific vocabulary URIs
are built from a ``vocab_base`` — in the API always :data:`VOCAB_BASE`, one fixed namespace for
every deployment: ``{vocab_base}/voc/bizstep/{event type}`` and ``{vocab_base}/voc/disp/{state}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

#: The registry vocabulary's base, identical in every deployment (SPEC §16): bizStep and
#: disposition URIs are ``{VOCAB_BASE}/voc/bizstep/X`` / ``{VOCAB_BASE}/voc/disp/X`` and the
#: ``robopass`` JSON-LD prefix is bound to ``{VOCAB_BASE}/voc/``, whatever the server's address,
#: so a document exported by one registry is understood by every other. A namespace name, not
#: a web address anything is fetched from (documented in docs/passports-and-federation.md).
VOCAB_BASE: Final[str] = "https://w3id.org/robopass"

#: Every lifecycle event type of SPEC §4, in table order, and ``exported`` (SPEC §16).
EVENT_TYPES: Final[tuple[str, ...]] = (
    "manufactured",
    "shipped",
    "sold",
    "deployed",
    "maintenance_started",
    "maintenance_completed",
    "firmware_updated",
    "component_replaced",
    "transferred",
    "suspended",
    "reinstated",
    "recall_remedied",
    "decommissioned",
    "refurbished",
    "recycled",
    "scrapped",
    "correction",
    "exported",
)

#: Event types after which the unit is terminal: an open recall no longer overrides the
#: disposition (the unit is gone; ``destroyed`` is the more useful fact).
TERMINAL_EVENT_TYPES: Final[frozenset[str]] = frozenset({"recycled", "scrapped"})

#: CBV 2.0 business steps (bare names, as accepted by the EPCIS 2.0 JSON schema).
CBV_BIZ_STEPS: Final[frozenset[str]] = frozenset(
    {
        "accepting", "arriving", "assembling", "collecting", "commissioning", "consigning",
        "creating_class_instance", "cycle_counting", "decommissioning", "departing",
        "destroying", "disassembling", "dispensing", "encoding", "entering_exiting", "holding",
        "inspecting", "installing", "killing", "loading", "other", "packing", "picking",
        "receiving", "removing", "repackaging", "repairing", "replacing", "reserving",
        "retail_selling", "shipping", "staging_outbound", "stock_taking", "stocking", "storing",
        "transporting", "unloading", "unpacking", "void_shipping", "sensor_reporting",
        "sampling",
    }
)  # fmt: skip

#: CBV 2.0 dispositions (bare names).
CBV_DISPOSITIONS: Final[frozenset[str]] = frozenset(
    {
        "active", "container_closed", "damaged", "destroyed", "dispensed", "disposed",
        "encoded", "expired", "in_progress", "in_transit", "inactive", "no_pedigree_match",
        "non_sellable_other", "partially_dispensed", "recalled", "reserved", "retail_sold",
        "returned", "sellable_accessible", "sellable_not_accessible", "stolen", "unknown",
        "available", "completeness_verified", "completeness_inferred", "conformant",
        "container_open", "mismatch_instance", "mismatch_class", "mismatch_quantity",
        "needs_replacement", "non_conformant", "unavailable",
    }
)  # fmt: skip

ACTIONS: Final[frozenset[str]] = frozenset({"ADD", "OBSERVE", "DELETE"})


@dataclass(frozen=True, slots=True)
class Term:
    """A vocabulary value: a CBV 2.0 bare name, or a name in the registry's own vocabulary."""

    name: str
    cbv: bool

    def uri(self, vocab_base: str, kind: str) -> str:
        """The EPCIS value: the bare CBV name, or ``{vocab_base}/voc/{kind}/{name}``."""
        return self.name if self.cbv else f"{vocab_base}/voc/{kind}/{self.name}"

    def label(self, kind: str) -> str:
        """How the term is written in the documentation table."""
        return self.name if self.cbv else f"voc/{kind}/{self.name}"


def _cbv(name: str) -> Term:
    return Term(name, True)


def _reg(name: str) -> Term:
    return Term(name, False)


@dataclass(frozen=True, slots=True)
class EventMapping:
    """How one robopass event type is expressed as an EPCIS ObjectEvent."""

    action: str
    biz_step: Term
    disposition: Term | None


#: The mapping (see :mod:`robopass.epcis.document` for the table and the reasons).
EVENT_MAPPING: Final[Mapping[str, EventMapping]] = MappingProxyType(
    {
        "manufactured": EventMapping("ADD", _cbv("commissioning"), _cbv("active")),
        "shipped": EventMapping("OBSERVE", _cbv("shipping"), _cbv("in_transit")),
        "sold": EventMapping("OBSERVE", _cbv("retail_selling"), _cbv("retail_sold")),
        "deployed": EventMapping("OBSERVE", _reg("deployed"), _cbv("available")),
        "maintenance_started": EventMapping("OBSERVE", _cbv("repairing"), _cbv("unavailable")),
        "maintenance_completed": EventMapping("OBSERVE", _cbv("repairing"), _cbv("available")),
        "firmware_updated": EventMapping("OBSERVE", _reg("firmware_updated"), None),
        "component_replaced": EventMapping("OBSERVE", _cbv("replacing"), None),
        "transferred": EventMapping("OBSERVE", _reg("transferred"), _cbv("retail_sold")),
        "suspended": EventMapping("OBSERVE", _reg("suspended"), _reg("suspended")),
        "reinstated": EventMapping("OBSERVE", _reg("reinstated"), None),
        "recall_remedied": EventMapping("OBSERVE", _reg("recall_remedied"), None),
        "decommissioned": EventMapping("OBSERVE", _cbv("decommissioning"), _cbv("inactive")),
        "refurbished": EventMapping("OBSERVE", _reg("refurbished"), _cbv("available")),
        "recycled": EventMapping("OBSERVE", _reg("recycled"), _cbv("destroyed")),
        "scrapped": EventMapping("OBSERVE", _cbv("destroying"), _cbv("destroyed")),
        "correction": EventMapping("OBSERVE", _reg("correction"), None),
        # SPEC §16: recorded at the origin when a peer registry imported the robot.
        "exported": EventMapping("OBSERVE", _reg("exported"), None),
    }
)

RECALLED: Final[Term] = _cbv("recalled")

#: CBV business step → robopass event type, for third-party documents without our extension
#: fields. ``repairing`` and ``destroying`` are refined by the disposition, see
#: :func:`event_type_for_biz_step`.
CBV_BIZ_STEP_TO_EVENT_TYPE: Final[Mapping[str, str]] = MappingProxyType(
    {
        "commissioning": "manufactured",
        "shipping": "shipped",
        "retail_selling": "sold",
        "repairing": "maintenance_started",
        "replacing": "component_replaced",
        "decommissioning": "decommissioned",
        "destroying": "scrapped",
    }
)

#: Dispositions that turn a ``repairing`` observation into ``maintenance_completed``
#: (CBV 2.0: ``available`` = "returned to service ... following a successfully completed
#: repairing step"; ``conformant`` = "outcome of a successful ... repairing step").
REPAIR_DONE_DISPOSITIONS: Final[frozenset[str]] = frozenset({"available", "conformant"})

_CBV_FORMS = (
    # (regex, group holding the bare name); CBV 2.0 web URIs, the legacy URN form, and the
    # ns.gs1.org namespace used by the EPCIS ontology.
    re.compile(r"https?://ref\.gs1\.org/cbv/(BizStep|Disp)-([a-z_]+)", re.ASCII),
    re.compile(r"https?://ns\.gs1\.org/cbv/(BizStep|Disp)-([a-z_]+)", re.ASCII),
    re.compile(r"urn:epcglobal:cbv:(bizstep|disp):([a-z_]+)", re.ASCII),
)


def normalize_vocab_base(vocab_base: str) -> str:
    """Strip trailing slashes; refuse anything that is not an absolute http(s) URL."""
    if not isinstance(vocab_base, str) or not re.fullmatch(
        r"https?://[^\s/?#]+(/[^\s?#]*)?", vocab_base, re.ASCII
    ):
        raise ValueError(f"vocab_base must be an absolute http(s) URL, got {vocab_base!r}")
    base = vocab_base.rstrip("/")
    if not is_uri(base + "/voc/x"):
        raise ValueError(f"vocab_base is not a valid URI: {vocab_base!r}")
    return base


def vocab_namespace(vocab_base: str) -> str:
    """The registry's JSON-LD namespace, bound to the ``robopass`` prefix: ``{base}/voc/``."""
    return f"{vocab_base}/voc/"


def biz_step_value(event_type: str, vocab_base: str) -> str:
    """The ``bizStep`` value for ``event_type`` (KeyError if the type is unknown)."""
    return EVENT_MAPPING[event_type].biz_step.uri(vocab_base, "bizstep")


def disposition_value(event_type: str, vocab_base: str, *, recalled: bool = False) -> str | None:
    """The ``disposition`` value, or None; ``recalled`` wins unless the type is terminal."""
    if recalled and event_type not in TERMINAL_EVENT_TYPES:
        return RECALLED.name
    term = EVENT_MAPPING[event_type].disposition
    return None if term is None else term.uri(vocab_base, "disp")


def _bare_cbv(value: str, kind: str) -> str | None:
    """The bare CBV name of ``value`` in any of its spellings, or None."""
    vocabulary = CBV_BIZ_STEPS if kind == "bizstep" else CBV_DISPOSITIONS
    if value in vocabulary:
        return value
    for pattern in _CBV_FORMS:
        match = pattern.fullmatch(value)
        if match and match.group(1).lower() == kind and match.group(2) in vocabulary:
            return match.group(2)
    return None


def event_type_for_biz_step(biz_step: str, disposition: str | None, vocab_base: str) -> str | None:
    """Reverse mapping for third-party events: robopass event type, or None if unknown.

    Accepts CBV values in bare, ``https://ref.gs1.org/cbv/BizStep-…`` and
    ``urn:epcglobal:cbv:bizstep:…`` form, and the registry's own
    ``{vocab_base}/voc/bizstep/{type}`` URIs (any of the 17 types).
    """
    prefix = f"{vocab_base}/voc/bizstep/"
    if biz_step.startswith(prefix):
        name = biz_step[len(prefix) :]
        return name if name in EVENT_MAPPING else None
    bare = _bare_cbv(biz_step, "bizstep")
    if bare is None:
        return None
    event_type = CBV_BIZ_STEP_TO_EVENT_TYPE.get(bare)
    if event_type == "maintenance_started" and disposition is not None:
        if _bare_cbv(disposition, "disp") in REPAIR_DONE_DISPOSITIONS:
            return "maintenance_completed"
    return event_type


# --- RFC 3986 URI syntax (a strict subset: no IP-literal hosts) ------------------------------
# Used to decide whether a string may go where the EPCIS schema says ``format: uri``. Anything
# accepted here is a valid RFC 3986 URI; a few exotic valid URIs (``http://[::1]/``) are not.
_PCT = r"%[0-9A-Fa-f]{2}"
_UNRESERVED_SUB = r"A-Za-z0-9\-._~!$&'()*+,;="
_PCHAR = rf"(?:[{_UNRESERVED_SUB}:@]|{_PCT})"
_AUTHORITY = rf"(?:(?:[{_UNRESERVED_SUB}:]|{_PCT})*@)?(?:[{_UNRESERVED_SUB}]|{_PCT})*(?::[0-9]*)?"
_URI_RE = re.compile(
    rf"[A-Za-z][A-Za-z0-9+\-.]*:"
    rf"(?://{_AUTHORITY}(?:/{_PCHAR}*)*|/(?:{_PCHAR}+(?:/{_PCHAR}*)*)?|{_PCHAR}+(?:/{_PCHAR}*)*|)"
    rf"(?:\?(?:{_PCHAR}|[/?])*)?"
    rf"(?:#(?:{_PCHAR}|[/?])*)?",
    re.ASCII,
)


#: Longer strings are not treated as URIs (keeps the regex cheap on hostile input).
MAX_URI_LENGTH: Final[int] = 4096


def is_uri(value: object) -> bool:
    """True if ``value`` is an absolute URI (RFC 3986 syntax, see above)."""
    return (
        isinstance(value, str)
        and len(value) <= MAX_URI_LENGTH
        and _URI_RE.fullmatch(value) is not None
    )
