"""MQTT past one process, against this test's OWN Mosquitto (a free port, a generated config:
password file, TLS with certificates made here; the system broker is not touched).

- the ingestor's link: TLS (the broker's certificate checked against our CA) and a broker login;
  a wrong password or an unknown CA is refused;
- ``robopass ingest mqtt --processes 2`` in one shared subscription: ``kill -9`` of one
  ingestor mid-stream loses nothing and stores nothing twice (its supervisor restarts it with
  the same client id; Mosquitto 2.0 keeps a dead member's unacknowledged messages, and the
  share it is sent while down, in that member's own session);
- what Mosquitto does with a dead shared-subscription member (the design rests on it);
- broker sizing: messages published while the ingestor is down survive with the recommended
  ``max_queued_messages`` and are dropped beyond Mosquitto's default (1000).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from robopass.db import reading as read_tx
from robopass.telemetry import mqtt, mqttwire, service
from tests.conftest import require_service
from tests.telemetry.conftest import make_fleet

pytestmark = pytest.mark.mqtt

USER, PASSWORD = "ingest", "s3cret-pw"
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Broker:
    port: int
    tls_port: int
    ca_file: str
    proc: subprocess.Popen[bytes]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 / localhost signed by it (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "robopass test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                       crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False,
                                       decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(pem))
    paths[1].write_bytes(cert.public_bytes(pem))
    paths[2].write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


def _start_broker(directory: Path, extra: str = "") -> Broker:
    require_service(shutil.which("mosquitto") is not None
                    and shutil.which("mosquitto_passwd") is not None,
                    "Debian's mosquitto (mosquitto, mosquitto_passwd)")
    directory.mkdir(parents=True, exist_ok=True)
    ca, cert, key = _certificates(directory)
    passwords = directory / "passwords"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), USER, PASSWORD],
                   check=True, capture_output=True)
    port, tls_port = _free_port(), _free_port()
    # as root, Mosquitto would switch to the "mosquitto" user, who cannot read our files
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name}\n" if os.geteuid() == 0 else ""
    conf = directory / "mosquitto.conf"
    conf.write_text(
        f"{user}per_listener_settings false\nallow_anonymous false\n"
        f"password_file {passwords}\npersistence false\nsys_interval 1\n{extra}\n"
        f"listener {port} 127.0.0.1\n"
        f"listener {tls_port} 127.0.0.1\ncafile {ca}\ncertfile {cert}\nkeyfile {key}\n")
    log = open(directory / "mosquitto.log", "wb")  # noqa: SIM115 - lives as long as the broker
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=log, stderr=log)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", tls_port), timeout=0.5).close()
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("our Mosquitto did not start: "
                    + (directory / "mosquitto.log").read_text(errors="replace")[-500:])
    return Broker(port, tls_port, str(ca), proc)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = _start_broker(tmp_path / "broker", "max_queued_messages 1000000")
    yield b
    b.proc.terminate()
    b.proc.wait(10)


def _publish(port: int, messages: list[tuple[str, bytes]], *, login: bool = True) -> None:
    """QoS 1, 3.1.1, raw socket; returns once the broker acknowledged every message."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as pub:
        pub.sendall(mqttwire.connect_packet(f"pub-{uuid.uuid4().hex[:8]}",
                                            username=USER if login else None,
                                            password=PASSWORD if login else None))
        assert pub.recv(4) == b"\x20\x02\x00\x00", "the publisher was not let in"
        for start in range(0, len(messages), 500):
            part = messages[start:start + 500]
            pub.sendall(b"".join(mqttwire.publish_packet(t, p, packet_id=start + i + 1)
                                 for i, (t, p) in enumerate(part)))
        acked = b""
        while len(acked) < 4 * len(messages):
            data = pub.recv(65536)
            assert data, "the broker closed the publisher's connection"
            acked += data


