"""Measurement for docs/scaling.md: NATS JetStream as the durable buffer in front of N writers.

Starts its OWN ``nats-server -js`` (Debian's binary, a free loopback port, a temporary store
directory; file storage) and stops it at the end. Publishes ``--messages`` signed telemetry
messages (the MQTT payload shape, ~400 bytes) to ``robopass.v1.telemetry.<code>`` with
JetStream acknowledgements (async, ``--window`` outstanding), then ``--consumers`` pull
consumers of ONE durable consumer fetch them in batches and acknowledge each batch (the
ingestor would store first, then acknowledge). Reports publish and consume rates and the
server's CPU. It does not store into the registry: it measures the buffer alone.

Needs the ``nats-py`` client (``pip install nats-py``; not a robopass dependency).

    python bench/bench_nats_jetstream.py [--messages 200000] [--consumers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import free_port, server_cpu_seconds, start_listening  # noqa: E402


def start_server(store: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = start_listening(["nats-server", "-a", "127.0.0.1", "-p", str(port), "-js",
                            "-sd", store], port)
    return proc, port


async def run(port: int, args: argparse.Namespace) -> dict[str, float]:
    import nats

    nc = await nats.connect(f"nats://127.0.0.1:{port}")
    js = nc.jetstream()
    await js.add_stream(name="TELEMETRY", subjects=["robopass.v1.telemetry.*"])
    body = (b"RPv1 abcdefabcdef " + b"0" * 64 + b"\n"
            + b'{"at":"2026-12-04T03:00:00Z","metrics":{"battery_soh":93.1,"accuracy":99.2,'
            + b'"operating_hours":1234.5,"fault_codes":[],"firmware":"1.2.3",'
            + b'"temperature":40.1,"joint_wear":{"a":0.1,"b":0.2,"c":0.3}}}')
    subjects = [f"robopass.v1.telemetry.UNIT{i:06d}" for i in range(1000)]
    started = time.perf_counter()
    pending: list[asyncio.Future[object]] = []
    for i in range(args.messages):
        pending.append(await js.publish_async(subjects[i % 1000], body))
        if len(pending) >= args.window:
            await asyncio.gather(*pending)
            pending = []
    await asyncio.gather(*pending)
    published = time.perf_counter() - started

    await js.add_consumer("TELEMETRY", durable_name="writers", ack_policy="explicit",
                          max_ack_pending=args.consumers * args.batch * 2)
    got = [0]

    async def consume() -> None:
        sub = await js.pull_subscribe("robopass.v1.telemetry.*", durable="writers",
                                      stream="TELEMETRY")
        while got[0] < args.messages:
            try:
                msgs = await sub.fetch(args.batch, timeout=2)
            except nats.errors.TimeoutError:
                continue
            got[0] += len(msgs)
            # a writer stores the batch here, then acknowledges every message
            await asyncio.gather(*(m.ack() for m in msgs))

    started = time.perf_counter()
    await asyncio.gather(*(consume() for _ in range(args.consumers)))
    consumed = time.perf_counter() - started
    await nc.close()
    return {"published_s": published, "consumed_s": consumed, "consumed": got[0]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--consumers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--window", type=int, default=5000)
    args = parser.parse_args()
    if shutil.which("nats-server") is None:
        raise SystemExit("needs Debian's nats-server")
    store = tempfile.mkdtemp(prefix="bench-nats-")
    proc, port = start_server(store)
    load = os.getloadavg()
    try:
        cpu0, t0 = server_cpu_seconds(proc.pid), time.process_time()
        result = asyncio.run(run(port, args))
        server_cpu = server_cpu_seconds(proc.pid) - cpu0
        client_cpu = time.process_time() - t0
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(store, ignore_errors=True)
    n = args.messages
    print(json.dumps({
        "benchmark": "nats_jetstream",
        "publish_per_s": round(n / result["published_s"]),
        "consume_per_s": round(result["consumed"] / result["consumed_s"]),
        "consumed": result["consumed"], "messages": n, "consumers": args.consumers,
        "server_cpu_us_per_message": round(server_cpu / (2 * n) * 1e6, 1),
        "server_cpu_s": round(server_cpu, 2), "client_cpu_s": round(client_cpu, 2),
        "load": {"before": [round(x, 2) for x in load],
                 "after": [round(x, 2) for x in os.getloadavg()]},
        "cores": os.cpu_count(),
        "command": "python " + " ".join([f"bench/{Path(__file__).name}", *sys.argv[1:]]),
    }))


if __name__ == "__main__":
    main()
