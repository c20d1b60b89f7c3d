"""The request bodies the README's example flow posts (docs/examples/) are accepted as is."""

from __future__ import annotations

import json
from pathlib import Path

from tests.utils.api import ApiClient

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"


def test_readme_flow_with_the_example_bodies(sqlite_client: ApiClient) -> None:
    client = sqlite_client
    org = json.loads((EXAMPLES / "organization.json").read_text())
    r = client.post("/api/v1/organizations", org, client.regulator)
    assert r.status_code == 201, r.text
    maker = {"Authorization": f"Bearer {r.json()['api_key']}"}
    model = json.loads((EXAMPLES / "model.json").read_text())
    r = client.raw.post("/api/v1/models", json=model, headers=maker)
    assert r.status_code == 201, r.text
    model_id = r.json()["id"]
    lab = client.lab()
    evaluation = json.loads((EXAMPLES / "evaluation.json").read_text())
    r = client.post(f"/api/v1/models/{model_id}/evaluations", evaluation, lab)
    assert r.status_code == 201, r.text
    r = client.post(f"/api/v1/models/{model_id}/approve", None, client.regulator)
    assert r.status_code == 200, r.text
    r = client.raw.post(f"/api/v1/models/{model_id}/codes", headers=maker,
                        json={"count": 100, "plant": "A1", "production_month": "2026-03"})
    assert r.status_code == 201 and len(r.json()["codes"]) == 100, r.text
    code = r.json()["codes"][0]
    r = client.raw.post(f"/api/v1/robots/{code}/events", json={"type": "manufactured"},
                        headers=maker)
    assert r.status_code == 201, r.text
    verified = client.raw.get(f"/api/v1/verify/{code}").json()
    assert verified["registered"] and verified["status"] == "manufactured"
