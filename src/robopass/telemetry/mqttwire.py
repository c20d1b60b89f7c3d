"""A minimal MQTT 5 subscriber, built for one job: receiving many small QoS 1 messages and
acknowledging them only once they are stored.

Why not paho-mqtt here: paho parses and acknowledges one message at a time in Python (about
37 µs of CPU per message on the 2-core reference machine), which alone caps one subscriber
below the 20,000 messages/s target. This client reads the socket in large chunks and parses
every complete PUBLISH in the chunk in one loop; its owner acknowledges a whole stored batch in
one write (:meth:`Subscriber.ack`).

Why MQTT 5: a 3.1.1 broker sends a subscriber at most a fixed number of unacknowledged QoS 1
messages (Mosquitto's ``max_inflight_messages``, default 20), so acknowledging after the
database commit would stall it. An MQTT 5 client states its own limit in CONNECT (Receive
Maximum, here 65,535), which the broker honours for what it sends to that client. It speaks
only what a subscriber needs (CONNECT, SUBSCRIBE, PUBLISH QoS 0/1 in, PUBACK, PINGREQ,
DISCONNECT; OASIS MQTT 5.0 §3), optionally over TLS and with a user name and password, and is
tested against the real Mosquitto broker. Publishers
(the simulator, tests, benchmarks) may speak either version.
"""

from __future__ import annotations

import select
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK = 1, 2, 3, 4, 8, 9
PINGREQ, PINGRESP, DISCONNECT = 12, 13, 14
#: What this subscriber tells the broker it can hold unacknowledged (the protocol's maximum).
RECEIVE_MAXIMUM = 65_535
#: Session Expiry Interval of a named (persistent) session: "never expires", as 3.1.1's
#: ``clean_session=False`` sessions behaved.
NEVER_EXPIRES = 0xFFFFFFFF
#: A read shorter than this is followed by ``Subscriber.coalesce_s`` of waiting
COALESCE_BYTES = 64 * 1024


class MqttError(ConnectionError):
    pass


def _string(value: str) -> bytes:
    raw = value.encode()
    return struct.pack("!H", len(raw)) + raw


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + _encode_varint(len(body)) + body


def _varint(buf: bytearray | bytes, i: int, end: int | None = None) -> tuple[int, int]:
    """A variable byte integer at ``buf[i:end]``: ``(value, index after it)``."""
    value, mult = 0, 1
    stop = len(buf) if end is None else end
    while True:
        if i >= stop:
            raise MqttError("truncated variable byte integer")
        byte = buf[i]
        value += (byte & 0x7F) * mult
        i += 1
        if not byte & 0x80:
            return value, i
        mult *= 128
        if mult > 128 ** 3:
            raise MqttError("malformed variable byte integer")


def _encode_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n % 128
        n //= 128
        out.append(byte | 0x80 if n else byte)
        if not n:
            return bytes(out)


Message = tuple[str, bytes, int]  # topic, payload, packet id (0 for QoS 0)


def parse(buf: bytearray | bytes, start: int = 0, *, v5: bool = True
          ) -> tuple[list[Message], list[int], list[int], int]:
    """Parse every complete packet in ``buf[start:]`` (MQTT 5, or 3.1.1 with ``v5=False``).

    Returns ``(messages, packet_ids_to_acknowledge, other_packet_types, consumed_to)``; an
    incomplete packet at the end is left for the next read. The loop is the reader's hot
    path (one pass per PUBLISH): a remaining length of one or two bytes and a PUBLISH without
    properties take the shortest way; anything else the general one (:func:`_publish`).
    """
    messages: list[Message] = []
    acks: list[int] = []
    others: list[int] = []
    add, ack = messages.append, acks.append
    pos = start
    end = len(buf)
    while pos + 2 <= end:
        first = buf[pos]
        byte = buf[pos + 1]
        if byte < 0x80:
            length, i = byte, pos + 2
        elif pos + 2 < end and buf[pos + 2] < 0x80:
            length, i = (byte & 0x7F) | (buf[pos + 2] << 7), pos + 3
        else:
            try:
                length, i = _varint(buf, pos + 1, min(end, pos + 5))
            except MqttError:
                if end - pos < 5:  # truncated: wait for the rest
                    break
                raise MqttError("malformed remaining length") from None
        stop = i + length
        if stop > end:
            break
        if first == 0x32 and v5 and i + 5 <= stop:  # PUBLISH, QoS 1, no DUP/RETAIN
            j = i + 2 + ((buf[i] << 8) | buf[i + 1])
            if j + 3 <= stop and buf[j + 2] == 0:  # no properties
                packet_id = (buf[j] << 8) | buf[j + 1]
                ack(packet_id)
                add((buf[i + 2:j].decode("utf-8", "replace"), bytes(buf[j + 3:stop]),
                     packet_id))
                pos = stop
                continue
        if first >> 4 == PUBLISH:
            message = _publish(buf, first, i, stop, v5)
            if message[2]:
                ack(message[2])
            add(message)
        else:
            others.append(first >> 4)
        pos = stop
    return messages, acks, others, pos


