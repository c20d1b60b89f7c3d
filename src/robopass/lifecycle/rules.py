"""The lifecycle state machine as pure functions (SPEC §4). No database, no web.

``check(state, event, actor)`` decides whether an event may be recorded and raises
:class:`Refusal` with a specific code when not; ``effect(state, event)`` returns the state after
it. A unit's state is ``fold(initial, events)`` over its non-corrected events, so the state as of
any instant is reconstructible.

| event | who | from | to |
|---|---|---|---|
| manufactured | manufacturer | coded | manufactured |
| shipped | owner | manufactured | in_distribution (seller becomes owner) |
| sold | owner | manufactured, in_distribution | sold (buyer becomes owner) |
| deployed | owner | sold, in_service | in_service (operator = given org or owner) |
| maintenance_started | owner, operator, authorised SP | in_service, suspended | under_maintenance |
| maintenance_completed | owner, operator, authorised SP | under_maintenance | in_service |
| firmware_updated, component_replaced | maker, owner, operator, authorised SP | live, coded | — |
| transferred | owner | sold, in_service, suspended | sold (new owner, operator cleared) |
| suspended | regulator, owner | any live after coded | suspended |
| reinstated | regulator, owner (not after a regulator's suspension) | suspended | state before |
| recall_remedied | manufacturer, authorised SP | any live | closes a recall for the unit |
| decommissioned | owner | any live after coded | decommissioned |
| refurbished | owner | decommissioned | sold |
| recycled, scrapped | named recycler, else any recycler | decommissioned | terminal |
| correction | recorder of the corrected event, regulator | — | corrected event stops counting |

The regulator may record any event (its transition rules still apply).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from robopass import regions

EVENT_TYPES = (
    "manufactured", "shipped", "sold", "deployed", "maintenance_started",
    "maintenance_completed", "firmware_updated", "component_replaced", "transferred",
    "suspended", "reinstated", "recall_remedied", "decommissioned", "refurbished", "recycled",
    "scrapped", "correction",
)
TERMINAL = frozenset({"recycled", "scrapped"})
MARKET_EVENTS = frozenset({"shipped", "sold", "deployed", "transferred"})
#: Attempts on a terminal unit that are fraud, not paperwork mistakes.
FRAUD_ON_TERMINAL = frozenset({"refurbished", "sold", "transferred", "deployed", "shipped"})
RECALL_BLOCKED = frozenset({"shipped", "sold", "transferred"})
#: Model status has teeth (SPEC §13): a revoked model's units leave no further into the
#: market; a suspended model's units are not shipped, sold or transferred (deployment of a
#: unit already sold stays possible while the suspension is looked into).
MODEL_REVOKED_BLOCKS = frozenset({"shipped", "sold", "deployed", "transferred"})
MODEL_SUSPENDED_BLOCKS = frozenset({"shipped", "sold", "transferred"})
NEEDS_TO_ORGANIZATION = frozenset({"shipped", "sold", "transferred"})

ANY_LIVE_AFTER_CODED = frozenset({"manufactured", "in_distribution", "sold", "in_service",
                                  "under_maintenance", "suspended", "decommissioned"})
ANY_LIVE = ANY_LIVE_AFTER_CODED | {"coded"}

FROM_STATES: dict[str, frozenset[str]] = {
    "manufactured": frozenset({"coded"}),
    "shipped": frozenset({"manufactured"}),
    "sold": frozenset({"manufactured", "in_distribution"}),
    "deployed": frozenset({"sold", "in_service"}),
    "maintenance_started": frozenset({"in_service", "suspended"}),
    "maintenance_completed": frozenset({"under_maintenance"}),
    "firmware_updated": ANY_LIVE_AFTER_CODED,
    "component_replaced": ANY_LIVE_AFTER_CODED,
    "transferred": frozenset({"sold", "in_service", "suspended"}),
    "suspended": ANY_LIVE_AFTER_CODED - {"suspended"},
    "reinstated": frozenset({"suspended"}),
    "recall_remedied": ANY_LIVE,
    "decommissioned": ANY_LIVE_AFTER_CODED - {"decommissioned"},
    "refurbished": frozenset({"decommissioned"}),
    "recycled": frozenset({"decommissioned"}),
    "scrapped": frozenset({"decommissioned"}),
}


class Refusal(Exception):
    """A rule refused the event. ``fraud`` marks attempts that raise a fraud alert."""

    def __init__(self, code: str, message: str, *, fraud: bool = False, status: int = 409,
                 field: str | None = None, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        #: more members of the error body (e.g. ``rule`` and ``policy_version``)
        self.extra = extra or {}
        self.code = code
        self.message = message
        self.fraud = fraud
        self.status = status
        self.field = field


class UnitState(NamedTuple):
    """The state of a unit. A NamedTuple: immutable, and ``_replace`` is several times cheaper
    than ``dataclasses.replace`` on the batch path."""

    status: str
    manufacturer_id: str
    owner_id: str | None
    operator_id: str | None = None
    status_before_suspension: str | None = None
    suspended_by_authority: bool = False
    recycler_id: str | None = None
    firmware: str | None = None
    open_recalls: int = 0
    province: str | None = None
    city: str | None = None
    #: The deployment scenario (SPEC §14) and the pilot it was deployed under, if any.
    scenario: str | None = None
    pilot_id: str | None = None
    policy_version: int | None = None

    @classmethod
    def initial(cls, manufacturer_id: str) -> UnitState:
        return cls(status="coded", manufacturer_id=manufacturer_id, owner_id=manufacturer_id)


@dataclass(frozen=True)
class ActorFacts:
    """What the rules need to know about who records the event, relative to this unit."""

    id: str
    roles: frozenset[str]
    authorised_provider: bool = False

    @property
    def is_regulator(self) -> bool:
        return "regulator" in self.roles


@dataclass(frozen=True)
class EventInput:
    type: str
    to_organization: str | None = None
    to_roles: frozenset[str] = frozenset()
    details: dict[str, Any] = field(default_factory=dict)


def _who(event_type: str, state: UnitState, actor: ActorFacts) -> bool:
    if actor.is_regulator:
        return True
    is_owner = actor.id == state.owner_id
    is_operator = state.operator_id is not None and actor.id == state.operator_id
    is_maker = actor.id == state.manufacturer_id and "manufacturer" in actor.roles
    sp = actor.authorised_provider and "service_provider" in actor.roles
    if event_type == "manufactured":
        return is_maker
    if event_type in ("shipped", "sold", "deployed", "transferred", "decommissioned",
                      "refurbished", "suspended", "reinstated"):
        return is_owner
    if event_type in ("maintenance_started", "maintenance_completed"):
        return is_owner or is_operator or sp
    if event_type in ("firmware_updated", "component_replaced"):
        return is_maker or is_owner or is_operator or sp
    if event_type == "recall_remedied":
        return is_maker or sp
    if event_type in ("recycled", "scrapped"):
        if "recycler" not in actor.roles:
            return False
        return state.recycler_id is None or state.recycler_id == actor.id
    return False


def check(state: UnitState | None, event: EventInput, actor: ActorFacts,
          model_status: str | None = None) -> None:
    """Raise :class:`Refusal` unless ``actor`` may record ``event`` on a unit in ``state``.

    ``state`` is None for an unknown code; ``model_status`` is the status of the unit's
    product model (``revoked`` and ``suspended`` block market events). Corrections are
    checked by the plan step (they need the corrected event); here they only pass the
    terminal rule.
    """
    etype = event.type
    if etype not in EVENT_TYPES:
        raise Refusal("unknown_event_type",
                      f"unknown event type {etype!r}; known: {', '.join(EVENT_TYPES)}",
                      status=422, field="type")
    if state is None:
        if etype in MARKET_EVENTS:
            raise Refusal("no_market_access", "no code, no market access: this code is not "
                          "registered", fraud=True)
        raise Refusal("unit_not_found", "no robot with this code is registered", status=404)
    if etype == "correction":
        return
    if state.status in TERMINAL:
        raise Refusal("terminal_unit",
                      f"the unit is {state.status}; a {state.status} robot may not be "
                      "refurbished, resold or redeployed, and takes no further events",
                      fraud=etype in FRAUD_ON_TERMINAL)
    if etype in MARKET_EVENTS and state.status == "coded":
        raise Refusal("no_market_access", "no code, no market access: the unit has a code but "
                      "was never recorded as manufactured")
    if not _who(etype, state, actor):
        raise Refusal("not_entitled", f"your organisation may not record {etype} for this unit",
                      status=403)
    if etype == "reinstated" and state.suspended_by_authority and not actor.is_regulator:
        raise Refusal("not_entitled", "the regulator suspended this unit; only the regulator "
                      "reinstates it", status=403)
    if state.status not in FROM_STATES[etype]:
        raise Refusal("invalid_transition",
                      f"cannot record {etype} on a unit that is {state.status}")
    if model_status == "revoked" and etype in MODEL_REVOKED_BLOCKS:
        raise Refusal("model_revoked", f"the unit's product model is revoked: it may not be "
                      f"{etype}")
    if model_status == "suspended" and etype in MODEL_SUSPENDED_BLOCKS:
        raise Refusal("model_suspended", f"the unit's product model is suspended: it may not "
                      f"be {etype} until the regulator reinstates the model")
    if etype in RECALL_BLOCKED and state.open_recalls > 0:
        raise Refusal("open_recall", f"the unit has {state.open_recalls} open, unremedied "
                      f"recall(s); it cannot be {etype} until remedied")
    if etype in NEEDS_TO_ORGANIZATION and not event.to_organization:
        raise Refusal("missing_to_organization", f"{etype} needs to_organization (the new "
                      "owner's organisation id)", status=422, field="to_organization")
    if etype == "shipped" and "seller" not in event.to_roles:
        raise Refusal("wrong_role", "shipped goes to a seller (to_organization must have the "
                      "seller role)", status=422, field="to_organization")
    if etype == "deployed" and event.to_organization and "operator" not in event.to_roles:
        raise Refusal("wrong_role", "deployed names an operator (to_organization must have the "
                      "operator role)", status=422, field="to_organization")
    if etype == "decommissioned" and event.to_organization and "recycler" not in event.to_roles:
        raise Refusal("wrong_role", "decommissioned may name a recycler (to_organization must "
                      "have the recycler role)", status=422, field="to_organization")
    if etype in ("shipped", "sold", "transferred") and event.to_organization == state.owner_id:
        raise Refusal("same_owner", f"{etype} to the current owner changes nothing",
                      status=422, field="to_organization")
    if etype == "firmware_updated":
        fw = event.details.get("firmware")
        if not isinstance(fw, str) or not fw.strip() or len(fw) > 64:
            raise Refusal("invalid_details", "firmware_updated needs details.firmware (a version "
                          "string of at most 64 characters)", status=422,
                          field="details.firmware")
    _check_location(event.details)
    if etype == "recall_remedied" and not isinstance(event.details.get("recall_id"), str):
        raise Refusal("invalid_details", "recall_remedied needs details.recall_id", status=422,
                      field="details.recall_id")


def _check_location(details: dict[str, Any]) -> None:
    """``details.province`` / ``details.city``, when given, are a GB/T 2260 location (§12)."""
    province, city = details.get("province"), details.get("city")
    if province is None and city is None:
        return
    if not isinstance(province, str | None) or not isinstance(city, str | None):
        raise Refusal("invalid_division", "details.province and details.city are division "
                      "codes (strings)", status=422, field="details.province")
    where = regions.location_problem(province, city)
    if where is not None:
        raise Refusal("invalid_division", where[1], status=422, field=f"details.{where[0]}")


def effect(state: UnitState, event: EventInput, actor_is_regulator: bool = False) -> UnitState:
    """The state after ``event`` (assumed allowed)."""
    etype = event.type
    details = event.details
    location: dict[str, Any] = {}
    if isinstance(details.get("province"), str):
        location["province"] = details["province"]
    if isinstance(details.get("city"), str):
        location["city"] = details["city"]
    if etype == "manufactured":
        return state._replace(status="manufactured", **location)
    if etype == "shipped":
        return state._replace(status="in_distribution", owner_id=event.to_organization, **location)
    if etype == "sold":
        return state._replace(status="sold", owner_id=event.to_organization, operator_id=None,
                              scenario=None, pilot_id=None, **location)
    if etype == "deployed":
        scenario = details.get("scenario")
        pilot = details.get("pilot_id")
        version = details.get("policy_version")
        return state._replace(status="in_service",
                              operator_id=event.to_organization or state.owner_id,
                              scenario=scenario if isinstance(scenario, str) else None,
                              pilot_id=pilot if isinstance(pilot, str) else None,
                              policy_version=version if isinstance(version, int) else None,
                              **location)
    if etype == "maintenance_started":
        return state._replace(status="under_maintenance")
    if etype == "maintenance_completed":
        return state._replace(status="in_service")
    if etype == "firmware_updated":
        return state._replace(firmware=str(details.get("firmware")))
    if etype == "transferred":
        return state._replace(status="sold", owner_id=event.to_organization, operator_id=None,
                              status_before_suspension=None, suspended_by_authority=False,
                              scenario=None, pilot_id=None, **location)
    if etype == "suspended":
        return state._replace(status="suspended", status_before_suspension=state.status,
                       suspended_by_authority=actor_is_regulator)
    if etype == "reinstated":
        return state._replace(status=state.status_before_suspension or "manufactured",
                       status_before_suspension=None, suspended_by_authority=False)
    if etype == "decommissioned":
        return state._replace(status="decommissioned", recycler_id=event.to_organization,
                              operator_id=None, scenario=None, pilot_id=None)
    if etype == "refurbished":
        return state._replace(status="sold", recycler_id=None)
    if etype in TERMINAL:
        return state._replace(status=etype, operator_id=None)
    return state


def fold(initial: UnitState, events: list[tuple[EventInput, bool]]) -> UnitState:
    """Apply ``(event, recorded_by_regulator)`` pairs in order (corrections excluded by caller)."""
    state = initial
    for event, by_regulator in events:
        if event.type != "correction":
            state = effect(state, event, by_regulator)
    return state
