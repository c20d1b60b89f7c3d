"""``unit_counts`` equals a recount of ``units`` after every write: issuance, CSV import and
randomised sequences of lifecycle events (single, batched, corrections), on both databases;
``robopass stats check`` / ``rebuild`` find and repair a difference."""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from robopass import idcode
from robopass.cli import app
from robopass.db import reading, writing
from robopass.lifecycle.rules import FROM_STATES, NEEDS_TO_ORGANIZATION
from robopass.robots.models import Unit
from robopass.stats import counts
from robopass.stats import service as stats
from tests.conftest import Registry
from tests.utils.api import ApiClient, Org

#: events whose details name other records (recalls, components): not drawn here
NEEDS_MORE = frozenset({"recall_remedied", "component_replaced"})
@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    stats.clear_cache()
    yield
    stats.clear_cache()


PLACES = (("110000", "110100"), ("440000", "440100"), ("310000", "310100"))


def assert_counts_exact(client: ApiClient) -> dict[counts.Key, int]:
    with reading(client.registry.url) as session:
        assert counts.differences(session) == []
        return counts.stored(session)


def _event(rng: random.Random, code: str, status: str, operator: Org,
           recorded: dict[str, list[str]]) -> dict[str, Any] | None:
    if recorded.get(code) and rng.random() < 0.15:
        return {"code": code, "type": "correction",
                "details": {"corrects": rng.choice(recorded[code]), "reason": "test"}}
    kinds = sorted(t for t, before in FROM_STATES.items()
                   if status in before and t not in NEEDS_MORE)
    if not kinds:  # recycled or scrapped: nothing more happens to it
        return None
    kind = rng.choice(kinds)
    event: dict[str, Any] = {"code": code, "type": kind}
    if kind in NEEDS_TO_ORGANIZATION:
        event["to_organization"] = operator.id
    if kind == "firmware_updated":
        event["details"] = {"firmware": f"1.{rng.randint(0, 9)}"}
    if kind == "deployed":
        province, city = rng.choice(PLACES)
        event["details"] = {"scenario": rng.choice(("industrial", "logistics")),
                            "province": province, "city": city}
    return event


@pytest.mark.parametrize("seed", [11, 12])
def test_counts_equal_a_recount_after_random_event_sequences(client: ApiClient,
                                                             seed: int) -> None:
    rng = random.Random(seed)
    operator = client.org("operator", "seller")
    codes: list[str] = []
    for i, province in enumerate(("110000", "440000")):
        maker = client.org("manufacturer", province=province)
        codes += client.codes(maker, client.approved_model(maker), 4, month=f"2026-0{i + 2}")
    assert sum(assert_counts_exact(client).values()) == 8
    recorded: dict[str, list[str]] = {}
    accepted = 0
    for _step in range(40):
        with reading(client.registry.url) as session:
            status = dict(session.query(Unit.code, Unit.status).filter(Unit.code.in_(codes)))
        picked = rng.sample(codes, rng.randint(1, 3))
        batch = [_event(rng, code, status[code], operator, recorded) for code in picked]
        if rng.random() < 0.3:  # the same unit twice in one batch
            batch.append(_event(rng, picked[0], status[picked[0]], operator, recorded))
        batch = [e for e in batch if e is not None]
        if not batch:
            continue
        r = client.post("/api/v1/events", {"events": batch}, client.regulator)
        if r.status_code == 201:
            accepted += 1
            for event in r.json()["events"]:
                recorded.setdefault(event["code"], []).append(event["id"])
        assert_counts_exact(client)
    assert accepted >= 5  # the sequences did move units (most batches are valid)
    final = assert_counts_exact(client)
    assert sum(final.values()) == 8
    assert len({k[0] for k in final}) > 1  # units spread over several statuses


