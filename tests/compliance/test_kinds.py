"""Each finding kind opens and resolves by itself, judged at chosen instants (SPEC §14), and
the filing's certifications are validated (SPEC §13)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from robopass.compliance import service
from robopass.db import writing
from tests.pilots.test_pilots import open_pilot
from tests.utils.api import ApiClient, Org, model_body
from tests.utils.regulation import FACTORY, WUHAN, put_policy

SHOP = {"scenario": "commercial_service", "province": "440000", "city": "440300"}


def scan_at(client: ApiClient, when: str) -> service.ScanReport:
    with writing(client.registry.url) as session:
        return service.run_scan(session, now=datetime.fromisoformat(when).replace(tzinfo=UTC))


def open_kinds(client: ApiClient, code: str) -> set[str]:
    r = client.get("/api/v1/compliance/findings", client.regulator,
                   params={"code": code, "open": "true"})
    assert r.status_code == 200, r.text
    return {f["kind"] for f in r.json()["findings"]} - {"telemetry_gap"}


def sold(client: ApiClient, **model: Any) -> tuple[Org, Org, str, str]:
    maker, operator = client.org("manufacturer"), client.org("operator")
    model_id = client.approved_model(maker, **model)
    [code] = client.codes(maker, model_id, 1)
    client.event(maker, code, "manufactured", at="2026-03-10T08:00:00Z")
    client.event(maker, code, "sold", to_organization=operator.id, at="2026-03-11T08:00:00Z")
    return maker, operator, model_id, code


def test_an_expired_certification_on_the_filing_is_certification_expired(
        client: ApiClient) -> None:
    _maker, operator, _mid, code = sold(client, certifications=[
        {"name": "ISO 10218-1:2011", "valid_until": "2027-06-30"}, "GB/T 44840"])
    r = client.get(f"/api/v1/models/{_mid}", client.regulator)
    assert {"name": "ISO 10218-1:2011", "valid_until": "2027-06-30"} in r.json()["certifications"]
    put_policy(client, "industrial", {"required_certifications": ["ISO 10218-1", "GB/T 44840"],
                                      "max_telemetry_interval_s": 600})
    client.event(operator, code, "deployed", details=FACTORY)
    scan_at(client, "2027-06-30T12:00:00")
    assert open_kinds(client, code) == set()  # valid through its last day
    scan_at(client, "2027-07-01T00:00:01")
    assert open_kinds(client, code) == {"certification_expired"}
    [finding] = client.get("/api/v1/compliance/findings", client.regulator,
                           params={"kind": "certification_expired"}).json()["findings"]
    assert "expired on 2027-06-30" in finding["detail"] and finding["code"] == code
    put_policy(client, "industrial", {"required_certifications": ["GB/T 44840"]})
    report = scan_at(client, "2027-07-02T00:00:00")
    assert open_kinds(client, code) == set() and report.resolved >= 1


def test_a_certification_only_the_evaluation_vouched_for_lapses_as_evaluation_expired(
        client: ApiClient) -> None:
    _maker, operator, model_id, code = sold(client)
    put_policy(client, "commercial_service", {"required_certifications": ["ISO 13482"],
                                              "requires_evaluation_within_days": 3650})
    client.event(operator, code, "deployed", details=SHOP)
    scan_at(client, "2030-06-30T23:00:00")
    assert open_kinds(client, code) == set()
    scan_at(client, "2030-07-01T00:00:01")  # the evaluation (valid to 2030-06-30) lapsed
    assert open_kinds(client, code) == {"evaluation_expired"}
    client.evaluate(model_id, valid_until="2032-12-31")
    scan_at(client, "2030-07-02T00:00:00")
    assert open_kinds(client, code) == set()


def test_a_required_certification_the_model_never_held_is_a_policy_change(
        client: ApiClient) -> None:
    _maker, operator, _mid, code = sold(client)
    client.event(operator, code, "deployed", details=FACTORY)
    put_policy(client, "industrial", {"required_certifications": ["ISO 10218-1"]})
    scan_at(client, "2027-01-01T00:00:00")
    assert open_kinds(client, code) == {"policy_changed"}
    client.event(operator, code, "transferred", to_organization=client.org("operator").id)
    scan_at(client, "2027-01-02T00:00:00")  # out of service: nothing to judge
    assert open_kinds(client, code) == set()


def test_pilot_ended_resolves_when_the_unit_leaves_service(client: ApiClient) -> None:
    _maker, operator, _mid, code = sold(client)
    pilot = open_pilot(client, [operator.id], rules={})
    client.event(operator, code, "deployed", details=WUHAN)
    scan_at(client, "2027-06-01T00:00:00")
    assert open_kinds(client, code) == set()
    scan_at(client, "2028-01-01T00:00:00")  # the pilot ran to 2027-12-31
    assert open_kinds(client, code) == {"pilot_ended"}
    r = client.get(f"/api/v1/pilots/{pilot['id']}")
    assert r.status_code == 200
    client.event(operator, code, "transferred", to_organization=client.org("operator").id)
    scan_at(client, "2028-01-02T00:00:00")
    assert open_kinds(client, code) == set()


def test_the_filing_validates_certification_entries(client: ApiClient) -> None:
    maker = client.org("manufacturer")
    for bad, where in (([{"name": "ISO 13482", "valid_until": "soon"}], "valid_until"),
                       ([{"valid_until": "2030-01-01"}], "name"),
                       ([{"name": "", "valid_until": "2030-01-01"}], "name"),
                       ([{"name": "ISO 13482", "valid_until": "2030-01-01", "x": 1}], "x"),
                       ([""], "name"), ([42], "certifications")):
        r = client.post("/api/v1/models", model_body(certifications=bad), maker)
        assert r.status_code == 422, (bad, r.text)
        error = r.json()["error"]
        assert error["field"].startswith("certifications[0]"), error
        assert where in error["field"] or where == "certifications", error
    r = client.post("/api/v1/models", model_body(certifications=[
        "GB/T 44840", {"name": "ISO 13482:2014", "valid_until": "2030-01-01"},
        {"name": "ISO 10218-1"}]), maker)
    assert r.status_code == 201, r.text
    r = client.get(f"/api/v1/models/{r.json()['id']}", maker)
    assert r.json()["certifications"] == [
        "GB/T 44840", {"name": "ISO 13482:2014", "valid_until": "2030-01-01"}, "ISO 10218-1"]