def _signed(fleet, per_unit: int) -> list[tuple[str, bytes]]:  # type: ignore[no-untyped-def]
    """``per_unit`` readings a second apart for each unit, interleaved like a live fleet."""
    base = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=per_unit + 5)
    out = []
    for k in range(per_unit):
        at = (base + dt.timedelta(seconds=k)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for code in fleet.codes:
            topic = mqtt.TOPIC_PREFIX + code
            body = orjson.dumps({"at": at, "metrics": {"battery_soh": 90.0 - k / 1000}})
            out.append((topic, mqtt.sign(fleet.operator.key, topic, body)))
    return out


def _stored(url: str, codes: list[str]) -> int:
    now = dt.datetime.now(dt.UTC)
    with read_tx(url) as session:
        return sum(len(service.readings_between(session, code=c, start=now - dt.timedelta(1),
                                                end=now + dt.timedelta(minutes=5)))
                   for c in codes)


def _await(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_tls_and_login_link(client, broker):
    fleet = make_fleet(client, 2)
    url = client.registry.url
    messages = _signed(fleet, 10)
    link = mqtt.Link.of(f"mqtts://127.0.0.1:{broker.tls_port}", username=USER,
                        password=PASSWORD, ca_file=broker.ca_file)
    ready, stop = threading.Event(), threading.Event()
    worker = threading.Thread(target=mqtt.run, args=(url, link),
                              kwargs={"ready": ready, "stop": stop, "flush_ms": 20},
                              daemon=True)
    worker.start()
    try:
        assert ready.wait(15), "the ingestor did not subscribe over TLS"
        _publish(broker.port, messages)
        _await(lambda: _stored(url, fleet.codes) >= len(messages), 30, "readings over TLS")
    finally:
        stop.set()
        worker.join(15)
    assert _stored(url, fleet.codes) == len(messages) == 20

    wrong = mqtt.Link.of(f"mqtt://127.0.0.1:{broker.port}", username=USER, password="nope")
    with pytest.raises(mqttwire.MqttError, match="refused the connection"):
        mqtt.run(url, wrong, duration_s=1)
    anonymous = mqtt.Link.of(f"mqtt://127.0.0.1:{broker.port}")
    with pytest.raises(mqttwire.MqttError, match="refused"):
        mqtt.run(url, anonymous, duration_s=1)
    untrusted = mqtt.Link.of(f"mqtts://127.0.0.1:{broker.tls_port}", username=USER,
                             password=PASSWORD)  # the system's CAs never signed our broker
    with pytest.raises(ssl.SSLCertVerificationError):
        mqtt.run(url, untrusted, duration_s=1)


def _ingest_cli(broker: Broker, url: str, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "ROBOPASS_MQTT_PASSWORD": PASSWORD,
           "ROBOPASS_MQTT_CA_FILE": broker.ca_file}
    return subprocess.Popen(
        [sys.executable, "-m", "robopass.cli", "ingest", "mqtt", "--db", url,
         "--broker", f"mqtts://127.0.0.1:{broker.tls_port}", "--username", USER,
         "--flush-ms", "50", "--batch-size", "500", *extra],
        env=env, stdout=subprocess.PIPE, text=True, start_new_session=True)


def test_kill_9_of_one_of_two_ingestors_loses_nothing(client, broker):
    """Two ingestor processes share ``$share/robopass/...``; one is killed with SIGKILL
    while messages stream in. Every (code, at) is stored exactly once."""
    fleet = make_fleet(client, 10)
    url = client.registry.url
    messages = _signed(fleet, 300)  # K = 3,000
    sup = _ingest_cli(broker, url, "--processes", "2",
                      "--client-id", f"test-{uuid.uuid4().hex[:6]}")
    events: list[dict] = []  # type: ignore[type-arg]
    reader = threading.Thread(target=lambda: events.extend(
        json.loads(line) for line in sup.stdout if line.startswith("{")),  # type: ignore[union-attr]
        daemon=True)
    reader.start()
    try:
        _await(lambda: sum("pid" in e for e in events) >= 2, 30, "two ingestors")
        # both subscribed: each client id has a session on the broker
        _await_clients(broker, 2)
        # the kill falls mid-stream: the first half is still arriving (and being stored) when
        # it comes, the second half is published while the victim is dead, so half of it is
        # queued in the victim's session, which only its restart can drain
        half = len(messages) // 2
        publisher = threading.Thread(target=_publish, args=(broker.port, messages[:half]))
        publisher.start()
        _await(lambda: _stored(url, fleet.codes) >= len(messages) // 10, 60,
               "the first readings")
        victim = next(e for e in events if "pid" in e)
        os.kill(victim["pid"], signal.SIGKILL)
        publisher.join(60)
        _publish(broker.port, messages[half:])
        _await(lambda: any(e.get("restarts") == 1 and e.get("worker") == victim["worker"]
                           for e in events), 30, "the supervisor to restart the victim")
        assert any(e.get("exited") == -9 for e in events), events
        _await(lambda: _stored(url, fleet.codes) >= len(messages), 90,
               "every reading, after the restart")
    finally:
        sup.send_signal(signal.SIGTERM)
        sup.wait(30)
        reader.join(10)
    assert _stored(url, fleet.codes) == len(messages)  # (code, at) unique: exactly once
    totals = events[-1]
    assert totals["restarts"] == 1 and sup.returncode == 0


def _await_clients(broker: Broker, n: int) -> None:
    """Until ``n`` clients besides this probe are connected to our broker (its $SYS tree,
    published every second while the count changes; the first, retained value may be
    stale, so the probe stays connected and reads the updates)."""
    got: list[int] = []
    probe = mqttwire.Subscriber("127.0.0.1", broker.port,
                                client_id=f"sys-{uuid.uuid4().hex[:6]}",
                                username=USER, password=PASSWORD)
    probe.connect("$SYS/broker/clients/connected", qos=0)
    try:
        probe.start(lambda ms: got.extend(int(m[1]) for m in ms))
        _await(lambda: bool(got) and got[-1] >= n + 1, 30, f"{n} connected ingestors")
    finally:
        probe.close()


def _outage(broker: Broker, client, n: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """A persistent ingestor session exists, the ingestor is down, ``n`` messages are
    published; then it comes back. ``(published, stored)``."""
    fleet = make_fleet(client, 10)
    url = client.registry.url
    client_id = f"outage-{uuid.uuid4().hex[:6]}"
    first = mqttwire.Subscriber("127.0.0.1", broker.port, client_id=client_id,
                                clean_session=False, username=USER, password=PASSWORD)
    first.connect(mqtt.TOPIC_FILTER)
    first.close()  # the ingestor is down; its session (and subscription) stays
    messages = _signed(fleet, n // 10)
    _publish(broker.port, messages)
    link = mqtt.Link.of(f"mqtt://127.0.0.1:{broker.port}", username=USER, password=PASSWORD)
    stop = threading.Event()
    # the broker sends the session's queue right after the reconnect: the ingestor stops
    # once every message is stored, or once nothing came for 3 s (what a lossy broker kept)
    stats = mqtt.run(url, link, client_id=client_id, flush_ms=20, idle_s=3, duration_s=60,
                     max_messages=len(messages), stop=stop)
    return len(messages), stats.stored


def test_recommended_queue_limit_keeps_what_arrives_while_the_ingestor_is_down(client, broker):
    published, stored = _outage(broker, client, 5000)
    assert stored == published == 5000
    assert _stored(client.registry.url, []) == 0


def test_mosquittos_default_queue_limit_drops_what_arrives_while_it_is_down(client, tmp_path):
    """The other side of broker sizing: the default ``max_queued_messages 1000``."""
    b = _start_broker(tmp_path / "default-broker")
    try:
        published, stored = _outage(b, client, 5000)
    finally:
        b.proc.terminate()
        b.proc.wait(10)
    assert 0 < stored < published


def test_what_mosquitto_does_with_a_dead_shared_subscription_member(broker):
    """The behaviour the design rests on (MQTT 5 §4.8.2 allows either): Mosquitto 2.0 keeps
    a dead member's unacknowledged messages in that member's session instead of handing them
    to the group, and keeps giving the offline member its share; all of it arrives when the
    member's client id connects again. If an upgrade changes this, this test says so."""
    topic_filter = "$share/g/pin/+"
    got_a: list[mqttwire.Message] = []
    got_b: list[mqttwire.Message] = []

    def member(client_id: str, into: list[mqttwire.Message]) -> mqttwire.Subscriber:
        sub = mqttwire.Subscriber("127.0.0.1", broker.port, client_id=client_id,
                                  clean_session=False, username=USER, password=PASSWORD)
        sub.connect(topic_filter)
        sub.start(into.extend)
        return sub

    a, b = member("member-a", got_a), member("member-b", got_b)
    _publish(broker.port, [("pin/x", f"m{i}".encode()) for i in range(100)])
    _await(lambda: len(got_a) + len(got_b) == 100, 15, "the first 100")
    assert got_a and got_b  # shared: each got some
    b.ack([m[2] for m in got_b])
    unacked_a = {m[1] for m in got_a}
    a._closing.set()  # A dies: no DISCONNECT, nothing acknowledged
    assert a.sock is not None
    a.sock.shutdown(socket.SHUT_RDWR)
    a.sock.close()
    seen_b = len(got_b)
    _publish(broker.port, [("pin/x", f"n{i}".encode()) for i in range(100)])
    got_a2: list[mqttwire.Message] = []
    a2 = member("member-a", got_a2)
    try:
        # 200 published: B's first share (acknowledged), A's first share (came back to A),
        # and the second 100 split between B and the offline A
        _await(lambda: len(got_a2) + len(got_b) >= 200, 15, "everything after A's return")
        back = {m[1] for m in got_a2}
        assert unacked_a <= back  # A's unacknowledged ones came back to A, not to B
        assert not unacked_a & {m[1] for m in got_b}
        new_to_a = {p for p in back if p.startswith(b"n")}
        assert new_to_a  # the offline member kept getting its share of new messages
        assert len(got_b) - seen_b + len(new_to_a) == 100
    finally:
        a2.ack([m[2] for m in got_a2])
        a2.close()
        b.close()
