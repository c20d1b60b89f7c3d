"""Accredited labs, evaluations and approval resting on them (SPEC §13), both databases."""

from __future__ import annotations

import base64
import json

from robopass import idcode
from tests.utils.api import ApiClient, evaluation_body, model_body


def _filed(client: ApiClient, maker=None, **over):  # type: ignore[no-untyped-def]
    maker = maker or client.org("manufacturer")
    r = client.post("/api/v1/models", model_body(**over), maker)
    assert r.status_code == 201, r.text
    return maker, r.json()["id"]


def test_accredited_lab_evaluates_and_approval_sets_the_level_digit(client: ApiClient) -> None:
    maker, model_id = _filed(client, intelligence_level=4)  # the maker claims 4
    lab = client.lab()
    r = client.post(f"/api/v1/models/{model_id}/evaluations",
                    evaluation_body(2, grades={"perception": 2, "decision": 2, "execution": 3,
                                               "collaboration": 1}), lab)
    assert r.status_code == 201, r.text
    created = r.json()
    assert set(created) == {"id", "model_id", "model_version", "overall"}
    assert created["model_id"] == model_id and created["model_version"] == 1
    assert created["overall"] == 2
    shown = client.get(f"/api/v1/models/{model_id}", maker).json()
    assert shown["evaluation"]["lab_id"] == lab.id and shown["evaluation"]["overall"] == 2
    assert shown["evaluation"]["grades"] == {"perception": 2, "decision": 2, "execution": 3,
                                             "collaboration": 1}
    assert shown["evaluation"]["evaluated_at"] and shown["evaluated_level"] is None
    r = client.post(f"/api/v1/models/{model_id}/approve", None, client.regulator)
    assert r.status_code == 200 and r.json()["evaluated_level"] == 2
    code = client.codes(maker, model_id, 1)[0]
    assert idcode.parse(code).intelligence_level == 2  # evaluated, not claimed
    # the public answer and the passport name the evaluated level, the lab and the date
    lab_name = shown["evaluation"]["lab_name"]
    verified = client.get(f"/api/v1/verify/{code}").json()
    assert verified["model"]["evaluation"] == {
        "level": 2, "lab": lab_name, "evaluated_on": shown["evaluation"]["evaluated_at"][:10]}
    jws = client.get(f"/api/v1/robots/{code}/passport").json()["passport"]
    payload = jws.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["model"]["evaluation"]["lab"] == lab_name


def test_approval_needs_a_current_passing_evaluation(client: ApiClient) -> None:
    maker, model_id = _filed(client)
    reg = client.regulator
    r = client.post(f"/api/v1/models/{model_id}/approve", None, reg)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "evaluation_required"
    assert r.json()["error"]["field"] == "evaluation"
    assert r.json()["error"]["problem"] == "missing"
    lab = client.lab()
    failed = evaluation_body(3, safety_tests=[{"standard": "ISO 13482:2014", "result": "pass"},
                                              {"standard": "GB/T 36530", "result": "fail"}])
    client.evaluate(model_id, lab, expect=201, **{k: v for k, v in failed.items()
                                                   if k != "overall"})
    r = client.post(f"/api/v1/models/{model_id}/approve", None, reg)
    assert r.status_code == 409 and r.json()["error"]["problem"] == "safety_failed"
    assert "GB/T 36530" in r.json()["error"]["message"]
    assert client.get(f"/api/v1/models/{model_id}", reg).json()["status"] == "submitted"
    client.evaluate(model_id, lab, overall=3)  # a later, passing evaluation is current
    r = client.post(f"/api/v1/models/{model_id}/approve", None, reg)
    assert r.status_code == 200, r.text


def test_only_accredited_labs_within_scope_and_validity(client: ApiClient) -> None:
    maker, model_id = _filed(client)
    body = evaluation_body(3)
    plain = client.org("testing_lab")  # never accredited
    r = client.post(f"/api/v1/models/{model_id}/evaluations", body, plain)
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_accredited"
    assert r.json()["error"]["field"] == "grades"
    intelligence_only = client.lab(scopes=("intelligence",))
    r = client.post(f"/api/v1/models/{model_id}/evaluations", body, intelligence_only)
    assert r.status_code == 403 and r.json()["error"]["field"] == "safety_tests"
    lapsed = client.lab()
    with_date = client.post(f"/api/v1/organizations/{lapsed.id}/accreditation",
                            {"scopes": ["safety"], "valid_until": "2020-01-01"},
                            client.regulator)
    assert with_date.status_code == 422 and with_date.json()["error"]["field"] == "valid_until"
    r = client.post(f"/api/v1/models/{model_id}/evaluations", body, maker)
    assert r.status_code == 403 and r.json()["error"]["code"] == "testing_lab_only"
    r = client.post(f"/api/v1/organizations/{maker.id}/accreditation",
                    {"scopes": ["safety"], "valid_until": "2030-01-01"}, client.regulator)
    assert r.status_code == 422 and r.json()["error"]["code"] == "not_a_testing_lab"
    r = client.post(f"/api/v1/organizations/{lapsed.id}/accreditation",
                    {"scopes": ["safety"], "valid_until": "2030-01-01"}, lapsed)
    assert r.status_code == 403
    assert client.get(f"/api/v1/models/{model_id}/evaluations", maker).json() == []


def test_bad_evaluations_name_their_field(client: ApiClient) -> None:
    _, model_id = _filed(client)
    lab = client.lab()
    cases = {
        "overall": evaluation_body(3, overall=5),  # above every grade
        "valid_until": evaluation_body(3, valid_until="2001-01-01"),
        "report_sha256": evaluation_body(3, report_sha256="xyz"),
        "grades.perception": evaluation_body(3, grades={"perception": 6, "decision": 3,
                                                        "execution": 3, "collaboration": 3}),
    }
    for field, body in cases.items():
        r = client.post(f"/api/v1/models/{model_id}/evaluations", body, lab)
        assert r.status_code == 422, (field, r.text)
        assert r.json()["error"]["field"].startswith(field), (field, r.json())
    assert client.get(f"/api/v1/models/{model_id}/evaluations",
                      client.regulator).json() == []  # nothing half-written


def test_an_expired_evaluation_blocks_approval_but_not_issued_codes(client: ApiClient) -> None:
    """An evaluation past its validity is still shown (``expired``); issued codes keep their
    level; a new approval needs a fresh one."""
    from datetime import date

    from robopass.db import writing
    from robopass.product_models.models import ModelEvaluation

    maker = client.org("manufacturer")
    model_id = client.approved_model(maker, intelligence_level=3)
    code = client.codes(maker, model_id, 1)[0]
    with writing(client.registry.url) as session:
        for row in session.query(ModelEvaluation).filter_by(model_id=model_id):
            row.valid_until = date(2024, 1, 1)
    shown = client.get(f"/api/v1/models/{model_id}", maker).json()
    assert shown["evaluation"]["expired"] is True and shown["evaluated_level"] == 3
    assert client.get(f"/api/v1/verify/{code}").json()["registered"]
    reg = client.regulator
    assert client.post(f"/api/v1/models/{model_id}/suspend", None, reg).status_code == 200
    r = client.post(f"/api/v1/models/{model_id}/approve", None, reg)
    assert r.status_code == 409 and r.json()["error"]["problem"] == "expired"
