"""Search: a mistyped code finds the registered one, organisations by name in either language,
components by serial and batch — each hit filtered by what the organisation may see."""

from __future__ import annotations

from typing import Any

from tests.utils.api import ApiClient
from tests.web.app_helpers import browser_for

from robopass import idcode


def app_of(client: ApiClient) -> Any:
    return client.raw.app


def test_search_is_typo_tolerant_and_filtered(sqlite_client: ApiClient) -> None:
    client = sqlite_client
    maker = client.org("manufacturer")
    supplier = client.org("component_supplier")
    rival = client.org("manufacturer")
    model_id = client.approved_model(maker)
    code = client.codes(maker, model_id, 1)[0]
    client.event(maker, code, "manufactured", at="2026-03-10T08:00:00Z", details={
        "components": [{"serial": "BP-SEARCH-1", "type": "battery_pack",
                        "supplier_id": supplier.id, "batch": "LOT-77"}]})
    typo = code[:20] + ("1" if code[20] != "1" else "2") + code[21:]
    assert not idcode.is_valid(typo)
    own = browser_for(app_of(client), maker.key)
    page = own.get(f"/app/search?q={typo}").text
    assert 'data-testid="suggestion"' in page and f'href="/app/units/{code}"' in page
    # the rival finds the robot but only its public page, and not its components
    other = browser_for(app_of(client), rival.key).get(f"/app/search?q={code}").text
    assert f'href="/r/{code}"' in other and f'href="/app/units/{code}"' not in other
    assert "BP-SEARCH-1" not in browser_for(app_of(client), rival.key).get(
        "/app/search?q=BP-SEARCH").text
    # the supplier and the maker find the component by serial prefix and by batch
    for org in (supplier, maker):
        c = browser_for(app_of(client), org.key)
        assert "BP-SEARCH-1" in c.get("/app/search?q=BP-SEARCH").text
        assert "BP-SEARCH-1" in c.get("/app/search?q=LOT-77").text
    # organisations by name, and by Chinese name once given (PATCH by the regulator)
    r = client.patch(f"/api/v1/organizations/{maker.id}", {"name_zh": "星河机器人"},
                     client.regulator)
    assert r.status_code == 200, r.text
    reg = browser_for(app_of(client), client.registry.regulator_key)
    assert 'data-testid="org-results"' in reg.get("/app/search?q=星河").text
