"""``supply_counts`` equals a recount of ``components`` after every write, and the supply-chain
view read from it equals the view the old per-worker scan gave, nationally and for every
province: randomised sequences of lifecycle events that bind, swap, release and re-bind
components and move units between provinces (single, batched, refused, corrections), a
scripted walk through every binding path, migration 0011's fill, and ``robopass stats
check`` / ``rebuild``; on both databases."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from robopass.cli import app
from robopass.components.models import Component
from robopass.db import dispose_engine, reading, writing
from robopass.lifecycle.rules import FROM_STATES, NEEDS_TO_ORGANIZATION
from robopass.robots.models import Unit
from robopass.stats import service as stats
from robopass.stats import supply
from tests.conftest import Registry
from tests.utils.api import ApiClient, Org

PLACES = (("110000", "110100"), ("440000", "440100"), ("310000", "310100"))
TYPES = ("battery_pack", "joint_actuator", "compute")
#: provincial scopes checked besides those holding units ("99": a province with none)
PREFIXES = ("11", "44", "31", "99")


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    stats.clear_cache()
    yield
    stats.clear_cache()


def scanned(session: Session, prefix: str | None) -> stats.SupplyFigures:
    """The oracle: the scan ``_compute_supply_chain`` ran before ``supply_counts`` existed
    (COUNT(DISTINCT unit_code) over ``components``, joined to ``units`` for a province)."""
    def scoped(q: Any) -> Any:
        if prefix:
            q = q.join(Unit, Unit.code == Component.unit_code).where(
                Unit.province.like(prefix + "%"))
        return q

    bound = Component.unit_code.is_not(None)
    units = func.count(func.distinct(Component.unit_code))
    rows = sorted((t, s, int(n)) for t, s, n in session.execute(scoped(
        select(Component.component_type, Component.supplier_id, units).where(bound)
        .group_by(Component.component_type, Component.supplier_id))))
    per_supplier = {s: int(n) for s, n in session.execute(scoped(
        select(Component.supplier_id, units).where(bound).group_by(Component.supplier_id)))}
    total = int(session.scalar(scoped(select(units).where(bound))) or 0)
    return stats.SupplyFigures(rows, per_supplier, total)


def assert_supply_exact(url: str) -> dict[supply.Key, int]:
    """The table equals the recount; every scope's figures and view equal the old scan's."""
    with reading(url) as session:
        assert supply.differences(session) == []
        stored = supply.stored(session)
        prefixes = {None, *PREFIXES} | {p for p, _t, _s in stored if p}
        for prefix in prefixes:
            old = scanned(session, prefix)
            assert stats.supply_figures(session, prefix) == old, prefix
            view = stats.supply_chain(session, actor=None,
                                      province=f"{prefix}0000" if prefix else None)
            assert view == stats.supply_chain_view(session, prefix, old), prefix
        return stored


class World:
    """Units, suppliers and the component serials used so far (to re-bind and to collide)."""

    def __init__(self, client: ApiClient, rng: random.Random, units: int = 4) -> None:
        self.client, self.rng = client, rng
        self.operator = client.org("operator", "seller")
        self.suppliers = [client.org("component_supplier", country=c, registration_number=c)
                          for c in ("JP", "DE")] + [client.org("manufacturer")]
        self.codes: list[str] = []
        for i, province in enumerate(("110000", "440000")):
            maker = client.org("manufacturer", province=province)
            self.codes += client.codes(maker, client.approved_model(maker), units,
                                       month=f"2026-0{i + 2}")
        self.serials: list[tuple[str, str, str]] = []  # (supplier, serial, type)

    def component(self, *, reuse: float = 0.25) -> dict[str, Any]:
        if self.serials and self.rng.random() < reuse:  # one used before: free or bound
            sid, serial, ctype = self.rng.choice(self.serials)
        else:
            sid, ctype = self.rng.choice(self.suppliers).id, self.rng.choice(TYPES)
            serial = f"S{len(self.serials)}"
            self.serials.append((sid, serial, ctype))
        return {"serial": serial, "type": ctype, "supplier_id": sid}

    def state(self) -> tuple[dict[str, str], dict[str, list[str]]]:
        with reading(self.client.registry.url) as session:
            status = dict(session.execute(select(Unit.code, Unit.status)
                                          .where(Unit.code.in_(self.codes))).all())
            fitted: dict[str, list[str]] = {}
            for code, serial in session.execute(select(Component.unit_code, Component.serial)
                                                .where(Component.unit_code.is_not(None))):
                fitted.setdefault(code, []).append(serial)
        return status, fitted  # type: ignore[return-value]


def _components_event(world: World, code: str, kind: str,
                      fitted: list[str]) -> dict[str, Any]:
    rng = world.rng
    if kind == "manufactured":
        return {"code": code, "type": kind, "details": {
            "components": [world.component() for _ in range(rng.randint(0, 3))]}}
    details: dict[str, Any] = {}
    if fitted and rng.random() < 0.7:
        details["removed"] = rng.choice(fitted)
    if not details or rng.random() < 0.7:
        details["installed"] = world.component()
    return {"code": code, "type": kind, "details": details}


def _event(world: World, code: str, status: str, fitted: list[str],
           recorded: dict[str, list[str]]) -> dict[str, Any] | None:
    rng = world.rng
    if recorded.get(code) and rng.random() < 0.12:
        return {"code": code, "type": "correction",
                "details": {"corrects": rng.choice(recorded[code]), "reason": "test"}}
    kinds = sorted(t for t, before in FROM_STATES.items()
                   if status in before and t != "recall_remedied")
    if not kinds:  # recycled or scrapped
        return None
    # the writes under test more often than the rest
    kinds += [k for k in ("component_replaced", "sold", "deployed", "recycled", "scrapped")
              if k in kinds] * 3
    kind = rng.choice(kinds)
    if kind in ("manufactured", "component_replaced"):
        return _components_event(world, code, kind, fitted)
    event: dict[str, Any] = {"code": code, "type": kind}
    if kind in NEEDS_TO_ORGANIZATION:
        event["to_organization"] = world.operator.id
    if kind == "firmware_updated":
        event["details"] = {"firmware": f"1.{rng.randint(0, 9)}"}
    if kind == "deployed":
        province, city = rng.choice(PLACES)
        event["details"] = {"scenario": "industrial", "province": province, "city": city}
    return event


@pytest.mark.parametrize("seed", [21, 22])
def test_supply_counts_equal_the_scan_after_random_event_sequences(client: ApiClient,
                                                                   seed: int) -> None:
    world = World(client, random.Random(seed))
    recorded: dict[str, list[str]] = {}
    accepted: dict[str, int] = {}
    for _step in range(60):
        status, fitted = world.state()
        picked = world.rng.sample(world.codes, world.rng.randint(1, 3))
        batch = [_event(world, c, status[c], fitted.get(c, []), recorded) for c in picked]
        if world.rng.random() < 0.3:  # the same unit twice in one batch
            batch.append(_event(world, picked[0], status[picked[0]],
                                fitted.get(picked[0], []), recorded))
        events = [e for e in batch if e is not None]
        if not events:
            continue
        r = client.post("/api/v1/events", {"events": events}, client.regulator)
        assert r.status_code in (201, 404, 409, 422), r.text
        if r.status_code == 201:
            for event in r.json()["events"]:
                recorded.setdefault(event["code"], []).append(event["id"])
                accepted[event["type"]] = accepted.get(event["type"], 0) + 1
        assert_supply_exact(client.registry.url)
    # the sequences did bind, swap and move (most batches are valid)
    assert {"manufactured", "component_replaced", "deployed"} <= set(accepted), accepted
    assert any(p for p, _t, _s in assert_supply_exact(client.registry.url))


def test_every_binding_path_and_province_move(client: ApiClient) -> None:
    """One unit through each write that changes its key set, checked after each; and the
    API's view for a provincial regulator."""
    world = World(client, random.Random(1), units=1)
    a, b = world.codes
    jp, de, _ = world.suppliers
    url = client.registry.url
    steps: list[tuple[Org, dict[str, Any]]] = [
        (client.regulator, {"code": a, "type": "manufactured", "details": {"components": [
            {"serial": "B1", "type": "battery_pack", "supplier_id": jp.id},
            {"serial": "J1", "type": "joint_actuator", "supplier_id": jp.id}]}}),
        (client.regulator, {"code": a, "type": "sold", "to_organization": world.operator.id}),
        (client.regulator, {"code": a, "type": "deployed", "details": {
            "scenario": "industrial", "province": "110000", "city": "110100"}}),
        (client.regulator, {"code": a, "type": "component_replaced", "details": {
            "removed": "B1", "installed": {"serial": "B2", "type": "battery_pack",
                                           "supplier_id": de.id}}}),
        (client.regulator, {"code": a, "type": "deployed", "details": {
            "scenario": "industrial", "province": "440000", "city": "440100"}}),
        # a correction of that move: the unit's province is replayed back to 11
        (client.regulator, {"code": a, "type": "correction", "details": {
            "corrects": 4, "reason": "test"}}),
        # the released B1 fitted to another unit: an existing component re-bound in a batch
        (client.regulator, {"code": b, "type": "manufactured", "details": {"components": [
            {"serial": "B1", "type": "battery_pack", "supplier_id": jp.id}]}}),
        (client.regulator, {"code": a, "type": "component_replaced", "details": {
            "removed": "J1"}}),
        (client.regulator, {"code": a, "type": "decommissioned"}),
        (client.regulator, {"code": a, "type": "scrapped"}),
        # a correction of b's manufacture: its bindings stay
        (client.regulator, {"code": b, "type": "correction", "details": {
            "corrects": 6, "reason": "test"}}),
    ]
    ids: list[str] = []
    provinces: list[set[str]] = []
    for org, event in steps:
        if event["type"] == "correction":
            event["details"]["corrects"] = ids[event["details"]["corrects"]]
        r = client.post("/api/v1/events", {"events": [event]}, org)
        assert r.status_code == 201, (event, r.text)
        ids.append(r.json()["events"][0]["id"])
        provinces.append({p for p, _t, _s in assert_supply_exact(url)})
    assert provinces[2] == {"11"} and provinces[4] == {"44"} and provinces[5] == {"11"}
    with reading(url) as session:
        assert supply.stored(session) == {("", "", ""): 1, ("", "", jp.id): 1,
                                          ("", "battery_pack", jp.id): 1}
    gd = client.org("regulator", scope_province="440000")
    body = client.get("/api/v1/stats/supply-chain", gd).json()
    assert body["scope"]["province"] == "440000" and body["units_with_components"] == 0
    national = client.get("/api/v1/stats/supply-chain", client.regulator).json()
    with reading(url) as session:
        assert national == stats.supply_chain_view(session, None, scanned(session, None))


