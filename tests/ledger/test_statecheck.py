"""``robopass ledger verify`` re-folds every unit's events and compares the stored row (SPEC
§12, issue #12.3), on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from robopass.cli import app
from robopass.db import dispose_engine, get_engine
from tests.utils.api import DEPLOYMENT, ApiClient


def _registry_with_history(client: ApiClient) -> dict[str, str]:
    maker = client.org("manufacturer")
    seller = client.org("seller")
    operator = client.org("operator")
    model_id = client.approved_model(maker)
    codes = client.codes(maker, model_id, 3)
    for code in codes:
        client.event(maker, code, "manufactured", details={"province": "440000",
                                                          "city": "440300"})
    client.event(maker, codes[0], "shipped", to_organization=seller.id)
    client.event(seller, codes[0], "sold", to_organization=operator.id,
                 details={"province": "650000", "city": "650100"})
    client.event(operator, codes[0], "deployed", details=DEPLOYMENT)
    client.event(operator, codes[0], "firmware_updated", details={"firmware": "2.5.0"})
    r = client.post("/api/v1/recalls", {"reason": "battery", "scope": {"model_id": model_id}},
                    maker)
    assert r.status_code == 201, r.text
    return {"deployed": codes[0], "made": codes[1], "other": codes[2], "maker": maker.id,
            "operator": operator.id}


def _verify(url: str) -> tuple[int, str]:
    dispose_engine(url)
    result = CliRunner().invoke(app, ["ledger", "verify", "--db", url])
    return result.exit_code, result.output


def _tamper(url: str, sql: str, **params: str) -> None:
    with get_engine(url).begin() as conn:
        conn.execute(text(sql), params)


def test_untouched_states_verify(client: ApiClient) -> None:
    _registry_with_history(client)
    code, out = _verify(client.registry.url)
    assert code == 0, out
    assert "unit states OK: 3 units" in out


@pytest.mark.parametrize(("sql", "field"), [
    ("UPDATE units SET status = 'scrapped' WHERE code = :code", "status"),
    ("UPDATE units SET owner_id = :maker WHERE code = :code", "owner_id"),
    ("UPDATE units SET operator_id = NULL WHERE code = :code", "operator_id"),
    ("UPDATE units SET province = '110000' WHERE code = :code", "province"),
    ("UPDATE units SET firmware = '9.9.9' WHERE code = :code", "firmware"),
    ("UPDATE units SET open_recalls = 0 WHERE code = :code", "open_recalls"),
])
def test_forged_rows_fail_naming_unit_and_field(client: ApiClient, sql: str, field: str
                                                ) -> None:
    facts = _registry_with_history(client)
    _tamper(client.registry.url, sql, code=facts["deployed"], maker=facts["maker"])
    code, out = _verify(client.registry.url)
    assert code == 1, out
    assert f"unit {facts['deployed']}: {field}" in out
    assert facts["made"] not in out and facts["other"] not in out  # only the forged unit


def test_a_forged_scrapping_of_an_untouched_unit(client: ApiClient) -> None:
    facts = _registry_with_history(client)
    _tamper(client.registry.url, "UPDATE units SET status = 'scrapped', owner_id = NULL "
            "WHERE code = :code", code=facts["other"])
    code, out = _verify(client.registry.url)
    assert code == 1
    assert f"unit {facts['other']}: status is 'scrapped'" in out
    assert f"unit {facts['other']}: owner_id is None" in out
