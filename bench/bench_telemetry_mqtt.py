"""Benchmark: telemetry over MQTT (SPEC §11: >= 20,000 messages/s through one subscriber;
issue #16: >= 50,000 messages/s with ``--ingestors 2``).

The benchmark starts its OWN Mosquitto (Debian's binary, a free loopback port, a generated
config with the recommended queue limit, or Mosquitto's defaults with ``--broker-config
default``; persistence off) and stops it at the end. ``robopass ingest mqtt --processes N``
(``--ingestors N``) subscribes in one shared subscription (``$share/robopass/...``, QoS 1);
``--publishers`` raw-socket processes publish ``--messages`` pre-signed messages (one reading
each, every metric, QoS 1) for ``--units`` units at ``--rate`` messages/s. The subscriber
reports how many it received and stored, the time from its first message to its last stored
batch, and its CPU time, so the figure ``messages_per_s`` is end to end (publisher, broker and
subscriber share the same cores) and ``capacity_per_cpu_s`` is what the subscriber does per
CPU second. Prints one JSON object.

    python bench/bench_telemetry_mqtt.py [--messages 200000] [--ingestors 2] [--rate 60000]
    python bench/bench_telemetry_mqtt.py --sink --ingestors 2 --rate 60000 --publishers 2
    python bench/bench_telemetry_mqtt.py --outage 10 --rate 500 [--broker-config default]

``--sink``: the same broker and publishers, but the ingestors are replaced by ``--ingestors``
subscriber processes (same shared subscription, same MQTT 5 client, ``mqttwire``) that only
parse and PUBACK each socket read, storing nothing: the broker + publisher cost alone, i.e.
the ceiling of this machine for the given publishers (docs/scaling.md).

``--outage S``: the ingestor's persistent session exists but the ingestor is down while
``rate × S`` messages are published; then it starts and stores what the broker kept
(``lost`` = published - stored): broker sizing, docs/telemetry.md.

CPU: ``ingestor_cpu_s`` (the ingestors' own count, first message to last batch),
``broker_cpu_s`` (Mosquitto, /proc), ``publisher_cpu_s`` (getrusage of the publishers);
``load`` is ``os.getloadavg()`` before and after (the machine is shared).
``cpu_us_per_message`` splits the CPU per message between the parts and gives the rate the
machine's cores would carry at that cost (``cores_bound_per_s``; PostgreSQL's own CPU is not
counted). An ingest folds staged readings only past ``staging.MAX_BACKLOG`` rows, so a short
run may end with its readings still staged: the benchmark folds them afterwards, reports it
(``fold_after``) and counts that CPU as ingest work; ``sustained_per_s`` adds its time.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "src"))

from common import free_port, new_registry, start_listening, units_and_key  # noqa: E402

TARGET = 20_000
TARGET_TWO = 50_000

RECOMMENDED = """max_queued_messages 1000000
max_queued_bytes 1000000000
max_inflight_messages 0
"""


def start_broker(workdir: str, config: str) -> tuple[subprocess.Popen[bytes], int]:
    """Our own Mosquitto on a free loopback port; ``config`` "recommended" or "default"."""
    import pwd

    port = free_port()
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name}\n" if os.geteuid() == 0 else ""
    conf = Path(workdir) / "mosquitto.conf"
    conf.write_text(f"{user}listener {port} 127.0.0.1\nallow_anonymous true\n"
                    "persistence false\nsys_interval 1\n"
                    + (RECOMMENDED if config == "recommended" else ""))
    return start_listening(["mosquitto", "-c", str(conf)], port), port


def publish(payloads: list[tuple[str, bytes]], host: str, port: int, rate: float) -> None:
    """A raw-socket QoS 1 publisher (pre-built packets, PUBACKs drained by a thread), paced
    at ``rate`` messages/s, so the publisher is not what is measured."""
    import socket
    import threading
    import uuid

    from robopass.telemetry import mqttwire

    packets = [mqttwire.publish_packet(t, p, packet_id=(i % 65535) + 1)
               for i, (t, p) in enumerate(payloads)]
    sock = socket.create_connection((host, port))
    sock.sendall(mqttwire.connect_packet(f"bench-pub-{uuid.uuid4().hex[:8]}"))
    sock.recv(4)
    acked = [0]

    def drain() -> None:
        while acked[0] < len(packets):
            data = sock.recv(1 << 16)
            if not data:
                return
            acked[0] += len(data) // 4

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    chunk = 500
    started = time.perf_counter()
    for i in range(0, len(packets), chunk):
        sock.sendall(b"".join(packets[i:i + chunk]))
        ahead = started + (i + chunk) / rate - time.perf_counter()
        if ahead > 0:
            time.sleep(ahead)
    reader.join(60)
    sock.close()


def make_payloads(reg: object, units: int, messages: int) -> list[tuple[str, bytes]]:
    import orjson

    from robopass.telemetry import mqtt
    from robopass.telemetry.simulator import UnitModel

    codes, key = units_and_key(reg, units)  # type: ignore[arg-type]
    per_unit = max(1, messages // units)
    start = datetime.now(UTC) - timedelta(seconds=10 * per_unit + 60)
    payloads = []
    for code in codes:
        model = UnitModel.for_unit(code, seed=1, epoch=start)
        topic = mqtt.TOPIC_PREFIX + code
        for k in range(per_unit):
            r = model.reading(start + timedelta(seconds=10 * k), [])
            payloads.append((topic, mqtt.sign(key, topic, orjson.dumps(
                {"at": r["at"], "metrics": r["metrics"]}))))
    # interleave units the way a live fleet reports
    payloads.sort(key=lambda p: p[1][p[1].index(b'"at":'):p[1].index(b'"at":') + 30])
    return payloads


def ingest_command(url: str, port: int, args: argparse.Namespace, client_id: str,
                   total: int) -> list[str]:
    cmd = [sys.executable, "-m", "robopass.cli", "ingest", "mqtt", "--db", url,
           "--broker", f"mqtt://127.0.0.1:{port}", "--quiet", "--duration", "300",
           "--idle", "3", "--flush-ms", str(args.flush_ms), "--batch-size", str(args.batch_size),
           "--client-id", client_id, "--processes", str(args.ingestors),
           "--shared-group", "robopass"]
    return cmd + (["--max-messages", str(total)] if args.ingestors == 1 else [])


def run_publishers(payloads: list[tuple[str, bytes]], port: int, args: argparse.Namespace
                   ) -> tuple[float, float]:
    """Publish everything (``--publishers`` processes at ``--rate`` in all): seconds, CPU s."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    shares = [payloads[i::args.publishers] for i in range(args.publishers)]
    started = time.perf_counter()
    procs = [mp.Process(target=publish, args=(share, "127.0.0.1", port,
                                              args.rate / args.publishers))
             for share in shares]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return time.perf_counter() - started, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--ingestors", type=int, default=1,
                        help="ingestor processes in one shared subscription")
    parser.add_argument("--publishers", type=int, default=1)
    parser.add_argument("--flush-ms", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=30_000,
                        help="total publish rate (messages/s)")
    parser.add_argument("--outage", type=float, default=0.0,
                        help="seconds the ingestor is down while --rate is published")
    parser.add_argument("--sink", action="store_true",
                        help="subscribers that only parse and PUBACK (no storage): the "
                             "broker + publisher ceiling")
    parser.add_argument("--broker-config", choices=["recommended", "default"],
                        default="recommended")
    args = parser.parse_args()
    if args.outage:
        args.messages = int(args.rate * args.outage)

    import tempfile
    import uuid

    from common import server_cpu_seconds

    workdir = tempfile.mkdtemp(prefix="bench-mqtt-")
    broker, port = start_broker(workdir, args.broker_config)
    reg = new_registry(args.backend)
    sub = None
    load_before = os.getloadavg()
    try:
        payloads = make_payloads(reg, args.units, args.messages)
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        client_id = f"bench-{uuid.uuid4().hex[:6]}"
        if args.sink:
            sinks, results = start_sinks(port, args.ingestors)
            await_subscribers(port, args.ingestors)
        elif args.outage:
            down_session(port, client_id, args.ingestors)
        else:
            sub = subprocess.Popen(ingest_command(reg.url, port, args, client_id,
                                                  len(payloads)),
                                   env=env, stdout=subprocess.PIPE, text=True,
                                   start_new_session=True)
            await_subscribers(port, args.ingestors)
        broker_cpu = server_cpu_seconds(broker.pid)
        published, publisher_cpu = run_publishers(payloads, port, args)
        if args.sink:
            stats = collect_sinks(sinks, results)
            broker_cpu = server_cpu_seconds(broker.pid) - broker_cpu
            report(args, stats, len(payloads), published, publisher_cpu, broker_cpu,
                   load_before)
            return
        if args.outage:
            sub = subprocess.Popen(ingest_command(reg.url, port, args, client_id,
                                                  len(payloads)),
                                   env=env, stdout=subprocess.PIPE, text=True,
                                   start_new_session=True)
        out, _ = sub.communicate(timeout=400)
        broker_cpu = server_cpu_seconds(broker.pid) - broker_cpu
        stats = json.loads(out.strip().splitlines()[-1])
        stats["backlog"] = fold_backlog(reg.url)
        report(args, stats, len(payloads), published, publisher_cpu, broker_cpu,
               load_before)
    finally:
        if sub is not None and sub.poll() is None:
            os.killpg(sub.pid, signal.SIGTERM)
        broker.terminate()
        broker.wait(10)
        reg.close()
        shutil.rmtree(workdir, ignore_errors=True)


