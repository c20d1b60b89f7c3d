"""The minimal MQTT subscriber's packet parser (pure)."""

from __future__ import annotations

from robopass.telemetry import mqttwire


def test_parse_complete_and_partial_packets():
    big = b"x" * 300  # remaining length needs two bytes
    stream = (mqttwire.publish_packet("a/b", b"one", packet_id=7)
              + mqttwire.publish_packet("a/c", big, packet_id=300)
              + mqttwire.publish_packet("a/d", b"q0", qos=0)
              + bytes([mqttwire.PINGRESP << 4, 0]))
    messages, acks, others, used = mqttwire.parse(stream)
    assert messages == [("a/b", b"one"), ("a/c", big), ("a/d", b"q0")]
    assert acks == [7, 300] and others == [mqttwire.PINGRESP] and used == len(stream)
    for cut in range(1, len(stream)):
        first = mqttwire.parse(stream[:cut])
        rest = mqttwire.parse(stream, first[3])
        assert first[0] + rest[0] == messages
        assert first[1] + rest[1] == acks
