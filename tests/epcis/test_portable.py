"""Portable EPCIS (SPEC §16): one vocabulary namespace in every deployment, exported events
that never change, ``robopass:details`` as ``@json``, CBV destination parties, and a document
exported by one live registry captured by another for the same robot."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from typer.testing import CliRunner

from robopass.cli import app
from robopass.db import dispose_engine
from robopass.epcis.vocabulary import VOCAB_BASE
from tests.epcis.test_routes import _unit_with_history, _validator
from tests.federation.test_federation import _post, add_peer
from tests.utils.api import ApiClient, make_uscc
from tests.utils.peers import manufactured_robots
from tests.utils.server import running_server

runner = CliRunner()
NS = f"{VOCAB_BASE}/voc/"


def test_fixed_namespace_parties_and_schema(client: ApiClient) -> None:
    validator = _validator()
    buyer, code = _unit_with_history(client)
    doc = client.get(f"/api/v1/robots/{code}/epcis", buyer).json()  # type: ignore[arg-type]
    assert [e for e in validator.iter_errors(doc)] == []
    assert doc["@context"][1] == {"robopass": NS, "robopass:details": {"@type": "@json"}}
    assert NS == "https://w3id.org/robopass/voc/"  # documented; never the server's address
    events = {e["robopass:eventType"]: e for e in doc["epcisBody"]["eventList"]}
    assert events["deployed"]["bizStep"] == f"{VOCAB_BASE}/voc/bizstep/deployed"
    # event ids stay under the exporting registry's own address (they name its events)
    assert "/events/evt_" in events["sold"]["eventID"]
    assert not events["sold"]["eventID"].startswith(VOCAB_BASE)
    [party] = events["sold"]["destinationList"]
    assert party["type"] == "owning_party"
    assert party["destination"].startswith("urn:robopass:party:CN:")  # the buyer's USCC
    assert events["shipped"]["destinationList"][0]["type"] == "owning_party"


def test_exported_content_never_changes(client: ApiClient) -> None:
    maker, code = client.manufactured_unit()
    first = client.get(f"/api/v1/robots/{code}/epcis", maker).json()["epcisBody"]["eventList"]
    assert first[0]["disposition"] == "active"
    r = client.post("/api/v1/recalls", {"reason": "battery", "scope": {
        "serial_from": code, "serial_to": code}}, maker)
    assert r.status_code == 201, r.text
    recall_id = r.json()["id"]
    client.event(maker, code, "firmware_updated", details={"firmware": "9.9"})
    client.event(client.regulator, code, "suspended")
    client.event(maker, code, "recall_remedied", details={"recall_id": recall_id})
    client.event(client.regulator, code, "reinstated")
    later = client.get(f"/api/v1/robots/{code}/epcis", maker).json()["epcisBody"]["eventList"]
    assert later[0] == first[0]  # the recall opened after it: unchanged
    by_type = {e["robopass:eventType"]: e for e in later}
    assert by_type["suspended"]["disposition"] == "recalled"  # open when it was recorded
    assert "disposition" not in by_type["reinstated"]  # remedied before
    again = client.get(f"/api/v1/robots/{code}/epcis", maker).json()["epcisBody"]["eventList"]
    assert again == later


def test_document_from_one_registry_is_captured_by_another(registry, tmp_path: Path
                                                           ) -> None:  # type: ignore[no-untyped-def]
    de_url = f"sqlite:///{tmp_path / 'de.db'}"
    result = runner.invoke(app, ["init", "--db", de_url, "--country", "DE", "--json"])
    de_key = json.loads(result.output)["regulator_api_key"]
    dispose_engine(de_url)
    uscc = make_uscc()
    with running_server(de_url) as de, running_server(registry.url) as cn:
        maker, (code,) = manufactured_robots(de, de_key, 1)
        # CN imports it; the importer sells it to a CN company (known by its USCC)
        importer = _post(cn, "/api/v1/organizations", registry.regulator_key, {
            "name": "Importer", "roles": ["seller"], "country": "CN", "uscc": make_uscc()})
        buyer = _post(cn, "/api/v1/organizations", registry.regulator_key, {
            "name": "Buyer Co", "roles": ["operator"], "country": "CN", "uscc": uscc})
        add_peer(registry.url, "DE", de)
        result = runner.invoke(app, ["import-robot", "--db", registry.url, code, "--owner",
                                     importer["id"]])
        assert result.exit_code == 0, result.output
        _post(cn, f"/api/v1/robots/{code}/events", importer["api_key"],
              {"type": "sold", "to_organization": buyer["id"]})
        doc = httpx.get(f"{cn}/api/v1/robots/{code}/epcis",
                        headers={"Authorization": f"Bearer {buyer['api_key']}"}).json()
        assert doc["epcisBody"]["eventList"][0]["epcList"] == [f"{cn}/r/{code}"]
        # DE knows the same buyer by its USCC and captures CN's document for the same robot
        mirror = _post(de, "/api/v1/organizations", de_key, {
            "name": "Buyer Co (CN)", "roles": ["operator"], "country": "CN", "uscc": uscc})
        r = httpx.post(f"{de}/api/v1/epcis/capture", json=doc,
                       headers={"Authorization": f"Bearer {maker['api_key']}"})
        assert r.status_code == 201, r.text
        [captured] = r.json()["events"]
        assert captured["type"] == "sold" and captured["to_organization"] == mirror["id"]
        answer = httpx.get(f"{de}/api/v1/verify/{code}").json()
        assert answer["status"] == "sold"
        # a party this registry does not know: refused, naming the field
        doc["epcisBody"]["eventList"][0]["destinationList"][0]["destination"] = \
            "urn:robopass:party:CN:91110000000000000X"
        r = httpx.post(f"{de}/api/v1/epcis/capture", json=doc,
                       headers={"Authorization": f"Bearer {maker['api_key']}"})
        assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_party"
        assert r.json()["error"]["field"].endswith("destinationList[0].destination")
