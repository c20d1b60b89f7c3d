"""EPCIS 2.0 export/capture: schema validity, round trip, GS1 examples, refusals, fuzzing."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from robopass.epcis import document as doc_module
from robopass.epcis.document import (
    EPCIS_CONTEXT_URL,
    EVENT_MAPPING,
    EVENT_TYPES,
    MAX_CAPTURE_EVENTS,
    CapturedEvent,
    EpcisError,
    EventRecord,
    build_document,
    parse_capture,
    robot_code_from_epc,
)
from robopass.epcis.vocabulary import is_uri

REF_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "ref" / "epcis"
BASE = "https://registry.example.cn"
CODE = "CNA1B2C3D4E52405P13B000000017"
ROBOT_URI = f"{BASE}/r/{CODE}"
T0 = datetime(2024, 5, 1, 8, 30, tzinfo=UTC)


# --- fixtures -------------------------------------------------------------------------------


def _ref_dir() -> Path:
    if not (REF_DIR / "EPCIS-JSON-Schema.json").is_file():
        message = (
            f"GS1 EPCIS reference data not found at {REF_DIR} (expected the official "
            "EPCIS-JSON-Schema.json and examples, see shared/ref/epcis/SOURCE.md)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return REF_DIR


@pytest.fixture(scope="module")
def validator() -> Any:
    from jsonschema import Draft7Validator, FormatChecker

    schema = json.loads((_ref_dir() / "EPCIS-JSON-Schema.json").read_text(encoding="utf-8"))
    checker = FormatChecker()
    # without the format-nongpl extras, "uri"/"date-time" would silently pass anything
    assert not checker.conforms("not a uri", "uri"), "install jsonschema[format-nongpl]"
    assert not checker.conforms("2024-01-01T00:00:00", "date-time")
    return Draft7Validator(schema, format_checker=checker)


def _assert_valid(validator: Any, document: dict[str, Any]) -> None:
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]


def _example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((_ref_dir() / "examples" / name).read_text(encoding="utf-8"))
    return data


def _details_for(event_type: str) -> dict[str, Any]:
    return {
        "shipped": {"carrier": "SF Express"},
        "firmware_updated": {"firmware": "2.4.1", "provider": "org-soft"},
        "component_replaced": {"removed": "BAT-1", "installed": "BAT-2"},
        "recall_remedied": {"recall_id": "rc-7"},
        "suspended": {"reason": "safety inspection"},
        "correction": {"corrects": "ev-2", "reason": "wrong buyer"},
        "maintenance_started": {
            "work_order": "WO-1",
            "read_point": "urn:epc:id:sgln:0614141.07346.1234",
        },
    }.get(event_type, {})


def _record(event_type: str, index: int = 0, **overrides: Any) -> EventRecord:
    fields: dict[str, Any] = {
        "id": f"ev-{index}",
        "code": CODE,
        "type": event_type,
        "at": T0 + timedelta(days=index, microseconds=123456 * (index % 2)),
        "recorded_at": T0 + timedelta(days=index, seconds=2),
        "organization": "org-maker",
        "to_organization": "org-buyer"
        if event_type in ("shipped", "sold", "transferred")
        else None,
        "details": _details_for(event_type),
        "ledger_index": 100 + index,
    }
    fields.update(overrides)
    return EventRecord(**fields)


def _all_events() -> list[EventRecord]:
    return [_record(t, i) for i, t in enumerate(EVENT_TYPES)]


def _build(events: list[EventRecord], **kwargs: Any) -> dict[str, Any]:
    return build_document(
        robot_uri=kwargs.pop("robot_uri", ROBOT_URI),
        events=events,
        created_at=kwargs.pop("created_at", T0 + timedelta(days=60)),
        vocab_base=kwargs.pop("vocab_base", BASE),
        **kwargs,
    )


def _parse(document: Any) -> list[CapturedEvent]:
    return parse_capture(document, vocab_base=BASE)


def _third_party(*events: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": [EPCIS_CONTEXT_URL],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2024-06-01T00:00:00Z",
        "epcisBody": {"eventList": list(events)},
    }


def _tp_event(**fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "action": "OBSERVE",
        "eventTime": "2024-06-01T10:00:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "epcList": [ROBOT_URI],
    }
    event.update(fields)
    return {k: v for k, v in event.items() if v is not None}


# --- the mapping ----------------------------------------------------------------------------


def test_mapping_covers_exactly_the_spec_event_types() -> None:
    assert len(EVENT_TYPES) == 18
    assert set(EVENT_MAPPING) == set(EVENT_TYPES)


def test_docstring_table_matches_the_constant() -> None:
    doc = doc_module.__doc__ or ""
    rows = {}
    for line in doc.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 4 and cells[0] in EVENT_MAPPING:
            rows[cells[0]] = tuple(cells[1:])
    expected = {
        name: (
            m.action,
            m.biz_step.label("bizstep"),
            "—" if m.disposition is None else m.disposition.label("disp"),
        )
        for name, m in EVENT_MAPPING.items()
    }
    assert rows == expected


def test_spec_section_4_mapping_sentence() -> None:
    document = _build(_all_events())
    by_type = {e["robopass:eventType"]: e for e in document["epcisBody"]["eventList"]}
    assert by_type["manufactured"]["bizStep"] == "commissioning"
    assert by_type["manufactured"]["disposition"] == "active"
    assert by_type["manufactured"]["action"] == "ADD"
    assert by_type["shipped"]["bizStep"] == "shipping"
    assert by_type["shipped"]["disposition"] == "in_transit"
    assert by_type["sold"]["bizStep"] == "retail_selling"
    assert by_type["sold"]["disposition"] == "retail_sold"
    assert by_type["maintenance_started"]["bizStep"] == "repairing"
    assert by_type["maintenance_completed"]["bizStep"] == "repairing"
    assert by_type["component_replaced"]["bizStep"] == "replacing"
    assert by_type["decommissioned"]["bizStep"] == "decommissioning"
    assert by_type["scrapped"]["bizStep"] == "destroying"
    assert by_type["scrapped"]["disposition"] == "destroyed"
    assert by_type["recycled"]["bizStep"] == f"{BASE}/voc/bizstep/recycled"
    assert by_type["deployed"]["bizStep"] == f"{BASE}/voc/bizstep/deployed"
    assert by_type["suspended"]["disposition"] == f"{BASE}/voc/disp/suspended"
    for event_type, event in by_type.items():
        assert event["action"] == ("ADD" if event_type == "manufactured" else "OBSERVE")


# --- schema validity ------------------------------------------------------------------------


@pytest.mark.parametrize("recalled", [False, True], ids=["normal", "recalled"])
@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_each_event_type_validates_against_gs1_schema(
    validator: Any, event_type: str, recalled: bool
) -> None:
    document = _build([_record(event_type, 3, recalled=recalled)])
    _assert_valid(validator, document)
    (event,) = document["epcisBody"]["eventList"]
    if recalled and event_type not in ("recycled", "scrapped"):
        assert event["disposition"] == "recalled"
    elif recalled:
        assert event["disposition"] == "destroyed"


def test_full_history_validates_against_gs1_schema(validator: Any) -> None:
    events = _all_events()
    events[2] = _record("sold", 2, corrected=True)  # voided by the correction (corrects ev-2)
    events[5] = _record("maintenance_completed", 5, recalled=True)
    document = _build(events, sender="urn:robopass:registry:CN")
    _assert_valid(validator, document)
    assert document["sender"] == "urn:robopass:registry:CN"
    corrected = document["epcisBody"]["eventList"][2]
    [correction] = [e for e in document["epcisBody"]["eventList"]
                    if e["robopass:eventType"] == "correction"]
    assert corrected["errorDeclaration"] == {
        "declarationTime": correction["recordTime"],
        "reason": "incorrect_data",
        "correctiveEventIDs": [correction["eventID"]],
    }
    assert corrected["robopass:corrected"] is True
    assert correction["robopass:corrects"] == "ev-2"


def test_odd_inputs_still_validate(validator: Any) -> None:
    odd_zone = timezone(timedelta(hours=5, minutes=30, seconds=15))  # not RFC 3339-expressible
    events = [
        _record("manufactured", 0, id="id with spaces/and#hash?", at=datetime(2024, 1, 1, 12)),
        _record("shipped", 1, at=datetime(2024, 1, 2, 12, tzinfo=odd_zone), ledger_index=None),
        _record("sold", 2, at=datetime(2024, 1, 3, 12, tzinfo=timezone(timedelta(hours=-14)))),
        _record("deployed", 3, details={"read_point": "not a uri", "biz_location": "urn:x:y"}),
    ]
    document = _build(events, created_at=datetime(2024, 2, 1))
    _assert_valid(validator, document)
    first, second, third, fourth = document["epcisBody"]["eventList"]
    assert first["eventTime"] == "2024-01-01T12:00:00+00:00"  # naive → UTC
    assert first["eventID"].startswith(f"{BASE}/events/id%20with%20spaces%2F")
    assert second["eventTimeZoneOffset"] == "+00:00"
    assert "robopass:ledgerIndex" not in second
    assert third["eventTimeZoneOffset"] == "-14:00"
    assert "readPoint" not in fourth
    assert fourth["bizLocation"] == {"id": "urn:x:y"}


def test_document_shape() -> None:
    document = _build([_record("maintenance_started", 1), _record("deployed", 2)])
    assert document["@context"] == [EPCIS_CONTEXT_URL, {
        "robopass": f"{BASE}/voc/", "robopass:details": {"@type": "@json"}}]
    assert document["type"] == "EPCISDocument"
    assert document["schemaVersion"] == "2.0"
    assert "sender" not in document
    started, deployed = document["epcisBody"]["eventList"]
    assert started["epcList"] == [ROBOT_URI]
    assert started["eventID"] == f"{BASE}/events/ev-1"
    assert started["eventTime"] == "2024-05-02T08:30:00.123456+00:00"
    assert started["eventTimeZoneOffset"] == "+00:00"
    assert started["recordTime"] == "2024-05-02T08:30:02+00:00"
    assert started["readPoint"] == {"id": "urn:epc:id:sgln:0614141.07346.1234"}
    assert "bizLocation" not in started
    assert started["disposition"] == "unavailable"
    assert started["robopass:eventType"] == "maintenance_started"
    assert started["robopass:eventId"] == "ev-1"
    assert started["robopass:ledgerIndex"] == 101
    assert started["robopass:organization"] == "org-maker"
    assert started["robopass:details"] == _details_for("maintenance_started")
    assert "robopass:toOrganization" not in started
    assert "readPoint" not in deployed and "errorDeclaration" not in deployed


def test_build_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="vocab_base"):
        _build([], vocab_base="registry.example.cn")
    with pytest.raises(ValueError, match="robot_uri"):
        _build([], robot_uri="CN A1B2")
    with pytest.raises(ValueError, match="unknown event type"):
        _record("exploded")
    assert _build([], vocab_base=BASE + "/")["@context"][1] == {
        "robopass": f"{BASE}/voc/", "robopass:details": {"@type": "@json"}}


# --- round trip -----------------------------------------------------------------------------


def _as_captured(record: EventRecord) -> CapturedEvent:
    return CapturedEvent(
        code=record.code,
        type=record.type,
        at=record.at,
        to_organization=record.to_organization,
        details=record.details,
    )


def test_round_trip_gives_back_the_same_events() -> None:
    events = _all_events()
    events[1] = _record(
        "shipped",
        1,
        at=datetime(2024, 5, 2, 9, 15, 0, 1, tzinfo=timezone(timedelta(hours=8))),
        details={"nested": {"list": [1, 2.5, None, True, "x"]}, "中文": "机器人"},
    )
    events[2] = _record("sold", 2, corrected=True, recalled=True)
    document = _build(events)
    captured = _parse(json.loads(json.dumps(document)))
    assert captured == [_as_captured(e) for e in events]
    for record, got in zip(events, captured, strict=True):
        assert got.at is not None and got.at.utcoffset() == record.at.utcoffset()


@settings(max_examples=60, deadline=None)
@given(
    types=st.lists(st.sampled_from(EVENT_TYPES), min_size=1, max_size=6),
    at=st.datetimes(
        min_value=datetime(1990, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-3, minutes=-30))]
        ),
    ),
    details=st.dictionaries(
        st.text(max_size=8),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=8),
            lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
            max_leaves=8,
        ),
        max_size=4,
    ),
    to_org=st.none() | st.text(min_size=1, max_size=10),
)
def test_round_trip_property(
    types: list[str], at: datetime, details: dict[str, Any], to_org: str | None
) -> None:
    events = [
        _record(t, i, at=at + timedelta(minutes=i), details=details, to_organization=to_org)
        for i, t in enumerate(types)
    ]
    captured = _parse(json.loads(json.dumps(_build(events))))
    assert captured == [_as_captured(e) for e in events]


# --- third-party documents ------------------------------------------------------------------


def test_third_party_cbv_business_steps() -> None:
    document = _third_party(
        _tp_event(bizStep="commissioning", action="ADD"),
        _tp_event(bizStep="https://ref.gs1.org/cbv/BizStep-shipping"),
        _tp_event(bizStep="urn:epcglobal:cbv:bizstep:retail_selling"),
        _tp_event(bizStep="repairing", disposition="unavailable"),
        _tp_event(bizStep="repairing"),
        _tp_event(bizStep="repairing", disposition="https://ref.gs1.org/cbv/Disp-available"),
        _tp_event(bizStep="repairing", disposition="conformant"),
        _tp_event(bizStep="replacing"),
        _tp_event(bizStep="decommissioning", action="DELETE"),
        _tp_event(bizStep="destroying"),
        _tp_event(bizStep=f"{BASE}/voc/bizstep/recycled"),
        _tp_event(bizStep=f"{BASE}/voc/bizstep/deployed"),
    )
    assert [e.type for e in _parse(document)] == [
        "manufactured",
        "shipped",
        "sold",
        "maintenance_started",
        "maintenance_started",
        "maintenance_completed",
        "maintenance_completed",
        "component_replaced",
        "decommissioned",
        "scrapped",
        "recycled",
        "deployed",
    ]


def test_third_party_event_details_and_several_robots() -> None:
    other = "https://peer.example.de/r/DEXXXX"
    document = _third_party(
        _tp_event(
            bizStep="shipping",
            eventID="urn:uuid:374d95fc-9457-4a51-bd6a-0bba133845a8",
            epcList=[ROBOT_URI, "urn:robopass:CN-A1B2-C3D4E5", other],
            readPoint={"id": "urn:epc:id:sgln:0614141.07346.1234"},
            bizLocation={"id": "urn:epc:id:sgln:0614141.07346.0"},
            bizTransactionList=[{"type": "po", "bizTransaction": "urn:x:po:1"}],
            **{"example:myField": "ignored"},
        )
    )
    captured = _parse(document)
    assert [e.code for e in captured] == [CODE, "CN-A1B2-C3D4E5", "DEXXXX"]
    expected_at = datetime(2024, 6, 1, 2, 0, tzinfo=UTC)
    for event in captured:
        assert event.type == "shipped" and event.at == expected_at
        assert event.to_organization is None
        assert event.details == {
            "read_point": "urn:epc:id:sgln:0614141.07346.1234",
            "biz_location": "urn:epc:id:sgln:0614141.07346.0",
            "epcis_event_id": "urn:uuid:374d95fc-9457-4a51-bd6a-0bba133845a8",
        }
    captured[0].details["x"] = 1
    assert "x" not in captured[1].details  # no shared dicts


def test_extension_found_under_another_prefix_or_full_iri() -> None:
    document = _third_party(
        _tp_event(**{"reg:eventType": "firmware_updated", "reg:details": {"firmware": "3"}}),
        _tp_event(**{f"{BASE}/voc/eventType": "reinstated"}),
    )
    document["@context"] = [EPCIS_CONTEXT_URL, {"reg": f"{BASE}/voc/"}]
    first, second = _parse(document)
    assert (first.type, first.details) == ("firmware_updated", {"firmware": "3"})
    assert second.type == "reinstated"


def test_robopass_prefix_bound_elsewhere_is_not_ours() -> None:
    # another registry's export: its extension fields are not ours, its CBV steps still map
    peer = "https://peer.example.de"
    document = build_document(
        robot_uri=ROBOT_URI,
        events=[_record("shipped", 0), _record("deployed", 1)],
        created_at=T0,
        vocab_base=peer,
    )
    with pytest.raises(EpcisError) as info:
        _parse(document)
    assert info.value.path == "epcisBody.eventList[1].bizStep"
    assert f"{peer}/voc/bizstep/deployed" in info.value.message
    del document["epcisBody"]["eventList"][1]
    (event,) = _parse(document)
    assert event.type == "shipped"
    assert event.to_organization is None
    assert event.details == {"epcis_event_id": f"{peer}/events/ev-0"}
    document["@context"][1] = {"robopass": {"@id": f"{BASE}/voc/"}}
    (event,) = _parse(document)
    assert event.to_organization == "org-buyer"


def test_extension_type_wins_over_biz_step() -> None:
    (event,) = _parse(_third_party(_tp_event(bizStep="shipping", **{"robopass:eventType": "sold"})))
    assert event.type == "sold"


def test_correction_id_from_extension() -> None:
    (event,) = _parse(
        _third_party(_tp_event(**{"robopass:eventType": "correction", "robopass:corrects": "ev-9"}))
    )
    assert event.details == {"corrects": "ev-9"}


def test_robot_code_from_epc() -> None:
    assert robot_code_from_epc(ROBOT_URI) == CODE
    assert robot_code_from_epc("http://x.example/base/path/r/abc-123") == "abc-123"
    assert robot_code_from_epc("URN:RoboPass:CN12") == "CN12"
    for bad in [
        "urn:epc:id:sgtin:0614141.107346.2017",
        f"{ROBOT_URI}/",
        f"{ROBOT_URI}?x=1",
        f"{BASE}/robots/{CODE}",
        "urn:robopass:",
        "urn:robopass:a b",
        "ftp://x/r/CODE",
        42,
        None,
    ]:
        assert robot_code_from_epc(bad) is None, bad


# --- the GS1 examples -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "path", "fragment"),
    [
        ("Example_9.6.1-ObjectEvent.jsonld", "epcisBody.eventList[0].epcList[0]", "robot URI"),
        ("Example_9.6.2-ObjectEvent.jsonld", "epcisBody.eventList[0].epcList", "quantityList"),
        (
            "object_event_all_possible_fields.jsonld",
            "epcisBody.eventList[0].epcList[0]",
            "robot URI",
        ),
        (
            "Example_9.6.4-TransformationEvent.jsonld",
            "epcisBody.eventList[0].type",
            "only ObjectEvent",
        ),
    ],
)
def test_gs1_examples_are_refused_precisely(name: str, path: str, fragment: str) -> None:
    with pytest.raises(EpcisError) as info:
        _parse(_example(name))
    assert info.value.path == path
    assert fragment in info.value.message


def test_gs1_examples_with_robot_epcs() -> None:
    # 9.6.1: event 0 (shipping) is capturable once its EPCs are robot URIs; event 1 (receiving)
    # has no robopass meaning.
    example = _example("Example_9.6.1-ObjectEvent.jsonld")
    events = example["epcisBody"]["eventList"]
    events[0]["epcList"] = [ROBOT_URI, "urn:robopass:CN2"]
    events[1]["epcList"] = [ROBOT_URI]
    with pytest.raises(EpcisError) as info:
        _parse(example)
    assert info.value.path == "epcisBody.eventList[1].bizStep"
    assert "receiving" in info.value.message
    del events[1]
    first, second = _parse(example)
    assert (first.code, second.code) == (CODE, "CN2")
    assert first.type == "shipped"
    assert first.at == datetime(2005, 4, 4, 2, 33, 31, 116000, tzinfo=UTC)
    assert first.details["read_point"] == "urn:epc:id:sgln:0614141.07346.1234"

    # all-fields example: with a robot EPC and a mapped bizStep, its errorDeclaration (a third
    # party retracting an event we cannot identify) is refused.
    full = _example("object_event_all_possible_fields.jsonld")
    (event,) = full["epcisBody"]["eventList"]
    event["epcList"] = [ROBOT_URI]
    with pytest.raises(EpcisError) as info:
        _parse(full)
    assert info.value.path == "epcisBody.eventList[0].bizStep"
    event["bizStep"] = "repairing"
    with pytest.raises(EpcisError) as info:
        _parse(full)
    assert info.value.path == "epcisBody.eventList[0].errorDeclaration"
    del event["errorDeclaration"]
    (captured,) = _parse(full)
    assert captured.type == "maintenance_started"  # disposition in_progress: not done yet
    assert captured.at == datetime(2005, 4, 5, 2, 33, 31, 116000, tzinfo=UTC)


def test_gs1_examples_validate_as_reference(validator: Any) -> None:
    for path in sorted((_ref_dir() / "examples").glob("*.jsonld")):
        _assert_valid(validator, json.loads(path.read_text(encoding="utf-8")))


# --- malformed documents --------------------------------------------------------------------

Mutator = Callable[[dict[str, Any]], Any]


def _event0(document: dict[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = document["epcisBody"]["eventList"][0]
    return event


def _set(key: str, value: Any) -> Mutator:
    def mutate(document: dict[str, Any]) -> Any:
        document[key] = value
        return document

    return mutate


def _drop(key: str) -> Mutator:
    def mutate(document: dict[str, Any]) -> Any:
        del document[key]
        return document

    return mutate


def _ev_set(key: str, value: Any, index: int = 0) -> Mutator:
    def mutate(document: dict[str, Any]) -> Any:
        document["epcisBody"]["eventList"][index][key] = value
        return document

    return mutate


def _ev_drop(*keys: str) -> Mutator:
    def mutate(document: dict[str, Any]) -> Any:
        for key in keys:
            del _event0(document)[key]
        return document

    return mutate


E0 = "epcisBody.eventList[0]"
MALFORMED: list[tuple[str, Mutator, str, str]] = [
    ("array", lambda d: [d], "", "must be a JSON object, got array"),
    ("string", lambda d: "EPCISDocument", "", "got string"),
    ("no type", _drop("type"), "type", "missing"),
    ("query doc", _set("type", "EPCISQueryDocument"), "type", "EPCISQueryDocument"),
    ("no version", _drop("schemaVersion"), "schemaVersion", "missing"),
    ("version 1.2", _set("schemaVersion", "1.2"), "schemaVersion", 'unsupported "1.2"'),
    ("version number", _set("schemaVersion", 2.0), "schemaVersion", "unsupported"),
    ("no context", _drop("@context"), "@context", "missing"),
    ("empty context", _set("@context", []), "@context", "must not be empty"),
    ("bad context", _set("@context", [EPCIS_CONTEXT_URL, 5]), "@context[1]", "context URI"),
    ("no body", _drop("epcisBody"), "epcisBody", "missing"),
    ("body list", _set("epcisBody", []), "epcisBody", "must be an object"),
    ("no eventList", _set("epcisBody", {}), "epcisBody.eventList", "missing"),
    ("eventList obj", _set("epcisBody", {"eventList": {}}), "epcisBody.eventList", "array"),
    (
        "event not object",
        lambda d: d["epcisBody"].update(eventList=[d["epcisBody"]["eventList"][0], 7]) or d,
        "epcisBody.eventList[1]",
        "must be an object, got number",
    ),
    ("no event type", _ev_drop("type"), f"{E0}.type", "missing"),
    ("aggregation", _ev_set("type", "AggregationEvent"), f"{E0}.type", "only ObjectEvent"),
    ("no action", _ev_drop("action"), f"{E0}.action", "missing"),
    ("bad action", _ev_set("action", "observe"), f"{E0}.action", "ADD, OBSERVE, DELETE"),
    ("no eventTime", _ev_drop("eventTime"), f"{E0}.eventTime", "missing"),
    ("eventTime number", _ev_set("eventTime", 1714552200), f"{E0}.eventTime", "got number"),
    (
        "eventTime no offset",
        _ev_set("eventTime", "2024-05-01T08:30:00"),
        f"{E0}.eventTime",
        "must include a UTC offset",
    ),
    ("eventTime garbage", _ev_set("eventTime", "yesterday"), f"{E0}.eventTime", "RFC 3339"),
    (
        "eventTime Feb 30",
        _ev_set("eventTime", "2024-02-30T08:30:00Z"),
        f"{E0}.eventTime",
        "not a valid date-time",
    ),
    (
        "eventTime offset 24h",
        _ev_set("eventTime", "2024-02-01T08:30:00+24:00"),
        f"{E0}.eventTime",
        "not a valid date-time",
    ),
    ("bad zone", _ev_set("eventTimeZoneOffset", "8h"), f"{E0}.eventTimeZoneOffset", "±hh:mm"),
    ("no epcList", _ev_drop("epcList"), f"{E0}.epcList", "missing"),
    ("epcList string", _ev_set("epcList", ROBOT_URI), f"{E0}.epcList", "array of robot URIs"),
    ("empty epcList", _ev_set("epcList", []), f"{E0}.epcList", "at least one robot"),
    ("epc not a uri", _ev_set("epcList", ["not a uri"]), f"{E0}.epcList[0]", "not a robot URI"),
    ("epc number", _ev_set("epcList", [ROBOT_URI, 5]), f"{E0}.epcList[1]", "not a robot URI"),
    (
        "sgtin epc",
        _ev_set("epcList", ["urn:epc:id:sgtin:0614141.107346.2017"]),
        f"{E0}.epcList[0]",
        "not a robot URI",
    ),
    ("duplicate epc", _ev_set("epcList", [ROBOT_URI, ROBOT_URI]), f"{E0}.epcList[1]", "duplicate"),
    (
        "unknown type ext",
        _ev_set("robopass:eventType", "exploded"),
        f"{E0}.robopass:eventType",
        'unknown robopass event type "exploded"',
    ),
    (
        "no type, no bizStep",
        _ev_drop("robopass:eventType", "bizStep"),
        f"{E0}.bizStep",
        "cannot tell the event type",
    ),
    (
        "unknown bizStep",
        lambda d: _ev_drop("robopass:eventType")(_ev_set("bizStep", "receiving")(d)),
        f"{E0}.bizStep",
        'no robopass event type for bizStep "receiving"',
    ),
    (
        "foreign registry bizStep",
        lambda d: _ev_drop("robopass:eventType")(
            _ev_set("bizStep", "https://other.example/voc/bizstep/deployed")(d)
        ),
        f"{E0}.bizStep",
        "no robopass event type",
    ),
    ("details list", _ev_set("robopass:details", []), f"{E0}.robopass:details", "object"),
    ("details string", _ev_set("robopass:details", "x"), f"{E0}.robopass:details", "object"),
    (
        "to_organization number",
        _ev_set("robopass:toOrganization", 3),
        f"{E0}.robopass:toOrganization",
        "organisation id",
    ),
    ("readPoint no id", _ev_set("readPoint", {}), f"{E0}.readPoint", "URI 'id'"),
    (
        "corrects on non-correction",
        _ev_set("robopass:corrects", "ev-1"),
        f"{E0}.robopass:corrects",
        "only a correction",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "path", "fragment"),
    [pytest.param(m, p, f, id=name) for name, m, p, f in MALFORMED],
)
def test_malformed_documents_are_refused_with_their_path(
    mutate: Mutator, path: str, fragment: str
) -> None:
    document = _build([_record("shipped", 0), _record("sold", 1)])
    with pytest.raises(EpcisError) as info:
        _parse(mutate(copy.deepcopy(document)))
    assert info.value.path == path
    assert fragment in info.value.message, info.value.message
    assert str(info.value).startswith(f"{path}: " if path else info.value.message)
    assert isinstance(info.value, ValueError)


def test_correction_disagreeing_with_details() -> None:
    document = _build([_record("correction", 0)])
    _event0(document)["robopass:corrects"] = "ev-other"
    with pytest.raises(EpcisError) as info:
        _parse(document)
    assert info.value.path == f"{E0}.robopass:corrects"
    assert "disagrees" in info.value.message


def test_later_events_are_checked_too() -> None:
    document = _build([_record("shipped", 0), _record("sold", 1), _record("deployed", 2)])
    document["epcisBody"]["eventList"][2]["eventTime"] = "2024-05-03 08:30:00Z"
    with pytest.raises(EpcisError) as info:
        _parse(document)
    assert info.value.path == "epcisBody.eventList[2].eventTime"


def test_capture_size_is_capped() -> None:
    one = _tp_event(bizStep="shipping")
    assert len(_parse(_third_party(*[one] * MAX_CAPTURE_EVENTS))) == MAX_CAPTURE_EVENTS
    with pytest.raises(EpcisError) as info:
        _parse(_third_party(*[one] * (MAX_CAPTURE_EVENTS + 1)))
    assert info.value.path == "epcisBody.eventList"
    assert "too many events" in info.value.message
    many = _tp_event(bizStep="shipping", epcList=[f"urn:robopass:C{i}" for i in range(6000)])
    with pytest.raises(EpcisError) as info:
        _parse(_third_party(many, many))
    assert info.value.path == "epcisBody.eventList[1].epcList"


def test_empty_event_list_captures_nothing() -> None:
    assert _parse(_third_party()) == []


def test_parse_refuses_a_bad_vocab_base() -> None:
    with pytest.raises(ValueError, match="vocab_base"):
        parse_capture(_third_party(), vocab_base="not a url")


# --- fuzzing --------------------------------------------------------------------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=30,
)

INTERESTING = st.sampled_from(
    [
        "EPCISDocument",
        "ObjectEvent",
        "2.0",
        "OBSERVE",
        "ADD",
        ROBOT_URI,
        "urn:robopass:",
        "urn:robopass:X",
        "2024-01-01T00:00:00Z",
        "2024-13-01T00:00:00+99:99",
        "shipping",
        "repairing",
        f"{BASE}/voc/bizstep/correction",
        "robopass:eventType",
        "correction",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON)
def test_fuzz_arbitrary_json_only_raises_epcis_error(value: Any) -> None:
    try:
        _parse(value)
    except EpcisError:
        pass


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found.extend(_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.extend(_paths(child, (*prefix, index)))
    return found


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_mutated_documents_only_raise_epcis_error(data: st.DataObject) -> None:
    document: Any = _build([_record("correction", 0), _record("maintenance_started", 1)])
    for _ in range(data.draw(st.integers(1, 3))):
        paths = _paths(document)
        path = data.draw(st.sampled_from(paths))
        replacement = data.draw(JSON | INTERESTING)
        if not path:
            document = replacement
            break
        parent: Any = document
        for step in path[:-1]:
            parent = parent[step]
        if data.draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = replacement
    try:
        result = _parse(document)
    except EpcisError as exc:
        assert isinstance(exc.path, str) and exc.message
    else:
        assert all(isinstance(e, CapturedEvent) and e.type in EVENT_MAPPING for e in result)


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet="aAz09:/?#[]@!$&'()*+,;=%-._~ \\\"<>{}|^`é", max_size=40)
    | st.from_regex(r"[a-z][a-z0-9+.\-]*:[ -~]{0,30}", fullmatch=True)
)
def test_is_uri_never_accepts_what_the_schema_rejects(candidate: str) -> None:
    from jsonschema import FormatChecker

    if is_uri(candidate):
        assert FormatChecker().conforms(candidate, "uri"), candidate


def test_module_is_pure() -> None:
    code = (
        "import sys, robopass.epcis.document\n"
        "bad = {'sqlalchemy', 'fastapi', 'starlette', 'httpx', 'psycopg', 'pydantic'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in bad))\n"
    )
    src = Path(__file__).resolve().parents[2] / "src"
    env = {**os.environ, "PYTHONPATH": str(src)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.strip() == "[]"
