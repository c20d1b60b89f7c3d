from __future__ import annotations

from tests.utils.api import ApiClient, model_body


def test_file_and_approve(client: ApiClient) -> None:
    maker = client.org("manufacturer")
    r = client.post("/api/v1/models", model_body("Walker X"), maker)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "submitted" and len(body["model_code"]) == 6
    client.evaluate(body["id"])
    r = client.post(f"/api/v1/models/{body['id']}/approve", None, client.regulator)
    assert r.status_code == 200 and r.json()["status"] == "approved"


def test_only_manufacturer_files_and_only_regulator_decides(client: ApiClient) -> None:
    seller = client.org("seller")
    assert client.post("/api/v1/models", model_body(), seller).status_code == 403
    maker = client.org("manufacturer")
    model_id = client.post("/api/v1/models", model_body(), maker).json()["id"]
    r = client.post(f"/api/v1/models/{model_id}/approve", None, maker)
    assert r.status_code == 403


def test_decision_transitions(client: ApiClient) -> None:
    maker = client.org("manufacturer")
    model_id = client.post("/api/v1/models", model_body(), maker).json()["id"]
    reg = client.regulator
    assert client.post(f"/api/v1/models/{model_id}/suspend", None, reg).status_code == 409
    assert client.post(f"/api/v1/models/{model_id}/reject", {"reason": "incomplete"},
                       reg).json()["status"] == "rejected"
    r = client.post(f"/api/v1/models/{model_id}/approve", None, reg)
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_model_transition"
    other = client.approved_model(maker)
    assert client.post(f"/api/v1/models/{other}/suspend", None, reg).json()["status"] == \
        "suspended"
    assert client.post(f"/api/v1/models/{other}/revoke", None, reg).json()["status"] == "revoked"


def test_invalid_model_input_names_field(client: ApiClient) -> None:
    maker = client.org("manufacturer")
    cases = {
        "hardware_class": model_body(hardware_class="Z"),
        "intelligence_level": model_body(intelligence_level=7),
        "parameters.height_cm": model_body(parameters={"height_cm": -3, "mass_kg": 1,
                                                       "degrees_of_freedom": 3}),
        "components": model_body(components=[]),
    }
    for field, body in cases.items():
        r = client.post("/api/v1/models", body, maker)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["field"].startswith(field), (field, r.json())
    small = model_body(hardware_class="S")  # 172 cm is not small
    assert client.post("/api/v1/models", small, maker).status_code == 422
    bad_supplier = model_body(components=[{"type": "battery_pack", "name": "B",
                                           "supplier_id": "org_nope"}])
    r = client.post("/api/v1/models", bad_supplier, maker)
    assert r.status_code == 422 and r.json()["error"]["field"] == "components[0].supplier_id"


def test_duplicate_model_name(client: ApiClient) -> None:
    maker = client.org("manufacturer")
    assert client.post("/api/v1/models", model_body("Same"), maker).status_code == 201
    r = client.post("/api/v1/models", model_body("Same"), maker)
    assert r.status_code == 409


def test_model_visibility(client: ApiClient) -> None:
    maker, other = client.org("manufacturer"), client.org("manufacturer")
    model_id = client.post("/api/v1/models", model_body(), maker).json()["id"]
    assert client.get(f"/api/v1/models/{model_id}", maker).status_code == 200
    assert client.get(f"/api/v1/models/{model_id}", other).status_code == 404
    assert client.get(f"/api/v1/models/{model_id}", client.regulator).status_code == 200