def sink(port: int, results: mp.Queue[dict[str, float]], idle_s: float = 2.0) -> None:
    """One subscriber of the shared subscription that parses every socket read and
    acknowledges its messages at once (one write per read), storing nothing."""
    import threading
    import uuid

    from robopass.telemetry import mqtt, mqttwire

    state = {"received": 0, "first": 0.0, "last": 0.0}
    client = mqttwire.Subscriber("127.0.0.1", port,
                                 client_id=f"sink-{uuid.uuid4().hex[:8]}")
    client.connect(f"$share/robopass/{mqtt.TOPIC_FILTER}", qos=1)
    cpu = [0.0]
    lock = threading.Lock()

    def on_messages(messages: list[mqttwire.Message]) -> None:
        client.ack([m[2] for m in messages])
        with lock:
            now = time.monotonic()
            if not state["first"]:
                state["first"] = now
                cpu[0] = time.process_time()
            state["received"] += len(messages)
            state["last"] = now

    client.start(on_messages)
    while not state["last"] or time.monotonic() - state["last"] < idle_s:
        time.sleep(0.1)
    with lock:
        results.put({"received": state["received"], "stored": 0,
                     "first_monotonic": state["first"], "last_monotonic": state["last"],
                     "cpu_seconds": time.process_time() - cpu[0]})
    client.close()


