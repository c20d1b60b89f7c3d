"""MQTT ingest: signed payloads verified and stored through the HTTP path; a real broker."""

from __future__ import annotations

import hmac
import threading
import time
import uuid

import orjson
import pytest

from robopass.db import reading as read_tx
from robopass.telemetry import mqtt, service
from tests.conftest import require_service
from tests.telemetry.conftest import broker_available, make_fleet, ts

BROKER = "mqtt://127.0.0.1:1883"


def body(at: str, **metrics) -> bytes:  # type: ignore[no-untyped-def]
    return orjson.dumps({"at": at, "metrics": metrics or {"battery_soh": 93.0}})


def stored(url: str, code: str) -> int:
    with read_tx(url) as session:
        from datetime import UTC, datetime, timedelta

        now = datetime.now(UTC)
        return len(service.readings_between(session, code=code, start=now - timedelta(days=1),
                                            end=now + timedelta(minutes=5)))


def test_sign_and_verify_without_a_broker(client):
    fleet = make_fleet(client, 2)
    a, b = fleet.codes
    key = fleet.operator.key
    ingestor = mqtt.Ingestor(client.registry.url)
    topic = mqtt.TOPIC_PREFIX + a
    good = mqtt.sign(key, topic, body(ts(3)))
    ingestor.process([
        (topic, good),                                                    # ok
        (topic, good),                                                    # duplicate
        (topic, mqtt.sign(key, topic, orjson.dumps({"code": a, "at": ts(2),
                                                    "metrics": {"accuracy": 99.0}}))),  # ok
        (topic, mqtt.sign(key, topic, orjson.dumps([{"at": ts(1), "metrics": {"accuracy": 98}},
                                                    {"at": ts(0.5),
                                                     "metrics": {"accuracy": 250}}]))),
        (mqtt.TOPIC_PREFIX + b, good),                                    # signed for a's topic
        (topic, good.replace(b"93.0", b"13.0")),                          # body tampered
        (topic, body(ts(4))),                                             # unsigned
        (topic, mqtt.sign("rp_000000000000_nope", topic, body(ts(4)))),   # unknown key
        (topic, mqtt.sign(key, topic, orjson.dumps({"code": b, "at": ts(2),
                                                    "metrics": {"accuracy": 99.0}}))),
    ])
    stats = ingestor.stats
    assert stats.received == 9
    assert stats.stored == 3 and stats.duplicates == 1
    assert stats.bad_signature == 4
    assert stats.rejected == 4 + 2  # bad signatures, SoH/accuracy 250, code not its topic's
    assert stored(client.registry.url, a) == 3
    assert stored(client.registry.url, b) == 0


def test_another_operators_unit_is_not_theirs(client):
    fleet = make_fleet(client, 1)
    stranger = client.org("operator")
    topic = mqtt.TOPIC_PREFIX + fleet.codes[0]
    ingestor = mqtt.Ingestor(client.registry.url)
    ingestor.process([(topic, mqtt.sign(stranger.key, topic, body(ts(1))))])
    assert ingestor.stats.stored == 0
    assert any("not yours" in r for r in ingestor.stats.reasons)


@pytest.mark.mqtt
def test_end_to_end_through_mosquitto(client):
    require_service(broker_available(), "Mosquitto on 127.0.0.1:1883")
    import paho.mqtt.client as paho

    fleet = make_fleet(client, 2)
    url = client.registry.url
    ready, stop = threading.Event(), threading.Event()
    result: dict[str, mqtt.IngestStats] = {}
    worker = threading.Thread(target=lambda: result.setdefault("stats", mqtt.run(
        url, BROKER, ready=ready, stop=stop, flush_ms=50)), daemon=True)
    worker.start()
    assert ready.wait(15), "the ingestor did not subscribe"
    pub = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}")
    pub.connect("127.0.0.1", 1883)
    pub.loop_start()
    try:
        infos = []
        for i, code in enumerate(fleet.codes):
            topic = mqtt.TOPIC_PREFIX + code
            for k in range(5):
                payload = mqtt.sign(fleet.operator.key, topic,
                                    body(ts(10 - k - i * 0.1), battery_soh=90.0 - k))
                infos.append(pub.publish(topic, payload, qos=1))
        infos.append(pub.publish(mqtt.TOPIC_PREFIX + fleet.codes[0], body(ts(0.5)), qos=1))
        for info in infos:
            info.wait_for_publish(10)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (stored(url, fleet.codes[0]) < 5
                                               or stored(url, fleet.codes[1]) < 5):
            time.sleep(0.1)
    finally:
        stop.set()
        worker.join(15)
        pub.loop_stop()
        pub.disconnect()
    assert stored(url, fleet.codes[0]) == 5 and stored(url, fleet.codes[1]) == 5
    assert result["stats"].bad_signature >= 1  # the unsigned one
    with read_tx(url) as session:
        assert service.health(session, fleet.codes[0])["metrics"]["battery_soh"] == 86.0


