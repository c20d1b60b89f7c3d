"""Pure state machine: every row of the SPEC §4 table."""

from __future__ import annotations

import pytest

from robopass.lifecycle import rules
from robopass.lifecycle.rules import ActorFacts, EventInput, Refusal, UnitState

MAKER = ActorFacts(id="m", roles=frozenset({"manufacturer"}))
SELLER = ActorFacts(id="s", roles=frozenset({"seller"}))
BUYER = ActorFacts(id="b", roles=frozenset({"operator"}))
REG = ActorFacts(id="r", roles=frozenset({"regulator"}))
SP = ActorFacts(id="sp", roles=frozenset({"service_provider"}), authorised_provider=True)
SP_NO = ActorFacts(id="sp2", roles=frozenset({"service_provider"}))
RECYCLER = ActorFacts(id="rc", roles=frozenset({"recycler"}))


def st(status: str, owner: str = "m", **kw: object) -> UnitState:
    return UnitState(status=status, manufacturer_id="m", owner_id=owner, **kw)  # type: ignore[arg-type]


def refused(state: UnitState | None, event: EventInput, actor: ActorFacts) -> Refusal:
    with pytest.raises(Refusal) as info:
        rules.check(state, event, actor)
    return info.value


def test_happy_path_fold() -> None:
    state = UnitState.initial("m")
    steps = [
        (EventInput("manufactured"), MAKER),
        (EventInput("shipped", "s", frozenset({"seller"})), MAKER),
        (EventInput("sold", "b", frozenset({"operator"})), SELLER),
        (EventInput("deployed"), BUYER),
        (EventInput("maintenance_started"), BUYER),
        (EventInput("maintenance_completed"), BUYER),
        (EventInput("transferred", "s", frozenset({"seller"})), BUYER),
    ]
    for event, actor in steps:
        rules.check(state, event, actor)
        state = rules.effect(state, event)
    assert state.status == "sold" and state.owner_id == "s" and state.operator_id is None


def test_no_code_no_market_access() -> None:
    for etype in ("shipped", "sold", "deployed", "transferred"):
        r = refused(None, EventInput(etype, "b"), MAKER)
        assert r.code == "no_market_access" and r.fraud
        r = refused(st("coded"), EventInput(etype, "b", frozenset({"seller"})), MAKER)
        assert r.code == "no_market_access"


def test_open_recall_blocks_sale_ship_transfer() -> None:
    for etype, status in (("sold", "manufactured"), ("shipped", "manufactured"),
                          ("transferred", "sold")):
        r = refused(st(status, open_recalls=1), EventInput(etype, "x", frozenset({"seller"})),
                    MAKER)
        assert r.code == "open_recall"
    rules.check(st("sold", open_recalls=1), EventInput("deployed"), MAKER)  # not blocked


@pytest.mark.parametrize("terminal", ["recycled", "scrapped"])
def test_terminal_units_and_fraud(terminal: str) -> None:
    for etype in ("refurbished", "sold", "transferred", "deployed"):
        r = refused(st(terminal), EventInput(etype, "b"), MAKER)
        assert r.code == "terminal_unit" and r.fraud
    r = refused(st(terminal), EventInput("firmware_updated", details={"firmware": "1"}), MAKER)
    assert r.code == "terminal_unit" and not r.fraud
    rules.check(st(terminal), EventInput("correction"), MAKER)  # corrections pass


def test_wrong_party_and_wrong_state() -> None:
    assert refused(st("manufactured"), EventInput("sold", "b"), SELLER).code == "not_entitled"
    assert refused(st("in_service"), EventInput("maintenance_started"), SP_NO).code == \
        "not_entitled"
    rules.check(st("in_service"), EventInput("maintenance_started"), SP)
    assert refused(st("manufactured"), EventInput("deployed"), MAKER).code == \
        "invalid_transition"
    assert refused(st("coded"), EventInput("decommissioned"), MAKER).code == "invalid_transition"


def test_regulator_may_record_any_but_rules_still_apply() -> None:
    rules.check(st("in_service", owner="b"), EventInput("suspended"), REG)
    assert refused(st("coded"), EventInput("maintenance_started"), REG).code == \
        "invalid_transition"


def test_suspension_by_regulator_only_lifted_by_regulator() -> None:
    state = rules.effect(st("in_service", owner="b"), EventInput("suspended"), True)
    assert state.status == "suspended" and state.suspended_by_authority
    assert refused(state, EventInput("reinstated"), BUYER).code == "not_entitled"
    rules.check(state, EventInput("reinstated"), REG)
    assert rules.effect(state, EventInput("reinstated")).status == "in_service"


def test_named_recycler() -> None:
    state = rules.effect(st("in_service"), EventInput("decommissioned", "rc",
                                                       frozenset({"recycler"})))
    other = ActorFacts(id="rc2", roles=frozenset({"recycler"}))
    assert refused(state, EventInput("scrapped"), other).code == "not_entitled"
    rules.check(state, EventInput("scrapped"), RECYCLER)
    free = rules.effect(st("in_service"), EventInput("decommissioned"))
    rules.check(free, EventInput("recycled"), other)


def test_refurbish_only_from_decommissioned() -> None:
    rules.check(st("decommissioned"), EventInput("refurbished"), MAKER)
    assert rules.effect(st("decommissioned"), EventInput("refurbished")).status == "sold"
    assert refused(st("in_service"), EventInput("refurbished"), MAKER).code == \
        "invalid_transition"


def test_unknown_type_and_missing_fields() -> None:
    assert refused(st("manufactured"), EventInput("teleported"), MAKER).status == 422
    assert refused(st("manufactured"), EventInput("sold"), MAKER).code == \
        "missing_to_organization"
    assert refused(st("manufactured"), EventInput("shipped", "b", frozenset({"operator"})),
                   MAKER).code == "wrong_role"
    assert refused(st("sold"), EventInput("firmware_updated"), MAKER).field == \
        "details.firmware"