def start_sinks(port: int, n: int) -> tuple[list[mp.Process], mp.Queue[dict[str, float]]]:
    results: mp.Queue[dict[str, float]] = mp.Queue()
    procs = [mp.Process(target=sink, args=(port, results)) for _ in range(n)]
    for p in procs:
        p.start()
    return procs, results


def collect_sinks(procs: list[mp.Process], results: mp.Queue[dict[str, float]]
                  ) -> dict[str, Any]:
    from robopass.telemetry import mqtt

    finals = [results.get(timeout=400) for _ in procs]
    for p in procs:
        p.join(10)
    stats = mqtt.combine(finals)  # type: ignore[arg-type]
    stats["stored"] = stats["received"]  # "stored" = handled: the sink's end-to-end rate
    return stats


def fold_backlog(url: str) -> dict[str, float]:
    """Fold what the run left staged (an ingest folds only past ``staging.MAX_BACKLOG``
    staged rows, so a short run can end with every batch still staged): its readings,
    seconds and CPU seconds, so the sustained figure can include the fold's work."""
    from robopass.db import transaction, write_session
    from robopass.telemetry import staging

    started, cpu = time.perf_counter(), time.process_time()
    with write_session(url) as session, transaction(session, ledger=False):
        moved = staging.fold_all(session)
    return {"readings": moved, "seconds": round(time.perf_counter() - started, 3),
            "cpu_seconds": round(time.process_time() - cpu, 3)}


