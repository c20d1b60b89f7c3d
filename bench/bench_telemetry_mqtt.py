"""Benchmark: telemetry over MQTT through one subscriber (SPEC §11: >= 20,000 messages/s).

Real Mosquitto on 127.0.0.1:1883. One ``robopass ingest mqtt`` process subscribes (QoS 1);
``--publishers`` raw-socket processes publish ``--messages`` pre-signed messages (one reading
each, every metric, QoS 1) for ``--units`` units at ``--rate`` messages/s. The subscriber
reports how many it received and stored, the time from its first message to its last stored
batch, and its CPU time, so the figure ``messages_per_s`` is end to end (publisher, broker and
subscriber share the same cores) and ``capacity_per_cpu_s`` is what the subscriber does per
CPU second. Prints one JSON object.

    python bench/bench_telemetry_mqtt.py [--messages 200000] [--backend sqlite]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "src"))

from common import new_registry, units_and_key  # noqa: E402

TARGET = 20_000


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--publishers", type=int, default=1)
    parser.add_argument("--flush-ms", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=30_000,
                        help="total publish rate (messages/s)")
    args = parser.parse_args()

    import orjson

    from robopass.telemetry import mqtt
    from robopass.telemetry.simulator import UnitModel

    reg = new_registry(args.backend)
    sub = None
    try:
        codes, key = units_and_key(reg, args.units)
        per_unit = max(1, args.messages // args.units)
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
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        sub = subprocess.Popen(
            [sys.executable, "-m", "robopass.cli", "ingest", "mqtt", "--db", reg.url,
             "--broker", "mqtt://127.0.0.1:1883", "--max-messages", str(len(payloads)),
             "--quiet", "--duration", "300", "--idle", "3", "--flush-ms", str(args.flush_ms),
             "--batch-size", str(args.batch_size)],
            env=env, stdout=subprocess.PIPE, text=True, start_new_session=True)
        time.sleep(3)  # let it connect and subscribe
        shares = [payloads[i::args.publishers] for i in range(args.publishers)]
        started = time.perf_counter()
        procs = [mp.Process(target=publish, args=(share, "127.0.0.1", 1883,
                                                  args.rate / args.publishers))
                 for share in shares]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        published = time.perf_counter() - started
        out, _ = sub.communicate(timeout=300)
        stats = json.loads(out.strip().splitlines()[-1])
        cpu = stats.get("cpu_seconds") or 0
        print(json.dumps({
            "benchmark": "telemetry_mqtt",
            "backend": args.backend,
            "messages_per_s": stats.get("messages_per_s"),
            "capacity_per_cpu_s": round(stats["received"] / cpu) if cpu else None,
            "published": len(payloads), "publish_seconds": round(published, 2),
            "received": stats["received"], "stored": stats["stored"],
            "rejected": stats["rejected"], "subscriber": stats,
            "publishers": args.publishers, "publish_rate": args.rate,
            "flush_ms": args.flush_ms, "batch_size": args.batch_size,
            "target": {"messages_per_s": TARGET},
            "cores": os.cpu_count(),
            "command": "python " + " ".join([f"bench/{Path(__file__).name}", *sys.argv[1:]]),
        }))
    finally:
        if sub is not None and sub.poll() is None:
            os.killpg(sub.pid, signal.SIGTERM)
        reg.close()


if __name__ == "__main__":
    main()
