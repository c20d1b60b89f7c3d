"""Shared by the policy, pilot and compliance tests: a unit sold to an operator, ready to
deploy."""

from __future__ import annotations

from typing import Any

from tests.utils.api import ApiClient, Org

WUHAN = {"scenario": "public_space", "province": "420000", "city": "420100"}
FACTORY = {"scenario": "industrial", "province": "440000", "city": "440300"}


def sold_units(client: ApiClient, count: int = 1, *, operator: Org | None = None,
               **model: Any) -> tuple[Org, Org, list[str]]:
    maker = client.org("manufacturer")
    operator = operator or client.org("operator")
    # evaluated level 2 (grades 2): below the default public-space policy's minimum of 3
    model_id = client.approved_model(maker, **{"intelligence_level": 2, **model})
    codes = client.codes(maker, model_id, count)
    for code in codes:
        client.event(maker, code, "manufactured", at="2026-03-10T08:00:00Z")
        client.event(maker, code, "sold", to_organization=operator.id,
                     at="2026-03-11T08:00:00Z")
    return maker, operator, codes


def put_policy(client: ApiClient, scenario: str, rules: dict[str, Any], org: Org | None = None,
               expect: int = 200, **extra: Any) -> Any:
    r = client.raw.put(f"/api/v1/policies/{scenario}",
                       json={"rules": rules, "reason": "test", **extra},
                       headers=(org or client.regulator).auth)
    assert r.status_code == expect, r.text
    return r.json()