def down_session(port: int, client_id: str, ingestors: int) -> None:
    """The ingestors' persistent sessions exist on the broker, the ingestors are down."""
    from robopass.telemetry import mqtt, mqttwire

    ids = [client_id] if ingestors == 1 else [f"{client_id}-{i + 1}" for i in range(ingestors)]
    for cid in ids:
        s = mqttwire.Subscriber("127.0.0.1", port, client_id=cid, clean_session=False)
        s.connect(f"$share/robopass/{mqtt.TOPIC_FILTER}")
        s.close()


def await_subscribers(port: int, n: int) -> None:
    """Until ``n`` clients besides this probe are connected (our broker publishes $SYS
    every second while the count changes; the first, retained value may be stale)."""
    from robopass.telemetry import mqttwire

    got: list[int] = []
    probe = mqttwire.Subscriber("127.0.0.1", port, client_id=f"probe-{time.time_ns()}")
    probe.connect("$SYS/broker/clients/connected", qos=0)
    probe.start(lambda ms: got.extend(int(m[1]) for m in ms))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if got and got[-1] >= n + 1:
                return
            time.sleep(0.05)
    finally:
        probe.close()
    raise SystemExit("the ingestors did not connect")


def cpu_split(total: int, ingest: float, broker: float, publishers: float
              ) -> dict[str, float]:
    parts = {"ingestors": ingest, "broker": broker, "publishers": publishers}
    out = {k: round(v / total * 1e6, 1) for k, v in parts.items()}
    out["total"] = round(sum(parts.values()) / total * 1e6, 1)
    out["cores_bound_per_s"] = round((os.cpu_count() or 1) / (sum(parts.values()) / total))
    return out


def report(args: argparse.Namespace, stats: dict, total: int, published: float,  # type: ignore[type-arg]
           publisher_cpu: float, broker_cpu: float, load_before: tuple[float, ...]) -> None:
    seconds = stats.get("seconds") or 0
    cpu = stats.get("cpu_seconds") or 0
    backlog = stats.get("backlog") or {}
    sustained = seconds + (backlog.get("seconds") or 0)
    print(json.dumps({
        "benchmark": "telemetry_mqtt",
        "backend": args.backend, "ingestors": args.ingestors,
        "messages_per_s": round(stats["stored"] / seconds) if seconds else None,
        "received_per_s": stats.get("messages_per_s"),
        # as if the readings left staged had been folded within the run (the fold's time
        # added): the rate the ingestors could keep up for good
        "sustained_per_s": round(stats["stored"] / sustained) if backlog and sustained
        else None,
        "capacity_per_cpu_s": round(stats["received"] / cpu) if cpu else None,
        "published": total, "publish_seconds": round(published, 2),
        "received": stats["received"], "stored": stats["stored"],
        "duplicates": stats.get("duplicates"), "rejected": stats["rejected"],
        "lost": total - stats["stored"] - (stats.get("duplicates") or 0),
        "outage_s": args.outage, "sink": args.sink, "broker_config": args.broker_config,
        "ingestor_cpu_s": cpu, "fold_after": backlog or None,
        # CPU per message of each part, and the rate the machine's cores could carry at
        # that cost (the fold of what was left staged counted as ingest work)
        "cpu_us_per_message": cpu_split(total, cpu + (backlog.get("cpu_seconds") or 0),
                                        broker_cpu, publisher_cpu),
        "broker_cpu_s": round(broker_cpu, 2),
        "publisher_cpu_s": round(publisher_cpu, 2), "subscriber": stats,
        "publishers": args.publishers, "publish_rate": args.rate,
        "flush_ms": args.flush_ms, "batch_size": args.batch_size,
        "target": {"messages_per_s": TARGET if args.ingestors == 1 else TARGET_TWO},
        "cores": os.cpu_count(),
        "load": {"before": [round(x, 2) for x in load_before],
                 "after": [round(x, 2) for x in os.getloadavg()]},
        "command": "python " + " ".join([f"bench/{Path(__file__).name}", *sys.argv[1:]]),
    }))


if __name__ == "__main__":
    main()
