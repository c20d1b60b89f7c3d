"""Dashboard figures of differentiated regulation, and the public scenario (SPEC §14)."""

from __future__ import annotations

from tests.compliance.test_findings import ago, scan
from tests.pilots.test_pilots import open_pilot
from tests.utils.api import ApiClient
from tests.utils.regulation import FACTORY, WUHAN, sold_units


def test_units_by_scenario_findings_by_kind_and_pilots(client: ApiClient) -> None:
    _maker, operator, codes = sold_units(client, 3)
    pilot = open_pilot(client, [operator.id], rules={})
    client.event(operator, codes[0], "deployed", details=FACTORY, at=ago(hours=1))
    client.event(operator, codes[1], "deployed", details=FACTORY, at=ago(hours=1))
    client.event(operator, codes[2], "deployed", details=WUHAN)
    scan(client)
    body = client.get("/api/v1/stats/regulation", client.regulator).json()
    assert body["units_by_scenario"] == [
        {"scenario": "industrial", "province": "440000", "units": 2},
        {"scenario": "public_space", "province": "420000", "units": 1}]
    assert body["open_findings_by_kind"]["telemetry_gap"] == 2
    assert body["open_findings_by_kind"]["pilot_ended"] == 0
    [listed] = body["pilots"]
    assert listed["id"] == pilot["id"] and listed["units_in_service"] == 1
    hubei = client.org("regulator", scope_province="420000")
    mine = client.get("/api/v1/stats/regulation", hubei).json()
    assert mine["units_by_scenario"] == [
        {"scenario": "public_space", "province": "420000", "units": 1}]
    assert mine["open_findings_by_kind"]["telemetry_gap"] == 0
    assert client.get("/api/v1/stats/regulation", operator).status_code == 403
    # the public verification names the scenario, never the operator or the place
    public = client.get(f"/api/v1/verify/{codes[2]}").json()
    assert public["scenario"] == "public_space"
    assert operator.id not in str(public) and "420100" not in str(public)
