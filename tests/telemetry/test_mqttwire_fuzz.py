"""Fuzzing the hand-written MQTT 5 reader: every packet type it reads (PUBLISH with properties,
CONNACK, SUBACK, PINGRESP, PUBACK, DISCONNECT, variable byte integers, whole packets off a
socket). Any bytes either parse or raise MqttError,
never another exception or a read past a packet; real packets, however the stream is cut,
parse back exactly."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from robopass.telemetry import mqttwire


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300), st.booleans())
def test_any_bytes_parse_or_raise_mqtt_error(data: bytes, v5: bool) -> None:
    try:
        messages, acks, others, used = mqttwire.parse(data, v5=v5)
    except mqttwire.MqttError:
        return
    assert 0 <= used <= len(data)
    assert all(isinstance(t, str) and isinstance(p, bytes) for t, p, _ in messages)
    assert all(0 <= a <= 0xFFFF for a in acks)
    assert all(0 <= k <= 15 for k in others)


_packets = st.lists(st.tuples(st.text(min_size=1, max_size=40).filter(lambda t: "\x00" not in t),
                              st.binary(max_size=400), st.integers(1, 0xFFFF),
                              st.sampled_from([0, 1])), min_size=1, max_size=8)


@settings(max_examples=200, deadline=None)
@given(_packets, st.booleans(), st.data())
def test_real_packets_parse_back_however_the_stream_is_cut(packets, v5, data) -> None:  # type: ignore[no-untyped-def]
    stream = b"".join(mqttwire.publish_packet(t, p, packet_id=pid, qos=q, v5=v5)
                      for t, p, pid, q in packets)
    want = [(t, p, pid if q else 0) for t, p, pid, q in packets]
    cut = data.draw(st.integers(0, len(stream)))
    first = mqttwire.parse(stream[:cut], v5=v5)
    rest = mqttwire.parse(stream, first[3], v5=v5)
    assert first[0] + rest[0] == want
    assert first[1] + rest[1] == [pid for t, p, pid, q in packets if q]
    assert rest[3] == len(stream)


# --- every other packet the subscriber reads: CONNACK, SUBACK, PINGRESP, DISCONNECT, PUBACK,
# --- variable byte integers, PUBLISH properties, and whole packets off a socket

@settings(max_examples=300, deadline=None)
@given(st.integers(0, 268_435_455))
def test_variable_byte_integers_round_trip(n: int) -> None:
    raw = mqttwire._encode_varint(n)
    assert 1 <= len(raw) <= 4
    assert mqttwire._varint(raw + b"tail", 0) == (n, len(raw))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_any_connack_or_suback_body_parses_or_raises_mqtt_error(body: bytes) -> None:
    for parse_one in (mqttwire.connack_reason,
                      lambda b: mqttwire.suback_reasons(b),
                      lambda b: mqttwire.suback_reasons(b, v5=False)):
        try:
            result = parse_one(body)
        except mqttwire.MqttError:
            continue
        values = result if isinstance(result, list) else [result]
        assert all(0 <= v <= 255 for v in values)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 0xFFFF), st.binary(max_size=40), st.lists(st.integers(0, 255),
                                                                 min_size=1, max_size=4))
def test_suback_reasons_after_any_properties(packet_id: int, props: bytes,
                                             reasons: list[int]) -> None:
    body = (packet_id.to_bytes(2, "big") + mqttwire._encode_varint(len(props)) + props
            + bytes(reasons))
    assert mqttwire.suback_reasons(body) == reasons


_control = st.sampled_from([
    bytes([mqttwire.CONNACK << 4, 3, 0, 0, 0]),                    # v5, no properties
    bytes([mqttwire.SUBACK << 4, 4, 0, 1, 0, 1]),
    bytes([mqttwire.PINGRESP << 4, 0]),
    bytes([mqttwire.PUBACK << 4, 2, 0, 9]),
    bytes([mqttwire.DISCONNECT << 4, 2, 0x8E, 0]),                 # session taken over
])
_publish = st.tuples(st.text(min_size=1, max_size=20).filter(lambda t: "\x00" not in t),
                     st.binary(max_size=60), st.integers(1, 0xFFFF),
                     st.binary(max_size=30))  # raw v5 property bytes, skipped by length


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(_control, _publish), min_size=1, max_size=10), st.data())
def test_mixed_streams_keep_every_packet_in_order(items, data) -> None:  # type: ignore[no-untyped-def]
    stream = b""
    want_messages, want_others = [], []
    for item in items:
        if isinstance(item, bytes):
            stream += item
            want_others.append(item[0] >> 4)
            continue
        topic, payload, pid, props = item
        body = (mqttwire._string(topic) + pid.to_bytes(2, "big")
                + mqttwire._encode_varint(len(props)) + props + payload)
        stream += mqttwire._packet((mqttwire.PUBLISH << 4) | 0x02, body)
        want_messages.append((topic, payload, pid))
    cut = data.draw(st.integers(0, len(stream)))
    first = mqttwire.parse(stream[:cut])
    rest = mqttwire.parse(stream, first[3])
    assert first[0] + rest[0] == want_messages
    assert first[2] + rest[2] == want_others
    assert rest[3] == len(stream)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200))
def test_reading_whole_packets_off_a_socket_never_hangs_or_overreads(data: bytes) -> None:
    """The handshake reader (CONNACK, SUBACK, early PUBLISH): any bytes followed by the
    broker closing the connection give packets or MqttError, never another exception."""
    import socket

    a, b = socket.socketpair()
    try:
        a.sendall(data)
        a.close()
        sub = mqttwire.Subscriber("127.0.0.1", 1, client_id="fuzz")
        seen = 0
        while True:
            try:
                kind, body = sub._read_packet(b)
            except mqttwire.MqttError:
                break
            assert 0 <= kind <= 15
            seen += len(sub._raw)
            assert seen <= len(data)
    finally:
        b.close()
