"""POST /api/v1/telemetry: per-reading acceptance, idempotency, bad input (SPEC §7)."""

from __future__ import annotations

import orjson
import pytest

from tests.telemetry.conftest import make_fleet, reading, ts


def post_raw(client, body: bytes, org, content_type: str = "application/json"):  # type: ignore[no-untyped-def]
    return client.raw.post("/api/v1/telemetry", content=body,
                           headers={**org.auth, "Content-Type": content_type})


def test_array_is_stored_and_repeats_are_duplicates(client, fleet):
    a, b = fleet.codes
    batch = [reading(a, ts(3), battery_soh=91.5, cycle_count=10,
                     joint_wear={"knee_l": 10.0, "hip_r": 12.5}, accuracy=98.0,
                     operating_hours=12.5, fault_codes=[], firmware="2.4.1"),
             reading(a, ts(2), battery_soh=91.4),
             reading(b, ts(2), accuracy=97.0)]
    r = client.post("/api/v1/telemetry", batch, fleet.operator)
    assert r.status_code == 200, r.text
    assert r.json() == {"stored": 3, "duplicates": 0, "rejected": []}
    r = client.post("/api/v1/telemetry", batch, fleet.operator)
    assert r.json() == {"stored": 0, "duplicates": 3, "rejected": []}


def test_duplicates_inside_one_batch_are_stored_once(client, fleet):
    a = fleet.codes[0]
    at = ts(1)
    r = client.post("/api/v1/telemetry", [reading(a, at, battery_soh=90.0),
                                          reading(a, at, battery_soh=10.0)], fleet.operator)
    assert r.json() == {"stored": 1, "duplicates": 1, "rejected": []}
    health = client.get(f"/api/v1/robots/{a}/health", fleet.operator).json()
    assert health["metrics"]["battery_soh"] == 90.0  # the first one sent is the one kept
    assert health["alerts"] == []


def test_ndjson_and_late_out_of_order_readings(client, fleet):
    a = fleet.codes[0]
    latest = ts(1)
    lines = [reading(a, latest, battery_soh=88.0), reading(a, ts(30), battery_soh=89.0),
             reading(a, ts(60 * 24 * 20), battery_soh=95.0)]
    body = b"\n".join(orjson.dumps(x) for x in lines) + b"\n\n"
    r = post_raw(client, body, fleet.operator, "application/x-ndjson")
    assert r.status_code == 200, r.text
    assert r.json() == {"stored": 3, "duplicates": 0, "rejected": []}
    # a late reading (older than the latest) is stored but does not change the snapshot
    r = client.post("/api/v1/telemetry", [reading(a, ts(10), battery_soh=50.0)], fleet.operator)
    assert r.json()["stored"] == 1
    health = client.get(f"/api/v1/robots/{a}/health", fleet.operator).json()
    assert health["metrics"]["battery_soh"] == 88.0
    assert health["at"] == latest


def test_the_owner_may_report_too(client, fleet):
    # the manufacturer owns a unit before sale
    maker = client.org("manufacturer")
    model_id = client.approved_model(maker)
    code = client.codes(maker, model_id, 1)[0]
    r = client.post("/api/v1/telemetry", [reading(code, ts(1))], maker)
    assert r.json() == {"stored": 1, "duplicates": 0, "rejected": []}


def test_each_bad_reading_is_rejected_with_its_index_and_good_ones_stay(client, fleet):
    a, b = fleet.codes
    other = client.org("operator")
    unknown = "CN" + "0" * 27
    good = reading(a, ts(5), battery_soh=90.0)
    batch = [
        good,                                                          # 0 ok
        reading(unknown, ts(5)),                                       # 1 unknown unit
        reading(a, ts(4), battery_soh=250.0),                          # 2 absurd SoH
        reading(a, ts(-60)),                                           # 3 future
        reading(a, ts(4), battery_soh="90"),                           # 4 wrong type
        reading(a, ts(4), cycle_count=-1),                             # 5 negative
        reading(a, ts(4), joint_wear={"knee": 101}),                   # 6 wear > 100
        reading(a, ts(4), fault_codes="E1"),                           # 7 not a list
        {"code": a, "at": ts(4), "metrics": {}},                       # 8 no metric
        {"code": a, "at": "yesterday", "metrics": {"accuracy": 95}},   # 9 bad time
        {"code": a, "at": "2026-03-01T08:00:00", "metrics": {"accuracy": 95}},  # 10 naive
        {"code": a, "at": ts(4), "metrics": {"battery_soh": 90, "mood": "happy"}},  # 11 unknown
        "not a reading",                                               # 12 not an object
        {"at": ts(4), "metrics": {"accuracy": 95}},                    # 13 no code
        reading(a, ts(4), battery_soh=True),                           # 14 bool
        reading(b, ts(5), operating_hours="__INF__"),                  # 15 inf
        reading(b, ts(5), accuracy=97.0),                              # 16 ok
    ]
    r = post_raw(client, orjson.dumps(batch).replace(b'"__INF__"', b"1e400"), fleet.operator)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["stored"] == 2 and body["duplicates"] == 0
    rejected = {x["index"]: x for x in body["rejected"]}
    assert sorted(rejected) == list(range(1, 16))
    assert "unknown unit" in rejected[1]["reason"]
    assert "out of range" in rejected[2]["reason"] and rejected[2]["field"] == "metrics.battery_soh"
    assert "future" in rejected[3]["reason"]
    assert rejected[11]["field"] == "metrics.mood"
    # the other operator owns nothing here: everything is "not yours"
    r = client.post("/api/v1/telemetry", [good, reading(b, ts(3))], other)
    assert r.json()["stored"] == 0
    assert [x["index"] for x in r.json()["rejected"]] == [0, 1]
    assert "not yours" in r.json()["rejected"][0]["reason"]


