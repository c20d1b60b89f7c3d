"""Fuzzing the hand-written MQTT parser (pure): any bytes either parse or raise MqttError,
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
