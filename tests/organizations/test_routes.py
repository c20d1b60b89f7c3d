from __future__ import annotations

from tests.utils.api import ApiClient, make_uscc


def test_regulator_creates_manufacturer_with_company_code(client: ApiClient) -> None:
    r = client.post("/api/v1/organizations", {"name": "Unitree Robotics Co., Ltd.",
                                              "roles": ["manufacturer"], "country": "CN",
                                              "uscc": make_uscc()}, client.regulator)
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"id", "company_code", "api_key"}
    assert len(body["company_code"]) == 4 and not set(body["company_code"]) & set("IOQ")
    me = client.raw.get("/api/v1/organizations/me",
                        headers={"Authorization": f"Bearer {body['api_key']}"})
    assert me.status_code == 200 and me.json()["roles"] == ["manufacturer"]


def test_non_manufacturer_has_no_company_code(client: ApiClient) -> None:
    org = client.org("operator")
    assert org.company_code is None


def test_company_codes_are_distinct(client: ApiClient) -> None:
    codes = {client.org("manufacturer").company_code for _ in range(5)}
    assert len(codes) == 5


def test_cn_requires_valid_uscc(client: ApiClient) -> None:
    base = {"name": "Bad USCC Ltd", "roles": ["seller"], "country": "CN"}
    r = client.post("/api/v1/organizations", base, client.regulator)
    assert r.status_code == 422 and r.json()["error"]["field"] == "uscc"
    good = make_uscc()
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    r = client.post("/api/v1/organizations", {**base, "uscc": bad}, client.regulator)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_uscc"


def test_foreign_org_needs_registration_number(client: ApiClient) -> None:
    r = client.post("/api/v1/organizations", {"name": "Robo GmbH", "roles": ["seller"],
                                              "country": "DE"}, client.regulator)
    assert r.status_code == 422 and r.json()["error"]["field"] == "registration_number"
    r = client.post("/api/v1/organizations", {"name": "Robo GmbH", "roles": ["seller"],
                                              "country": "DE",
                                              "registration_number": "HRB 1234"},
                    client.regulator)
    assert r.status_code == 201


def test_bad_input_names_the_field(client: ApiClient) -> None:
    cases = [
        ({"name": "X", "roles": ["wizard"], "country": "DE", "registration_number": "1"},
         "roles"),
        ({"name": "X", "roles": ["seller"], "country": "XX", "registration_number": "1"},
         "country"),
        ({"name": "X", "roles": [], "country": "DE", "registration_number": "1"}, "roles"),
        ({"roles": ["seller"], "country": "DE", "registration_number": "1"}, "name"),
        ({"name": 5, "roles": ["seller"], "country": "DE", "registration_number": "1"}, "name"),
    ]
    for body, field in cases:
        r = client.post("/api/v1/organizations", body, client.regulator)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["field"] == field, (body, r.json())


def test_duplicate_name_conflicts_and_writes_nothing(client: ApiClient) -> None:
    body = {"name": "Same Name GmbH", "roles": ["seller"], "country": "DE",
            "registration_number": "HRB 1"}
    assert client.post("/api/v1/organizations", body, client.regulator).status_code == 201
    r = client.post("/api/v1/organizations", body, client.regulator)
    assert r.status_code == 409 and r.json()["error"]["code"] == "duplicate_organization"
    listed = client.get("/api/v1/organizations", client.regulator).json()
    assert [o["name"] for o in listed].count("Same Name GmbH") == 1


def test_only_regulator_creates_organizations(client: ApiClient) -> None:
    maker = client.org("manufacturer")
    r = client.post("/api/v1/organizations", {"name": "Sneaky", "roles": ["regulator"],
                                              "country": "DE", "registration_number": "1"}, maker)
    assert r.status_code == 403
    r = client.post("/api/v1/organizations", {"name": "Anon", "roles": ["seller"],
                                              "country": "DE", "registration_number": "1"})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "missing_api_key"


def test_bad_and_revoked_keys(client: ApiClient) -> None:
    r = client.raw.get("/api/v1/organizations/me", headers={"Authorization": "Bearer rp_x_y"})
    assert r.status_code == 401
    org = client.org("operator")
    new = client.post(f"/api/v1/organizations/{org.id}/keys", None, org)
    assert new.status_code == 201
    keys = client.get(f"/api/v1/organizations/{org.id}/keys", org).json()
    old_id = keys[0]["id"]
    r = client.raw.delete(f"/api/v1/organizations/{org.id}/keys/{old_id}", headers=org.auth)
    assert r.status_code == 204
    r = client.get("/api/v1/organizations/me", org)
    assert r.status_code == 401 and r.json()["error"]["code"] == "revoked_api_key"
    r = client.raw.get("/api/v1/organizations/me",
                       headers={"Authorization": f"Bearer {new.json()['api_key']}"})
    assert r.status_code == 200
