"""Health snapshot, alert rules, notifications, tiers and history (SPEC §7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.telemetry.conftest import leased_unit, reading, ts


def post(client, org, *readings):  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/telemetry", list(readings), org)
    assert r.status_code == 200, r.text
    assert not r.json()["rejected"], r.json()
    return r.json()


def health(client, org, code):  # type: ignore[no-untyped-def]
    r = client.get(f"/api/v1/robots/{code}/health", org)
    assert r.status_code == 200, r.text
    return r.json()


def test_health_before_any_reading(client, fleet):
    body = health(client, fleet.operator, fleet.codes[0])
    assert body == {"code": fleet.codes[0], "at": None, "metrics": {}, "trend": {}, "alerts": []}


def test_snapshot_folds_the_latest_value_of_each_metric(client, fleet):
    a = fleet.codes[0]
    post(client, fleet.operator,
         reading(a, ts(10), battery_soh=91.0, firmware="2.4.1", cycle_count=100,
                 joint_wear={"knee_l": 10.0}),
         reading(a, ts(5), accuracy=97.5, operating_hours=120.5, fault_codes=[]))
    body = health(client, fleet.operator, a)
    assert body["at"] == ts(5) or body["at"] <= ts(4)
    assert body["metrics"] == {"battery_soh": 91.0, "firmware": "2.4.1", "cycle_count": 100,
                               "joint_wear": {"knee_l": 10.0}, "accuracy": 97.5,
                               "operating_hours": 120.5, "fault_codes": []}
    assert body["alerts"] == []


def test_alert_rules_open_and_close(client, fleet):
    a = fleet.codes[0]
    t1 = ts(10)
    post(client, fleet.operator,
         reading(a, t1, battery_soh=65.5, joint_wear={"knee_l": 85.0, "hip_r": 20.0},
                 accuracy=85.0, fault_codes=["E101", "W7"]))
    body = health(client, fleet.operator, a)
    rules = sorted((x["rule"], x["since"]) for x in body["alerts"])
    assert rules == sorted([("battery_soh_low", t1), ("joint_wear_high", t1),
                            ("accuracy_low", t1), ("new_fault_code", t1),
                            ("new_fault_code", t1)])
    messages = " ".join(x["message"] for x in body["alerts"])
    assert "E101" in messages and "W7" in messages and "knee_l" in messages
    # the same values again open nothing new; an old fault stays, a new one opens
    t2 = ts(5)
    post(client, fleet.operator, reading(a, t2, fault_codes=["E101", "E202"]))
    body = health(client, fleet.operator, a)
    faults = sorted((x["message"], x["since"]) for x in body["alerts"]
                    if x["rule"] == "new_fault_code")
    assert faults == [("new fault code E101", t1), ("new fault code E202", t2)]
    # recovery (a pack swapped, joints serviced, faults cleared) closes every alert
    post(client, fleet.operator,
         reading(a, ts(1), battery_soh=98.0, joint_wear={"knee_l": 2.0}, accuracy=99.0,
                 fault_codes=[]))
    assert health(client, fleet.operator, a)["alerts"] == []


def test_late_readings_do_not_open_alerts(client, fleet):
    a = fleet.codes[0]
    post(client, fleet.operator, reading(a, ts(1), battery_soh=95.0))
    post(client, fleet.operator, reading(a, ts(30), battery_soh=40.0))
    assert health(client, fleet.operator, a)["alerts"] == []


def test_an_opened_alert_notifies_operator_and_owner(client):
    unit = leased_unit(client)
    maker, owner, operator, code = unit.maker, unit.owner, unit.operator, unit.code
    post(client, operator, reading(code, ts(2), battery_soh=60.0))
    post(client, operator, reading(code, ts(1), battery_soh=59.0))  # still open: no new notice
    for org in (owner, operator):
        notes = client.get("/api/v1/notifications?topic=health_alert", org).json()
        assert len(notes["notifications"]) == 1, notes
        payload = notes["notifications"][0]["payload"]
        assert payload["code"] == code and payload["rule"] == "battery_soh_low"
    assert client.get("/api/v1/notifications?topic=health_alert",
                      maker).json()["notifications"] == []


def test_health_and_history_need_legitimate_interest(client, fleet):
    a = fleet.codes[0]
    post(client, fleet.operator, reading(a, ts(1), battery_soh=95.0))
    stranger = client.org("operator")
    for url in (f"/api/v1/robots/{a}/health", f"/api/v1/robots/{a}/telemetry"):
        assert client.get(url).status_code == 401
        r = client.get(url, stranger)
        assert r.status_code == 403 and r.json()["error"]["code"] == "tier_required"
        for org in (fleet.operator, fleet.maker, client.regulator):
            assert client.get(url, org).status_code == 200, url
    from robopass.idcode import calc_check_char

    body = a[:20] + "99999999"
    assert client.get(f"/api/v1/robots/{body + calc_check_char(body)}/health",
                      fleet.operator).status_code == 404


def test_trend_over_days(client, fleet):
    a = fleet.codes[0]
    now = datetime.now(UTC).replace(microsecond=0)
    batch = [reading(a, (now - timedelta(days=d)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                     battery_soh=90.0 - (10 - d) * 0.5, joint_wear={"knee": 20.0 + (10 - d)})
             for d in range(10, -1, -1)]
    post(client, fleet.operator, *batch)
    trend = health(client, fleet.operator, a)["trend"]
    assert trend["window_days"] == 30
    soh = trend["battery_soh"]
    assert len(soh["points"]) in (10, 11, 12)
    assert soh["change"] == -5.0
    assert -16.0 < soh["per_30_days"] < -14.0  # 0.5 points a day
    assert trend["max_joint_wear"]["change"] == 10.0


def test_history_raw_and_downsampled(client, fleet):
    a = fleet.codes[0]
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = now - timedelta(hours=6)
    batch = [reading(a, (start + timedelta(minutes=10 * i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                     battery_soh=90.0 - i * 0.1, accuracy=95.0, fault_codes=[] if i % 6 else ["E1"],
                     joint_wear={"knee": 10.0 + i})
               for i in range(36)]
    post(client, fleet.operator, *batch)
    q = f"/api/v1/robots/{a}/telemetry"
    frm, to = start.strftime("%Y-%m-%dT%H:%M:%SZ"), now.strftime("%Y-%m-%dT%H:%M:%SZ")
    raw = client.get(q, fleet.operator, params={"from": frm, "to": to}).json()
    assert raw["resolution"] == "raw" and len(raw["points"]) == 36
    assert raw["points"][0]["joint_wear"] == {"knee": 10.0}
    one = client.get(q, fleet.operator, params={"from": frm, "to": to,
                                                "metric": "battery_soh", "limit": 5}).json()
    assert list(one["points"][0]) == ["at", "battery_soh"] and len(one["points"]) == 5
    assert one["next_from"] == batch[5]["at"]
    hourly = client.get(q, fleet.operator, params={"from": frm, "to": to,
                                                   "resolution": "hour"}).json()
    assert len(hourly["points"]) == 6
    first = hourly["points"][0]
    assert first["count"] == 6 and first["fault_readings"] == 6
    assert first["battery_soh"]["max"] == 90.0 and first["joint_wear"]["max"] == 15.0
    day = client.get(q, fleet.operator, params={"from": frm, "to": to,
                                                "resolution": "day"}).json()
    assert sum(p["count"] for p in day["points"]) == 36
    bad = client.get(q, fleet.operator, params={"metric": "mood"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "metric"
    bad = client.get(q, fleet.operator, params={"from": to, "to": frm})
    assert bad.status_code == 422