def _publish(buf: bytearray | bytes, first: int, i: int, stop: int, v5: bool) -> Message:
    """The PUBLISH whose variable header starts at ``buf[i]`` and which ends at ``stop``."""
    qos = (first >> 1) & 3
    if qos == 3 or i + 2 > stop:
        raise MqttError("malformed PUBLISH")
    tlen = (buf[i] << 8) | buf[i + 1]
    j = i + 2 + tlen
    if j > stop:
        raise MqttError("malformed PUBLISH")
    topic = bytes(buf[i + 2:j]).decode("utf-8", "replace")
    packet_id = 0
    if qos:
        if j + 2 > stop:
            raise MqttError("malformed PUBLISH")
        packet_id = (buf[j] << 8) | buf[j + 1]
        j += 2
    if v5:  # properties (a subscriber with Topic Alias Maximum 0 needs none of them)
        if j >= stop:
            raise MqttError("malformed PUBLISH")
        if buf[j] == 0:  # none: one byte
            j += 1
        else:  # (never slice ``buf`` here: it holds the whole socket read)
            size, j = _varint(buf, j, stop)
            j += size
    if j > stop:
        raise MqttError("malformed PUBLISH")
    return topic, bytes(buf[j:stop]), packet_id


def publish_packet(topic: str, payload: bytes, *, packet_id: int = 1, qos: int = 1,
                   v5: bool = False) -> bytes:
    """One PUBLISH packet (for fast test and benchmark publishers; 3.1.1 unless ``v5``)."""
    body = (_string(topic) + (struct.pack("!H", packet_id) if qos else b"")
            + (b"\x00" if v5 else b"") + payload)
    return _packet((PUBLISH << 4) | (qos << 1), body)


def connect_packet(client_id: str, *, clean_session: bool = True, keepalive: int = 30,
                   v5: bool = False, username: str | None = None,
                   password: str | None = None) -> bytes:
    """CONNECT; an MQTT 5 one states the Receive Maximum and, for a persistent session
    (``clean_session`` False), that the session never expires. ``username``/``password`` set
    the User Name and Password flags (§3.1.2.8-9)."""
    flags = 0x02 if clean_session else 0
    login = b""
    if username is not None:
        flags |= 0x80
        login += _string(username)
    if password is not None:
        flags |= 0x40
        raw = password.encode()
        login += struct.pack("!H", len(raw)) + raw
    if not v5:
        return _packet(CONNECT << 4, _string("MQTT") + bytes([4, flags])
                       + struct.pack("!H", keepalive) + _string(client_id) + login)
    props = bytes([0x21]) + struct.pack("!H", RECEIVE_MAXIMUM)
    if not clean_session:
        props += bytes([0x11]) + struct.pack("!I", NEVER_EXPIRES)
    return _packet(CONNECT << 4, _string("MQTT") + bytes([5, flags])
                   + struct.pack("!H", keepalive) + _encode_varint(len(props)) + props
                   + _string(client_id) + login)


def connack_reason(body: bytes) -> int:
    """The reason code of a CONNACK's body (0 = accepted), or raise :class:`MqttError`."""
    if len(body) < 2:
        raise MqttError("malformed CONNACK")
    return body[1]


def suback_reasons(body: bytes, *, v5: bool = True) -> list[int]:
    """The reason codes of a SUBACK's body (one per topic filter; >= 0x80 is a refusal)."""
    if len(body) < 3:
        raise MqttError("malformed SUBACK")
    j = 2
    if v5:
        size, j = _varint(body, 2)
        j += size
    if j >= len(body):
        raise MqttError("malformed SUBACK")
    return list(body[j:])


def puback_packets(packet_ids: list[int]) -> bytes:
    """PUBACKs with success (MQTT 5 lets a success omit its reason code: 2 bytes each)."""
    # one struct call for the lot: each is 0x40 0x02 and the 16-bit packet id, one 32-bit word
    return struct.pack(f"!{len(packet_ids)}I", *[0x40020000 | a for a in packet_ids])


