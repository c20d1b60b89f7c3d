"""A minimal MQTT 3.1.1 subscriber, built for one job: receiving many small QoS 1 messages.

Why not paho-mqtt here: paho parses and acknowledges one message at a time in Python (about
37 µs of CPU per message on the 2-core reference machine), which alone caps one subscriber
below the 20,000 messages/s target. This client reads the socket in large chunks, parses every
complete PUBLISH in the chunk in one loop and sends all their PUBACKs in one write, at a few
microseconds per message. It speaks only what a subscriber needs (CONNECT, SUBSCRIBE, PUBLISH
QoS 0/1 in, PUBACK, PINGREQ, DISCONNECT; OASIS MQTT 3.1.1 §3) and is tested against the real
Mosquitto broker. Publishers (the simulator, tests, benchmarks) keep using paho.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK = 1, 2, 3, 4, 8, 9
PINGREQ, PINGRESP, DISCONNECT = 12, 13, 14


class MqttError(ConnectionError):
    pass


def _string(value: str) -> bytes:
    raw = value.encode()
    return struct.pack("!H", len(raw)) + raw


def _packet(first: int, body: bytes) -> bytes:
    length = len(body)
    out = bytearray([first])
    while True:
        byte = length % 128
        length //= 128
        out.append(byte | 0x80 if length else byte)
        if not length:
            break
    return bytes(out) + body


def parse(buf: bytearray | bytes, start: int = 0
          ) -> tuple[list[tuple[str, bytes]], list[int], list[int], int]:
    """Parse every complete packet in ``buf[start:]``.

    Returns ``(messages, puback_ids, other_packet_types, consumed_to)``; an incomplete packet
    at the end is left for the next read.
    """
    messages: list[tuple[str, bytes]] = []
    acks: list[int] = []
    others: list[int] = []
    pos = start
    end = len(buf)
    while pos + 2 <= end:
        first = buf[pos]
        # remaining length: up to 4 bytes, 7 bits each
        length = 0
        mult = 1
        i = pos + 1
        while True:
            if i >= end:
                return messages, acks, others, pos
            byte = buf[i]
            length += (byte & 0x7F) * mult
            i += 1
            if not byte & 0x80:
                break
            mult *= 128
            if mult > 128 ** 3:
                raise MqttError("malformed remaining length")
        stop = i + length
        if stop > end:
            break
        kind = first >> 4
        if kind == PUBLISH:
            qos = (first >> 1) & 3
            tlen = (buf[i] << 8) | buf[i + 1]
            topic = bytes(buf[i + 2:i + 2 + tlen]).decode("utf-8", "replace")
            j = i + 2 + tlen
            if qos:
                acks.append((buf[j] << 8) | buf[j + 1])
                j += 2
            messages.append((topic, bytes(buf[j:stop])))
        else:
            others.append(kind)
        pos = stop
    return messages, acks, others, pos


def publish_packet(topic: str, payload: bytes, *, packet_id: int = 1, qos: int = 1) -> bytes:
    """One PUBLISH packet (for fast test and benchmark publishers)."""
    body = _string(topic) + (struct.pack("!H", packet_id) if qos else b"") + payload
    return _packet((PUBLISH << 4) | (qos << 1), body)


def connect_packet(client_id: str, *, clean_session: bool = True, keepalive: int = 30) -> bytes:
    return _packet(CONNECT << 4, _string("MQTT") + bytes([4, 0x02 if clean_session else 0])
                   + struct.pack("!H", keepalive) + _string(client_id))


class Subscriber:
    """Connect, subscribe, and hand batches of ``(topic, payload)`` to ``on_messages`` from a
    reader thread; QoS 1 messages are acknowledged as soon as they are parsed."""

    def __init__(self, host: str, port: int, *, client_id: str, clean_session: bool = True,
                 keepalive: int = 30) -> None:
        self.host, self.port = host, port
        self.client_id = client_id
        self.clean_session = clean_session
        self.keepalive = keepalive
        self.sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self.error: BaseException | None = None

    def connect(self, topic: str, qos: int = 1, timeout: float = 10.0) -> None:
        sock = socket.create_connection((self.host, self.port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        sock.sendall(connect_packet(self.client_id, clean_session=self.clean_session,
                                    keepalive=self.keepalive))
        head = self._read_exact(sock, 4)
        if head[0] >> 4 != CONNACK or head[3] != 0:
            sock.close()
            raise MqttError(f"broker refused the connection (return code {head[3]})")
        sock.sendall(_packet((SUBSCRIBE << 4) | 0x02,
                             struct.pack("!H", 1) + _string(topic) + bytes([qos])))
        head = self._read_exact(sock, 5)
        if head[0] >> 4 != SUBACK or head[4] == 0x80:
            sock.close()
            raise MqttError(f"broker refused the subscription to {topic}")
        sock.settimeout(1.0)
        self.sock = sock

    @staticmethod
    def _read_exact(sock: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise MqttError("the broker closed the connection")
            data += chunk
        return data

    def start(self, on_messages: Callable[[list[tuple[str, bytes]]], None]) -> None:
        self._thread = threading.Thread(target=self._loop, args=(on_messages,),
                                        name="mqtt-reader", daemon=True)
        self._thread.start()

    def _send(self, data: bytes) -> None:
        assert self.sock is not None
        with self._lock:
            self.sock.sendall(data)

    def _loop(self, on_messages: Callable[[list[tuple[str, bytes]]], None]) -> None:
        sock = self.sock
        assert sock is not None
        buf = bytearray()
        chunk = bytearray(1 << 20)
        view = memoryview(chunk)
        last_sent = time.monotonic()
        try:
            while not self._closing.is_set():
                try:
                    n = sock.recv_into(view)
                except TimeoutError:
                    n = -1
                if n == 0:
                    raise MqttError("the broker closed the connection")
                if n > 0:
                    buf += view[:n]
                    messages, acks, _others, used = parse(buf)
                    if used:
                        del buf[:used]
                    if acks:
                        self._send(b"".join(b"\x40\x02" + struct.pack("!H", a) for a in acks))
                        last_sent = time.monotonic()
                    if messages:
                        on_messages(messages)
                if time.monotonic() - last_sent > self.keepalive / 2:
                    self._send(bytes([PINGREQ << 4, 0]))
                    last_sent = time.monotonic()
        except BaseException as exc:  # surfaced to the owner through ``error``
            if not self._closing.is_set():
                self.error = exc

    def close(self) -> None:
        self._closing.set()
        if self.sock is not None:
            try:
                self._send(bytes([DISCONNECT << 4, 0]))
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(5)
        if self.sock is not None:
            self.sock.close()
