"""Parallel requests against a real server never duplicate a code or break a rule (SPEC §2, §12)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.conftest import Registry
from tests.utils.api import ApiClient
from tests.utils.server import running_server


def test_parallel_issuance_never_duplicates(client: ApiClient, registry: Registry) -> None:
    maker = client.org("manufacturer")
    model_id = client.approved_model(maker)
    before = client.ledger_size()  # the lab's accreditation and the approval are decisions
    with running_server(registry.url, workers=2) as base:
        def issue(_: int) -> list[str]:
            r = httpx.post(f"{base}/api/v1/models/{model_id}/codes", headers=maker.auth,
                           json={"count": 50, "plant": "P1", "production_month": "2026-04"},
                           timeout=60)
            assert r.status_code == 201, r.text
            return list(r.json()["codes"])

        with ThreadPoolExecutor(8) as pool:
            batches = list(pool.map(issue, range(16)))
        head = httpx.get(f"{base}/api/v1/ledger/head").json()
    codes = [c for b in batches for c in b]
    assert len(codes) == 800 and len(set(codes)) == 800
    sequences = sorted(int(c[20:28]) for c in codes)
    assert sequences == list(range(1, 801))
    assert head["size"] == before + 800


def test_two_simultaneous_sales_exactly_one_wins(client: ApiClient, registry: Registry) -> None:
    maker, code = client.manufactured_unit()
    buyers = [client.org("operator") for _ in range(6)]
    before = client.ledger_size()
    with running_server(registry.url, workers=2) as base:
        def sell(buyer_id: str) -> int:
            r = httpx.post(f"{base}/api/v1/robots/{code}/events", headers=maker.auth,
                           json={"type": "sold", "to_organization": buyer_id}, timeout=60)
            return r.status_code

        with ThreadPoolExecutor(6) as pool:
            statuses = list(pool.map(sell, [b.id for b in buyers]))
        events = httpx.get(f"{base}/api/v1/robots/{code}/events",
                           headers={"Authorization": f"Bearer {registry.regulator_key}"}).json()
        head = httpx.get(f"{base}/api/v1/ledger/head").json()
    assert statuses.count(201) == 1, statuses
    assert statuses.count(403) + statuses.count(409) == 5, statuses
    assert [e["type"] for e in events["events"]] == ["manufactured", "sold"]
    assert head["size"] == before + 1  # one more event, no gaps


def test_parallel_batches_keep_the_ledger_gap_free(client: ApiClient, registry: Registry) -> None:
    from typer.testing import CliRunner

    from robopass.cli import app

    maker = client.org("manufacturer")
    model_id = client.approved_model(maker)
    before = client.ledger_size()
    codes = client.codes(maker, model_id, 120)
    chunks = [codes[i:i + 20] for i in range(0, 120, 20)]
    with running_server(registry.url, workers=2) as base:
        def manufacture(chunk: list[str]) -> int:
            body = {"events": [{"code": c, "type": "manufactured"} for c in chunk]}
            return httpx.post(f"{base}/api/v1/events", json=body, headers=maker.auth,
                              timeout=60).status_code

        with ThreadPoolExecutor(6) as pool:
            # every chunk twice: each unit can be manufactured once, so exactly one wins
            statuses = list(pool.map(manufacture, chunks + chunks))
        head = httpx.get(f"{base}/api/v1/ledger/head").json()
    assert sorted(statuses) == [201] * 6 + [409] * 6
    assert head["size"] == before + 120 + 120
    result = CliRunner().invoke(app, ["ledger", "verify", "--db", registry.url])
    assert result.exit_code == 0, result.output