def test_ndjson_line_that_is_not_json_is_rejected_alone(client, fleet):
    a = fleet.codes[0]
    body = (orjson.dumps(reading(a, ts(2))) + b"\n{\"code\": NaN}\n"
            + b'{"code": "%s", "at": "%s", "metrics": {"battery_soh": NaN}}\n' % (a.encode(),
                                                                               ts(1).encode())
            + orjson.dumps(reading(a, ts(1))))
    r = post_raw(client, body, fleet.operator, "application/x-ndjson")
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == 2
    assert [x["index"] for x in r.json()["rejected"]] == [1, 2]


@pytest.mark.parametrize("body", [b"", b"   ", b"hello world", b"[1, 2", b'[{"code": 1}',
                                  b"\xff\xfe"])
def test_a_malformed_body_is_a_4xx_and_stores_nothing(client, fleet, body):
    r = post_raw(client, body, fleet.operator)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "malformed_body"
    assert r.json()["error"]["field"] == "body"


def test_a_body_over_the_limit_is_413_and_stores_nothing(client, fleet, monkeypatch):
    from robopass.telemetry.settings import get_telemetry_settings

    monkeypatch.setenv("ROBOPASS_TELEMETRY_MAX_BODY_BYTES", "2000")
    get_telemetry_settings.cache_clear()
    try:
        a = fleet.codes[0]
        batch = [reading(a, ts(i + 1)) for i in range(40)]
        r = client.post("/api/v1/telemetry", batch, fleet.operator)
        assert r.status_code == 413, r.text
        assert r.json()["error"]["code"] == "payload_too_large"
        assert client.post("/api/v1/telemetry", batch[:5], fleet.operator).json()["stored"] == 5
    finally:
        get_telemetry_settings.cache_clear()
    assert client.get(f"/api/v1/robots/{a}/telemetry", fleet.operator).json()["points"] \
        .__len__() == 5


def test_readings_past_the_batch_limit_are_rejected_and_the_rest_kept(client, fleet,
                                                                      monkeypatch):
    from robopass.telemetry.settings import get_telemetry_settings

    monkeypatch.setenv("ROBOPASS_TELEMETRY_MAX_READINGS", "3")
    get_telemetry_settings.cache_clear()
    try:
        a = fleet.codes[0]
        r = client.post("/api/v1/telemetry", [reading(a, ts(i + 1)) for i in range(5)],
                        fleet.operator)
        body = r.json()
        assert body["stored"] == 3
        assert [x["index"] for x in body["rejected"]] == [3, 4]
        assert body["rejected"][0]["field"] == "batch"
    finally:
        get_telemetry_settings.cache_clear()


def test_terminal_units_report_nothing(client, fleet):
    a = fleet.codes[0]
    recycler = client.org("recycler")
    # the operator owns the unit (it bought it): decommission and scrap it
    client.event(fleet.operator, a, "decommissioned", at=ts(30), to_organization=recycler.id)
    client.event(recycler, a, "scrapped", at=ts(20))
    r = client.post("/api/v1/telemetry", [reading(a, ts(1))], fleet.operator)
    assert r.json()["stored"] == 0
    assert "scrapped" in r.json()["rejected"][0]["reason"]


def test_auth_is_required(client, fleet):
    r = client.post("/api/v1/telemetry", [reading(fleet.codes[0], ts(1))])
    assert r.status_code == 401
    # the regulator is not the unit's owner or operator: it does not report telemetry
    r = client.post("/api/v1/telemetry", [reading(fleet.codes[0], ts(1))], client.regulator)
    assert r.json()["stored"] == 0 and "not yours" in r.json()["rejected"][0]["reason"]