def test_check_finds_a_difference_and_rebuild_repairs_it(client: ApiClient,
                                                         registry: Registry) -> None:
    world = World(client, random.Random(3), units=1)
    jp = world.suppliers[0]
    client.post("/api/v1/events", {"events": [{"code": world.codes[0], "type": "manufactured",
                                               "details": {"components": [
                                                   {"serial": "X1", "type": "compute",
                                                    "supplier_id": jp.id}]}}]},
                client.regulator)
    runner = CliRunner()
    result = runner.invoke(app, ["stats", "check", "--db", registry.url])
    assert result.exit_code == 0, result.output
    assert "supply counts OK" in result.output
    with writing(registry.url) as session:  # a write that bypassed the services
        session.execute(text("UPDATE components SET unit_code = NULL"))
    result = runner.invoke(app, ["stats", "check", "--db", registry.url])
    assert result.exit_code == 1
    assert "supply count MISMATCH" in result.output and jp.id in result.output
    result = runner.invoke(app, ["stats", "rebuild", "--db", registry.url])
    assert result.exit_code == 0, result.output
    assert "supply counts rebuilt: 0 rows" in result.output
    assert runner.invoke(app, ["stats", "check", "--db", registry.url]).exit_code == 0
    assert_supply_exact(registry.url)


def test_migration_0011_fills_the_table_by_recount(client: ApiClient,
                                                   registry: Registry) -> None:
    from alembic import command

    from robopass.schema import alembic_config

    world = World(client, random.Random(5), units=3)
    events = [{"code": c, "type": "manufactured", "details": {
        "components": [world.component(reuse=0) for _ in range(2)]}} for c in world.codes]
    r = client.post("/api/v1/events", {"events": events}, client.regulator)
    assert r.status_code == 201, r.text
    with reading(registry.url) as session:
        before = supply.stored(session)
    assert before
    dispose_engine(registry.url)
    command.downgrade(alembic_config(registry.url), "0010")
    command.upgrade(alembic_config(registry.url), "head")
    dispose_engine(registry.url)
    with reading(registry.url) as session:
        assert supply.stored(session) == before
    assert_supply_exact(registry.url)
