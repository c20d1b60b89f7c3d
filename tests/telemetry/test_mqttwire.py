"""The minimal MQTT subscriber: its packet parser (pure) and, against the real Mosquitto,
acknowledgement only when its owner says so."""

from __future__ import annotations

import socket
import time
import uuid

from robopass.telemetry import mqttwire
from tests.conftest import require_service
from tests.telemetry.conftest import broker_available


def test_parse_complete_and_partial_packets():
    big = b"x" * 300  # remaining length needs two bytes
    for v5 in (True, False):
        stream = (mqttwire.publish_packet("a/b", b"one", packet_id=7, v5=v5)
                  + mqttwire.publish_packet("a/c", big, packet_id=300, v5=v5)
                  + mqttwire.publish_packet("a/d", b"q0", qos=0, v5=v5)
                  + bytes([mqttwire.PINGRESP << 4, 0]))
        messages, acks, others, used = mqttwire.parse(stream, v5=v5)
        assert messages == [("a/b", b"one", 7), ("a/c", big, 300), ("a/d", b"q0", 0)]
        assert acks == [7, 300] and others == [mqttwire.PINGRESP] and used == len(stream)
        for cut in range(1, len(stream)):
            first = mqttwire.parse(stream[:cut], v5=v5)
            rest = mqttwire.parse(stream, first[3], v5=v5)
            assert first[0] + rest[0] == messages
            assert first[1] + rest[1] == acks


def test_v5_publish_properties_are_skipped():
    props = bytes([0x01, 0x01, 0x03]) + mqttwire._string("application/json")  # format, type
    body = mqttwire._string("t/x") + b"\x00\x05" + mqttwire._encode_varint(len(props)) + props
    packet = mqttwire._packet((mqttwire.PUBLISH << 4) | 0x02, body + b'{"a":1}')
    assert mqttwire.parse(packet)[0] == [("t/x", b'{"a":1}', 5)]


def _publish(topic: str, payloads: list[bytes]) -> None:
    with socket.create_connection(("127.0.0.1", 1883), timeout=5) as pub:
        pub.sendall(mqttwire.connect_packet(f"pub-{uuid.uuid4().hex[:8]}"))
        assert pub.recv(4)[0] >> 4 == mqttwire.CONNACK
        pub.sendall(b"".join(mqttwire.publish_packet(topic, p, packet_id=i + 1)
                             for i, p in enumerate(payloads)))
        deadline = time.monotonic() + 5
        acked = b""
        while len(acked) < 4 * len(payloads) and time.monotonic() < deadline:
            acked += pub.recv(65536)


def _receive(sub: mqttwire.Subscriber, n: int, wait: float = 10) -> list[mqttwire.Message]:
    got: list[mqttwire.Message] = []
    sub.start(got.extend)
    deadline = time.monotonic() + wait
    while len(got) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    return got


def test_unacknowledged_messages_come_back_to_a_persistent_session():
    require_service(broker_available(), "Mosquitto on 127.0.0.1:1883")
    client_id = f"robopass-test-{uuid.uuid4().hex[:8]}"
    topic = f"robopass-test/{uuid.uuid4().hex[:8]}"
    payloads = [f"m{i}".encode() for i in range(100)]
    first = mqttwire.Subscriber("127.0.0.1", 1883, client_id=client_id, clean_session=False)
    first.connect(topic)
    _publish(topic, payloads)  # more than 3.1.1's 20 in flight: MQTT 5's Receive Maximum
    got = _receive(first, 100)
    assert [m[1] for m in got] == payloads
    first.ack([m[2] for m in got[:60]])  # "stored" the first 60 only, then crash
    time.sleep(0.3)
    first.close()
    again = mqttwire.Subscriber("127.0.0.1", 1883, client_id=client_id, clean_session=False)
    again.connect(topic)
    redelivered = _receive(again, 40)
    assert [m[1] for m in redelivered] == payloads[60:]
    again.ack([m[2] for m in redelivered])
    again.close()
    # all acknowledged: a third connection of the session gets nothing; then end the session
    last = mqttwire.Subscriber("127.0.0.1", 1883, client_id=client_id, clean_session=True)
    last.connect(topic)
    assert _receive(last, 1, wait=1.5) == []
    last.close()


def test_pubacks_are_two_byte_success_packets():
    assert mqttwire.puback_packets([]) == b""
    assert mqttwire.puback_packets([1, 300, 65535]) == (
        b"\x40\x02\x00\x01" + b"\x40\x02\x01\x2c" + b"\x40\x02\xff\xff")