def test_codes_in_display_form_are_normalised(client, fleet):
    a = fleet.codes[0]
    display = f"{a[:2]}-{a[2:6]}-{a[6:12]}-{a[12:]}".lower()
    r = client.post("/api/v1/telemetry", [reading(display, ts(1))], fleet.operator)
    assert r.json() == {"stored": 1, "duplicates": 0, "rejected": []}


def test_joint_names_are_checked_reading_by_reading(client, fleet):
    a = fleet.codes[0]
    batch = [reading(a, ts(5), joint_wear={"knee_l": 10.0}),
             reading(a, ts(4), joint_wear={"k" * 41: 10.0}),               # 1 name too long
             reading(a, ts(3), joint_wear={"": 10.0, "hip": 1.0}),         # 2 empty name
             reading(a, ts(2), joint_wear={"k" * 40: 20.0})]
    r = client.post("/api/v1/telemetry", batch, fleet.operator)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["stored"] == 2
    assert [(x["index"], x["field"]) for x in body["rejected"]] == [
        (1, "metrics.joint_wear"), (2, "metrics.joint_wear")]


def test_a_good_batch_of_mixed_shapes_keeps_every_value(client, fleet):
    """The columnar fast path: several joint layouts, readings without joint wear or with
    only some metrics, two units interleaved and out of time order."""
    a, b = fleet.codes
    t1 = ts(1)
    batch = [reading(b, ts(3), joint_wear={"hip": 5.5, "knee": 7.25}, fault_codes=["E7"]),
             reading(a, t1, battery_soh=80.0),
             reading(a, ts(4), joint_wear={"wrist": 12.0}, firmware="1.0", cycle_count=7),
             reading(b, ts(2), accuracy=95.0, fault_codes=[]),
             reading(a, ts(2), joint_wear={"knee": 1.5, "hip": 2.5}, operating_hours=3.0),
             reading(a, t1, battery_soh=10.0)]                     # duplicate of index 1
    r = client.post("/api/v1/telemetry", batch, fleet.operator)
    assert r.json() == {"stored": 5, "duplicates": 1, "rejected": []}
    ha = client.get(f"/api/v1/robots/{a}/health", fleet.operator).json()
    assert ha["at"] == t1
    assert ha["metrics"] == {"battery_soh": 80.0, "cycle_count": 7, "operating_hours": 3.0,
                             "firmware": "1.0", "joint_wear": {"knee": 1.5, "hip": 2.5}}
    hb = client.get(f"/api/v1/robots/{b}/health", fleet.operator).json()
    assert hb["metrics"]["fault_codes"] == [] and hb["metrics"]["accuracy"] == 95.0
    assert hb["metrics"]["joint_wear"] == {"hip": 5.5, "knee": 7.25}
    points = client.get(f"/api/v1/robots/{a}/telemetry?resolution=raw",
                        fleet.operator).json()["points"]
    assert [p.get("joint_wear") for p in points] == [
        {"wrist": 12.0}, {"knee": 1.5, "hip": 2.5}, None]
    assert points[-1]["battery_soh"] == 80.0



class _Stream:
    """A request whose body arrives when ``go`` is set (a slow or stalled upload)."""

    def __init__(self, go):  # type: ignore[no-untyped-def]
        self.headers, self.go = {}, go

    async def stream(self):  # type: ignore[no-untyped-def]
        await self.go.wait()
        yield b"[]"


def test_bodies_in_memory_are_bounded_and_slow_uploads_give_their_slot_up(monkeypatch):
    """A server process reads at most BODIES_IN_MEMORY bodies at once (per event loop), on
    either database; an upload still arriving after SLOW_BODY_S frees its slot for the
    others."""
    import asyncio

    from robopass.telemetry import routes

    monkeypatch.setattr(routes, "SLOW_BODY_S", 0.2)

    async def scenario() -> list[str]:
        stalled, done = asyncio.Event(), []

        async def upload(name: str, go: asyncio.Event) -> None:
            slot = routes._BodySlot()
            try:
                await slot.read(_Stream(go), 1000)  # type: ignore[arg-type]
                done.append(name)
            finally:
                slot.release()

        fast = asyncio.Event()
        fast.set()
        slow = [asyncio.create_task(upload(f"slow{i}", stalled)) for i in range(2)]
        await asyncio.sleep(0.05)
        waiting = asyncio.create_task(upload("fast", fast))
        await asyncio.sleep(0.05)
        assert done == []  # both slots taken by the stalled uploads
        await asyncio.wait_for(waiting, 2)  # freed after SLOW_BODY_S
        stalled.set()
        await asyncio.gather(*slow)
        slots = routes._body_slots[asyncio.get_running_loop()]
        assert slots._value == routes.BODIES_IN_MEMORY  # every slot given back once
        return done

    assert asyncio.run(scenario()) == ["fast", "slow0", "slow1"]