class Subscriber:
    """Connect (MQTT 5), subscribe, and hand batches of ``(topic, payload, packet_id)`` to
    ``on_messages`` from a reader thread. QoS 1 messages are acknowledged only when the owner
    calls :meth:`ack` (after storing them); until then the broker keeps them and, for a
    persistent session, sends them again after a reconnect."""

    def __init__(self, host: str, port: int, *, client_id: str, clean_session: bool = True,
                 keepalive: int = 30, tls: ssl.SSLContext | None = None,
                 username: str | None = None, password: str | None = None,
                 coalesce_s: float = 0.0) -> None:
        self.host, self.port = host, port
        #: after a read of less than COALESCE_BYTES, wait this long before reading again
        self.coalesce_s = coalesce_s
        self.client_id = client_id
        self.clean_session = clean_session
        self.keepalive = keepalive
        self.tls = tls
        self.username, self.password = username, password
        self.sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._last_sent = 0.0
        self._raw = b""
        #: PUBLISH packets that arrived while subscribing (the reader thread starts with them)
        self._early = bytearray()
        self.error: BaseException | None = None

    def connect(self, topic: str, qos: int = 1, timeout: float = 10.0) -> None:
        sock = socket.create_connection((self.host, self.port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        if self.tls is not None:
            try:
                sock = self.tls.wrap_socket(sock, server_hostname=self.host)
            except (ssl.SSLError, OSError):
                sock.close()
                raise
        try:
            self._handshake(sock, topic, qos)
        except BaseException:
            sock.close()
            raise
        sock.settimeout(1.0)
        self.sock = sock

    def _handshake(self, sock: socket.socket, topic: str, qos: int) -> None:
        sock.sendall(connect_packet(self.client_id, clean_session=self.clean_session,
                                    keepalive=self.keepalive, v5=True,
                                    username=self.username, password=self.password))
        kind, body = self._read_packet(sock)
        if kind != CONNACK:
            raise MqttError(f"expected CONNACK, got packet type {kind}")
        code = connack_reason(body)
        if code != 0:
            why = {0x86: "bad user name or password", 0x87: "not authorized"}.get(code, "")
            raise MqttError(f"broker refused the connection (reason code {code:#x}"
                            + (f": {why})" if why else ")"))
        sock.sendall(_packet((SUBSCRIBE << 4) | 0x02,
                             struct.pack("!H", 1) + b"\x00" + _string(topic) + bytes([qos])))
        # a persistent session's queued messages may come before the SUBACK: keep them
        kind, body = self._read_packet(sock)
        while kind == PUBLISH:
            self._early += self._raw
            kind, body = self._read_packet(sock)
        if kind != SUBACK:
            raise MqttError(f"broker refused the subscription to {topic}")
        reasons = suback_reasons(body)
        if not reasons or reasons[0] >= 0x80:
            raise MqttError(f"broker refused the subscription to {topic} "
                            f"(reason code {reasons[0] if reasons else None})")

    def _read_packet(self, sock: socket.socket) -> tuple[int, bytes]:
        """One whole packet: ``(type, body)``; its bytes stay in ``_raw``."""
        head = self._read_exact(sock, 1)
        length, mult = 0, 1
        while True:
            byte = self._read_exact(sock, 1)
            head += byte
            length += (byte[0] & 0x7F) * mult
            if not byte[0] & 0x80:
                break
            mult *= 128
            if mult > 128 ** 3:
                raise MqttError("malformed remaining length")
        body = self._read_exact(sock, length) if length else b""
        self._raw = head + body
        return head[0] >> 4, body

    @staticmethod
    def _read_exact(sock: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise MqttError("the broker closed the connection")
            data += chunk
        return data

    def start(self, on_messages: Callable[[list[Message]], None]) -> None:
        self._thread = threading.Thread(target=self._loop, args=(on_messages,),
                                        name="mqtt-reader", daemon=True)
        self._thread.start()

    def _send(self, data: bytes) -> None:
        assert self.sock is not None
        with self._lock:
            self.sock.sendall(data)
            self._last_sent = time.monotonic()

    def ack(self, packet_ids: list[int]) -> None:
        """Acknowledge these QoS 1 messages (one write), once they are stored."""
        ids = [i for i in packet_ids if i]
        if ids:
            self._send(puback_packets(ids))

    def _loop(self, on_messages: Callable[[list[Message]], None]) -> None:
        sock = self.sock
        assert sock is not None
        buf, self._early = self._early, bytearray()
        if buf:
            messages, _acks, _others, used = parse(buf)
            del buf[:used]
            if messages:
                on_messages(messages)
        chunk = bytearray(1 << 20)
        view = memoryview(chunk)
        self._last_sent = time.monotonic()
        try:
            while not self._closing.is_set():
                n = self._recv(sock, view)
                if n == 0:
                    raise MqttError("the broker closed the connection")
                if n > 0:
                    buf += view[:n]
                    messages, _acks, others, used = parse(buf)
                    if used:
                        del buf[:used]
                    if messages:
                        on_messages(messages)
                    if DISCONNECT in others:
                        raise MqttError("the broker disconnected this client")
                    if n < COALESCE_BYTES and self.coalesce_s:
                        time.sleep(self.coalesce_s)  # let more arrive: fewer, larger reads
                if time.monotonic() - self._last_sent > self.keepalive / 2:
                    self._send(bytes([PINGREQ << 4, 0]))
        except BaseException as exc:  # surfaced to the owner through ``error``
            if not self._closing.is_set():
                self.error = exc

    def _recv(self, sock: socket.socket, view: memoryview) -> int:
        """Bytes read into ``view`` (0: closed, -1: nothing within the poll interval).

        A plain socket is read and written by two threads at once. A TLS connection is one
        OpenSSL object, which must not be, so it is read only when data is waiting and under
        the same lock as :meth:`_send` (whose PUBACK writes then wait at most for one read)."""
        if not isinstance(sock, ssl.SSLSocket):
            try:
                return sock.recv_into(view)
            except TimeoutError:
                return -1
        if not sock.pending() and not select.select([sock], [], [], 0.2)[0]:
            return -1
        with self._lock:
            try:
                return sock.recv_into(view)
            except (TimeoutError, ssl.SSLWantReadError):
                return -1

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