def test_csv_import_is_counted_with_its_provinces(client: ApiClient, registry: Registry,
                                                  tmp_path: Path) -> None:
    maker = client.org("manufacturer")
    model_id = client.approved_model(maker, hardware_class="B", intelligence_level=3)
    model = client.get(f"/api/v1/models/{model_id}", maker).json()
    prefix = idcode.prefix(country="CN", company=maker.company_code, model=model["model_code"],
                           year=2025, month=11, plant="L9", intelligence_level=3,
                           hardware_class="B")
    path = tmp_path / "units.csv"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["code", "province", "city", "firmware"])
        writer.writeheader()
        for i, code in enumerate(idcode.build_many(prefix, range(1, 5))):
            province, city = PLACES[i % 2] if i < 3 else ("", "")
            writer.writerow({"code": code, "province": province, "city": city,
                             "firmware": ""})
    result = CliRunner().invoke(app, ["import", "units", str(path), "--db", registry.url])
    assert result.exit_code == 0, result.output
    by_province: dict[str, int] = {}
    for k, n in assert_counts_exact(client).items():
        by_province[k[2]] = by_province.get(k[2], 0) + n
    assert by_province == {"110000": 2, "440000": 1, "": 1}


def test_check_finds_a_difference_and_rebuild_repairs_it(client: ApiClient,
                                                         registry: Registry) -> None:
    maker = client.org("manufacturer")
    code = client.codes(maker, client.approved_model(maker), 2)[0]
    runner = CliRunner()
    assert runner.invoke(app, ["stats", "check", "--db", registry.url]).exit_code == 0
    with writing(registry.url) as session:  # a write that bypassed the services
        session.execute(text("UPDATE units SET status = 'scrapped' WHERE code = :c"),
                        {"c": code})
    result = runner.invoke(app, ["stats", "check", "--db", registry.url])
    assert result.exit_code == 1
    assert "scrapped" in result.output
    result = runner.invoke(app, ["stats", "rebuild", "--db", registry.url])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["stats", "check", "--db", registry.url]).exit_code == 0
    overview = client.get("/api/v1/stats/overview", client.regulator).json()
    assert overview["units"]["by_status"]["scrapped"] == 1


def test_parallel_issuance_and_events_on_the_same_rows(client: ApiClient,
                                                       registry: Registry) -> None:
    """Issuance and event batches of one maker and month, in parallel through two workers,
    all update the same count rows: none waits forever (no lock cycle on PostgreSQL), none is
    lost."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from tests.utils.server import running_server

    maker = client.org("manufacturer")
    model_id = client.approved_model(maker)
    codes = client.codes(maker, model_id, 60, month="2026-04")
    chunks = [codes[i:i + 10] for i in range(0, 60, 10)]
    with running_server(registry.url, workers=2) as base:
        def work(i: int) -> int:
            if i % 2:
                r = httpx.post(f"{base}/api/v1/models/{model_id}/codes", headers=maker.auth,
                               json={"count": 20, "plant": "A1", "production_month": "2026-04"},
                               timeout=120)
            else:
                body = {"events": [{"code": c, "type": "manufactured"}
                                   for c in chunks[i // 2]]}
                r = httpx.post(f"{base}/api/v1/events", json=body, headers=maker.auth,
                               timeout=120)
            return r.status_code

        with ThreadPoolExecutor(6) as pool:
            statuses = list(pool.map(work, range(12)))
    assert statuses == [201] * 12
    final = assert_counts_exact(client)
    by_status: dict[str, int] = {}
    for k, n in final.items():
        by_status[k[0]] = by_status.get(k[0], 0) + n
    assert by_status == {"coded": 120, "manufactured": 60}


def test_the_demo_seed_leaves_exact_counts(tmp_path: Path) -> None:
    """The seed exercises every write path the demo has (issuance with a history, events,
    recalls, deployments by scenario and province): ``stats check`` agrees afterwards."""
    from robopass.db import dispose_engine

    url = f"sqlite:///{tmp_path / 'seeded.db'}"
    runner = CliRunner()
    result = runner.invoke(app, ["seed", "--db", url, "--units", "400", "--keys-file",
                                 str(tmp_path / "keys.json")])
    assert result.exit_code == 0, result.output
    check = runner.invoke(app, ["stats", "check", "--db", url])
    assert check.exit_code == 0, check.output
    with reading(url) as session:
        stored = counts.stored(session)
    assert sum(stored.values()) == 400
    assert len({k[0] for k in stored}) >= 3 and len({k[2] for k in stored}) >= 3
    dispose_engine(url)