def test_a_batch_of_each_unit_once_stores_the_new_and_drops_the_repeats(client):
    """The live shape (every unit once) takes a faster path when every reading is newer
    than its unit's newest; a batch with a repeat or a late reading must come out the same."""
    fleet = make_fleet(client, 3)
    a, b, c = fleet.codes
    post = lambda batch: client.post("/api/v1/telemetry", batch, fleet.operator).json()  # noqa: E731
    assert post([reading(a, ts(50), battery_soh=90.0), reading(b, ts(50), battery_soh=91.0),
                 reading(c, ts(50), battery_soh=92.0)]) == {"stored": 3, "duplicates": 0,
                                                            "rejected": []}
    # every reading newer: each head moves to it, the one before becomes the gap's bound
    assert post([reading(a, ts(10), battery_soh=80.0), reading(b, ts(10), battery_soh=81.0),
                 reading(c, ts(10), battery_soh=82.0)])["stored"] == 3
    # a in the gap below its newest (a batch overtaken by a later one), b newer: both new
    assert post([reading(a, ts(40), battery_soh=70.0), reading(b, ts(8), battery_soh=84.0)]
                ) == {"stored": 2, "duplicates": 0, "rejected": []}
    assert post([reading(a, ts(40))])["duplicates"] == 1  # the gap's bound moved to it
    # a repeats a stored time, b is late (older than the gap below its newest), c is newer
    assert post([reading(a, ts(50), battery_soh=10.0), reading(b, ts(30), battery_soh=50.0),
                 reading(c, ts(5), battery_soh=83.0)]) == {"stored": 2, "duplicates": 1,
                                                           "rejected": []}
    # inside the gap below a's newest: new; at a's older time: stored already
    assert post([reading(a, ts(30))])["stored"] == 1
    assert post([reading(a, ts(50)), reading(b, ts(50)), reading(c, ts(10))]) == {
        "stored": 0, "duplicates": 3, "rejected": []}
    health = {code: client.get(f"/api/v1/robots/{code}/health", fleet.operator).json()
              for code in fleet.codes}
    assert [health[code]["metrics"]["battery_soh"] for code in fleet.codes] == [80.0, 84.0, 83.0]
    history = client.get(f"/api/v1/robots/{b}/telemetry", fleet.operator,
                         params={"from": ts(60), "to": ts(0), "resolution": "raw"}).json()
    assert [p["battery_soh"] for p in history["points"]] == [91.0, 50.0, 81.0, 84.0]


def test_a_batch_of_each_unit_once_looks_up_readings_older_than_the_gap(client):
    """Live readings older than the gap below their unit's newest (a batch several others
    overtook, a retry) are looked up in staging and in chunks; the repeats are dropped."""
    from robopass.db import transaction, write_session
    from robopass.telemetry import service

    def fold() -> None:
        with write_session(client.registry.url) as session, transaction(session, ledger=False):
            service.fold_staged(session)

    fleet = make_fleet(client, 3)
    a, b, c = fleet.codes
    post = lambda batch: client.post("/api/v1/telemetry", batch, fleet.operator).json()  # noqa: E731
    for minutes in (50, 10, 5):  # each head at 5, its gap (10, 5)
        assert post([reading(code, ts(minutes), battery_soh=90.0 - minutes)
                     for code in fleet.codes])["stored"] == 3
    fold()  # into chunks
    late = [reading(a, ts(50)), reading(b, ts(30), battery_soh=1.0), reading(c, ts(10))]
    assert post(late) == {"stored": 1, "duplicates": 2, "rejected": []}
    assert post(late) == {"stored": 0, "duplicates": 3, "rejected": []}  # b's now staged
    fold()
    assert post(late) == {"stored": 0, "duplicates": 3, "rejected": []}  # and in chunks
    history = client.get(f"/api/v1/robots/{b}/telemetry", fleet.operator,
                         params={"from": ts(60), "to": ts(0), "resolution": "raw"}).json()
    assert [p["battery_soh"] for p in history["points"]] == [40.0, 1.0, 80.0, 85.0]
    health = client.get(f"/api/v1/robots/{b}/health", fleet.operator).json()
    assert health["metrics"]["battery_soh"] == 85.0  # the newest measured, not the late one
    assert post([reading(b, ts(7))]) == {"stored": 1, "duplicates": 0, "rejected": []}


def test_a_batch_of_each_unit_once_still_refuses_units_not_the_senders(client):
    fleet = make_fleet(client, 2)
    other = make_fleet(client, 1)
    batch = [reading(fleet.codes[0], ts(5)), reading(other.codes[0], ts(5)),
             reading(fleet.codes[1], ts(5))]
    body = client.post("/api/v1/telemetry", batch, fleet.operator).json()
    assert body["stored"] == 2 and [r["index"] for r in body["rejected"]] == [1]
    assert "not yours" in body["rejected"][0]["reason"]