@pytest.mark.mqtt
def test_simulator_over_mqtt(client):
    require_service(broker_available(), "Mosquitto on 127.0.0.1:1883")
    from robopass.cli.telemetry import _mqtt_sender
    from robopass.telemetry import simulator

    fleet = make_fleet(client, 2)
    url = client.registry.url
    ready, stop = threading.Event(), threading.Event()
    worker = threading.Thread(target=mqtt.run, args=(url, BROKER),
                              kwargs={"ready": ready, "stop": stop, "flush_ms": 50},
                              daemon=True)
    worker.start()
    assert ready.wait(15)
    send = _mqtt_sender(BROKER, fleet.operator.key)
    clock = [time.time() - 60]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    try:
        stats = simulator.run(fleet.codes, interval_s=10, send=send, seed=2, duration_s=30,
                              clock=lambda: clock[0], sleep=sleep)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and sum(stored(url, c) for c in fleet.codes) \
                < stats.sent:
            time.sleep(0.1)
    finally:
        stop.set()
        worker.join(15)
    assert stats.sent >= 4
    assert sum(stored(url, c) for c in fleet.codes) == stats.sent


@pytest.mark.mqtt
def test_a_batch_that_fails_to_store_is_not_acknowledged(client, monkeypatch):
    """At least once: storage fails, the ingestor stops without acknowledging; restarted with
    the same client id, it gets the messages again from the broker and stores them."""
    require_service(broker_available(), "Mosquitto on 127.0.0.1:1883")
    from robopass.telemetry import mqttwire

    fleet = make_fleet(client, 1)
    url = client.registry.url
    code = fleet.codes[0]
    topic = mqtt.TOPIC_PREFIX + code
    client_id = f"robopass-test-{uuid.uuid4().hex[:8]}"
    payloads = [mqtt.sign(fleet.operator.key, topic, body(ts(10 - k), battery_soh=90.0 - k))
                for k in range(5)]

    def publish() -> None:
        import socket

        with socket.create_connection(("127.0.0.1", 1883), timeout=5) as pub:
            pub.sendall(mqttwire.connect_packet(f"pub-{uuid.uuid4().hex[:8]}"))
            assert pub.recv(4)[0] >> 4 == mqttwire.CONNACK
            pub.sendall(b"".join(mqttwire.publish_packet(topic, p, packet_id=i + 1)
                                 for i, p in enumerate(payloads)))
            got = b""
            while len(got) < 4 * len(payloads):
                got += pub.recv(4096)

    real_process = mqtt.Ingestor.process

    def broken(self, messages):  # type: ignore[no-untyped-def]
        from sqlalchemy.exc import OperationalError

        raise OperationalError("INSERT", {}, Exception("database is down"))

    # first run: subscribe (persistent session), receive, fail to store
    monkeypatch.setattr(mqtt.Ingestor, "process", broken)
    ready = threading.Event()
    failure: list[BaseException] = []

    def first_run() -> None:
        try:
            mqtt.run(url, BROKER, client_id=client_id, ready=ready, flush_ms=50,
                     duration_s=20)
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            failure.append(exc)

    worker = threading.Thread(target=first_run, daemon=True)
    worker.start()
    assert ready.wait(15)
    publish()
    worker.join(20)
    assert failure and "database is down" in str(failure[0])
    assert stored(url, code) == 0

    # restarted with storage working: the broker sends the unacknowledged messages again
    # (other tests' ingestors and messages may share the broker: only our database counts)
    monkeypatch.setattr(mqtt.Ingestor, "process", real_process)
    stop = threading.Event()

    def until_stored() -> None:
        deadline = time.monotonic() + 20
        while stored(url, code) < 5 and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()

    threading.Thread(target=until_stored, daemon=True).start()
    stats = mqtt.run(url, BROKER, client_id=client_id, flush_ms=50, stop=stop, duration_s=25)
    assert stats.stored == 5 and stored(url, code) == 5
    # and acknowledged: the session has nothing of ours to send again
    again = mqtt.run(url, BROKER, client_id=client_id, flush_ms=50, duration_s=1.5)
    assert again.stored == 0 and again.duplicates == 0
    # end the persistent session on the broker (a clean start with the same id)
    ender = mqttwire.Subscriber("127.0.0.1", 1883, client_id=client_id, clean_session=True)
    ender.connect(mqtt.TOPIC_FILTER)
    ender.close()


@pytest.mark.parametrize("key", [b"", b"k" * 32, b"k" * 64, bytes(range(100))])
def test_hmac_states_give_the_hmac(key):
    inner, outer = mqtt.hmac_states(key)
    for message in (b"", b"robopass/v1/telemetry/X\n{}", bytes(range(256)) * 3):
        mac = inner.copy()
        mac.update(message)
        final = outer.copy()
        final.update(mac.digest())
        assert final.digest() == hmac.digest(key, message, "sha256")


def test_a_topic_outside_the_telemetry_tree_is_refused(client):
    fleet = make_fleet(client, 1)
    key = fleet.operator.key
    ingestor = mqtt.Ingestor(client.registry.url)
    messages = []
    code = fleet.codes[0]
    for topic in (mqtt.TOPIC_PREFIX + code + "/x", "other/v1/telemetry/" + code):
        messages += [(topic, mqtt.sign(key, topic, body(ts(1))))] * 2  # twice: not remembered
    ingestor.process(messages)
    assert ingestor.stats.rejected == 4 and ingestor.stats.stored == 0
    assert set(ingestor.stats.reasons) == {"topic is not robopass/v1/telemetry/{code}"}
