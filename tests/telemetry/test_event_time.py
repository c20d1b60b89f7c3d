"""Health in event time (SPEC §7): latest is the latest *measured* reading, the trend takes
late readings, an alert's ``since`` is the first reading of the run that broke the rule, and a
late reading re-evaluates the unit's open alerts. Over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.telemetry.conftest import reading, ts


def post(client, org, *readings):  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/telemetry", list(readings), org)
    assert r.status_code == 200, r.text
    assert not r.json()["rejected"], r.json()
    return r.json()


def health(client, org, code):  # type: ignore[no-untyped-def]
    r = client.get(f"/api/v1/robots/{code}/health", org)
    assert r.status_code == 200, r.text
    return r.json()


def since(client, org, code, rule):  # type: ignore[no-untyped-def]
    return [a["since"] for a in health(client, org, code)["alerts"] if a["rule"] == rule]


def test_latest_is_the_latest_measured_not_the_latest_received(client, fleet):
    a = fleet.codes[0]
    post(client, fleet.operator, reading(a, ts(5), battery_soh=90.0, firmware="2.0"))
    post(client, fleet.operator, reading(a, ts(20), battery_soh=50.0, firmware="1.0"))
    body = health(client, fleet.operator, a)
    assert body["at"] == ts(5)
    assert body["metrics"]["battery_soh"] == 90.0 and body["metrics"]["firmware"] == "2.0"
    assert body["alerts"] == []  # the late low reading is not the latest


def test_since_is_the_first_reading_of_the_run_that_broke_the_rule(client, fleet):
    a = fleet.codes[0]
    # one batch: fine, then three low readings; the alert dates from the first low one
    post(client, fleet.operator, reading(a, ts(40), battery_soh=90.0),
         reading(a, ts(30), battery_soh=60.0), reading(a, ts(20), battery_soh=62.0),
         reading(a, ts(10), battery_soh=61.0))
    assert since(client, fleet.operator, a, "battery_soh_low") == [ts(30)]
    # a reading without the metric neither breaks nor mends the run
    post(client, fleet.operator, reading(a, ts(5), firmware="3.0"),
         reading(a, ts(4), battery_soh=59.0))
    assert since(client, fleet.operator, a, "battery_soh_low") == [ts(30)]


def test_a_late_reading_moves_since(client, fleet):
    a = fleet.codes[0]
    post(client, fleet.operator, reading(a, ts(60), battery_soh=95.0))
    post(client, fleet.operator, reading(a, ts(30), battery_soh=60.0))
    post(client, fleet.operator, reading(a, ts(10), battery_soh=60.0))
    assert since(client, fleet.operator, a, "battery_soh_low") == [ts(30)]
    # late and low, just before the run: the rule was broken earlier than we knew
    post(client, fleet.operator, reading(a, ts(45), battery_soh=65.0))
    assert since(client, fleet.operator, a, "battery_soh_low") == [ts(45)]
    # late and low but before a fine reading: not part of the run, nothing moves
    post(client, fleet.operator, reading(a, ts(70), battery_soh=50.0))
    assert since(client, fleet.operator, a, "battery_soh_low") == [ts(45)]
    # late and fine inside the run: the run now starts after it
    post(client, fleet.operator, reading(a, ts(20), battery_soh=96.0))
    assert since(client, fleet.operator, a, "battery_soh_low") == [ts(10)]
    # still open: the latest reading breaks the rule
    assert health(client, fleet.operator, a)["at"] == ts(10)


def test_the_trend_takes_late_readings(client, fleet):
    a = fleet.codes[0]
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    if today > datetime.now(UTC):
        today -= timedelta(days=1)

    def at(days: int, hours: int = 0) -> str:
        return (today - timedelta(days=days) + timedelta(hours=hours)).strftime(
            "%Y-%m-%dT%H:%M:%SZ")

    post(client, fleet.operator, reading(a, at(3), battery_soh=95.0))
    post(client, fleet.operator, reading(a, at(0), battery_soh=93.0))
    points = health(client, fleet.operator, a)["trend"]["battery_soh"]["points"]
    assert [p["at"] for p in points] == [at(3), at(0)]
    # a buffered upload arrives late: a missing day, and an earlier reading of a known day
    post(client, fleet.operator, reading(a, at(2), battery_soh=94.5),
         reading(a, at(3, -2), battery_soh=95.5))
    points = health(client, fleet.operator, a)["trend"]["battery_soh"]["points"]
    assert [(p["at"], p["value"]) for p in points] == [
        (at(3, -2), 95.5), (at(2), 94.5), (at(0), 93.0)]
    # later the same day changes nothing; earlier the same day takes the day's point
    post(client, fleet.operator, reading(a, at(0, -1), battery_soh=93.5))
    points = health(client, fleet.operator, a)["trend"]["battery_soh"]["points"]
    assert points[-1] == {"at": at(0, -1), "value": 93.5}
    assert health(client, fleet.operator, a)["at"] == at(0)
