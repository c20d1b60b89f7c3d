"""Telemetry commands: ``ingest mqtt``, ``simulate``, ``telemetry downsample|retain``."""

from __future__ import annotations

import json
import signal
import socket
import sys
import threading
from typing import Any

import typer

from robopass import config

ingest_app = typer.Typer(help="Ingest telemetry from a message broker.", no_args_is_help=True)
telemetry_app = typer.Typer(help="Telemetry storage maintenance.", no_args_is_help=True)

DB_HELP = "Database URL (sqlite:///path.db or postgresql://...); default $ROBOPASS_DATABASE_URL"


def _db(db: str | None) -> str:
    return config.database_url(db)


def _print(obj: dict[str, Any]) -> None:
    print(json.dumps(obj, sort_keys=True), flush=True)


@ingest_app.command("mqtt")
def ingest_mqtt(
    broker: str = typer.Option("mqtt://127.0.0.1:1883",
                               help="mqtt://host:port, or mqtts://host:port for TLS"),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    client_id: str | None = typer.Option(
        None, help="MQTT client id; a fixed id keeps the broker session (and queued "
                   "messages) across restarts. With --processes N: the base of the N ids "
                   "(ID-1 ... ID-N; default robopass-ingest-HOSTNAME)"),
    shared_group: str | None = typer.Option(
        None, help="share the subscription with other ingestors ($share/GROUP/...); "
                   "default 'robopass' with --processes above 1"),
    processes: int = typer.Option(
        1, min=1, help="run this many ingestor processes in one shared subscription, each "
                       "restarted (same client id) if it dies"),
    username: str | None = typer.Option(
        None, help="broker login (default $ROBOPASS_MQTT_USERNAME); the password comes from "
                   "$ROBOPASS_MQTT_PASSWORD"),
    ca_file: str | None = typer.Option(
        None, help="CA certificate (PEM) of the broker's TLS certificate "
                   "(default $ROBOPASS_MQTT_CA_FILE, else the system's CAs)"),
    batch_size: int = typer.Option(5000, min=1, help="messages per stored batch"),
    flush_ms: int = typer.Option(200, min=1, help="store a batch once its oldest message has "
                                                "waited this long (or when it is full)"),
    max_messages: int | None = typer.Option(None, help="stop after this many messages "
                                            "(one process only)"),
    duration: float | None = typer.Option(None, help="stop after this many seconds"),
    idle: float | None = typer.Option(None, help="stop after this many seconds without "
                                      "messages (once some arrived)"),
    quiet: bool = typer.Option(False, help="print only the final statistics"),
) -> None:
    """Subscribe to robopass/v1/telemetry/+ (MQTT 5, QoS 1) and store signed readings.

    Messages are signed by the reporting organisation (see docs/telemetry.md):
    'RPv1 <key prefix> <HMAC-SHA-256 hex>' then a newline and the JSON reading. A batch is
    acknowledged to the broker only once it is stored; if storing fails the command exits 1
    without acknowledging it (with --client-id the broker sends it again on restart).
    SIGTERM stores and acknowledges what arrived, then exits.
    """
    settings = config.get_settings().mqtt
    username = username or settings.username or None
    ca_file = ca_file or settings.ca_file or None
    if processes > 1:
        if max_messages is not None:
            print("error: --max-messages needs --processes 1", file=sys.stderr)
            raise typer.Exit(2)
        base = client_id or f"robopass-ingest-{socket.gethostname()}"
        common = ["--broker", broker, "--db", _db(db), "--shared-group",
                  shared_group or "robopass", "--batch-size", str(batch_size),
                  "--flush-ms", str(flush_ms), "--quiet"]
        for flag, value in (("--username", username), ("--ca-file", ca_file),
                            ("--duration", duration), ("--idle", idle)):
            if value is not None:
                common += [flag, str(value)]
        _supervise([[sys.executable, "-m", "robopass.cli", "ingest", "mqtt", *common,
                     "--client-id", f"{base}-{i + 1}"] for i in range(processes)])
        return
    _ingest_one(db, broker, username=username, password=settings.password or None,
                ca_file=ca_file, client_id=client_id, shared_group=shared_group,
                batch_size=batch_size, flush_ms=flush_ms, max_messages=max_messages,
                duration=duration, idle=idle, quiet=quiet)


def _supervise(argvs: list[list[str]]) -> None:
    from robopass.telemetry import mqtt

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_a: stop.set())
    status, totals = mqtt.supervise(argvs, stop=stop, announce=_print)
    _print(totals)
    if status:
        raise typer.Exit(status)


def _ingest_one(db: str | None, broker: str, *, username: str | None, password: str | None,
                ca_file: str | None, client_id: str | None, shared_group: str | None,
                batch_size: int, flush_ms: int, max_messages: int | None,
                duration: float | None, idle: float | None, quiet: bool) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from robopass.telemetry import mqtt

    last = [0]

    def progress(stats: mqtt.IngestStats) -> None:
        if not quiet and stats.received - last[0] >= 10_000:
            last[0] = stats.received
            _print({"received": stats.received, "stored": stats.stored,
                    "rejected": stats.rejected})

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_a: stop.set())
    try:
        link = mqtt.Link.of(broker, username=username, password=password, ca_file=ca_file)
        stats = mqtt.run(_db(db), link, client_id=client_id, shared_group=shared_group,
                         batch_size=batch_size, flush_ms=flush_ms, max_messages=max_messages,
                         duration_s=duration, idle_s=idle, on_flush=progress, stop=stop)
    except (ConnectionError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(1) from exc
    except SQLAlchemyError as exc:
        print(f"error: storing a batch failed, so it was not acknowledged: {exc}",
              file=sys.stderr)
        raise typer.Exit(1) from exc
    except KeyboardInterrupt:
        return
    _print(stats.as_dict())


def simulate(
    robots: int = typer.Option(10, "--robots", min=1, help="how many units to drive"),
    interval: float = typer.Option(10.0, "--interval", min=0.1,
                                   help="seconds between a unit's normal readings"),
    url: str = typer.Option("http://127.0.0.1:8000", help="the registry's base URL"),
    api_key: str | None = typer.Option(
        None, "--api-key", envvar="ROBOPASS_API_KEY",
        help="the owner's or operator's API key (its units are driven)"),
    broker: str | None = typer.Option(None, help="publish over MQTT (mqtt://host:port) "
                                      "instead of HTTP"),
    codes: str | None = typer.Option(None, help="file with one code per line (default: the "
                                     "key's units, from GET /api/v1/robots)"),
    duration: float | None = typer.Option(None, help="stop after this many seconds"),
    seed: int = typer.Option(0, help="random seed of the unit models"),
) -> None:
    """Drive realistic readings for existing units: wear that grows, batteries that fade,
    occasional faults reported every second for a short burst."""
    import httpx

    from robopass.telemetry import simulator

    if not api_key:
        print("error: --api-key (or $ROBOPASS_API_KEY) is required", file=sys.stderr)
        raise typer.Exit(2)
    headers = {"Authorization": f"Bearer {api_key}"}
    http = httpx.Client(base_url=url, headers=headers, timeout=30)
    if codes:
        with open(codes, encoding="utf-8") as fh:
            unit_codes = [line.strip() for line in fh if line.strip()][:robots]
    else:
        try:
            r = http.get("/api/v1/robots", params={"limit": min(robots, 1000)})
        except httpx.HTTPError as exc:
            print(f"error: cannot reach {url}: {exc}", file=sys.stderr)
            raise typer.Exit(1) from exc
        if r.status_code != 200:
            print(f"error: GET /api/v1/robots answered {r.status_code}: {r.text[:200]}",
                  file=sys.stderr)
            raise typer.Exit(1)
        unit_codes = [u["code"] for u in r.json()["robots"]
                      if u.get("status") not in ("recycled", "scrapped")][:robots]
    if not unit_codes:
        print("error: no units to drive", file=sys.stderr)
        raise typer.Exit(1)
    send = (_mqtt_sender(broker, api_key) if broker else _http_sender(http))

    def report(stats: simulator.Stats) -> None:
        if stats.requests and stats.requests % 10 == 0:
            _print({"sent": stats.sent, "stored": stats.stored, "rejected": stats.rejected})

    try:
        stats = simulator.run(unit_codes, interval_s=interval, send=send, seed=seed,
                              duration_s=duration, on_tick=report)
    except KeyboardInterrupt:
        return
    _print({"units": len(unit_codes), "sent": stats.sent, "stored": stats.stored,
            "duplicates": stats.duplicates, "rejected": stats.rejected,
            "reasons": stats.reasons})


def _http_sender(http: Any) -> Any:
    import orjson

    def send(batch: list[dict[str, Any]]) -> dict[str, Any] | None:
        r = http.post("/api/v1/telemetry", content=orjson.dumps(batch),
                      headers={"Content-Type": "application/json"})
        if r.status_code != 200:
            print(f"warning: POST /api/v1/telemetry answered {r.status_code}: {r.text[:200]}",
                  file=sys.stderr)
            return None
        result: dict[str, Any] = r.json()
        return result

    return send


def _mqtt_sender(broker: str, api_key: str) -> Any:
    import orjson
    import paho.mqtt.client as mqtt_client

    from robopass.telemetry import mqtt

    host, port = mqtt.parse_broker(broker)
    client = mqtt_client.Client(mqtt_client.CallbackAPIVersion.VERSION2)
    client.max_inflight_messages_set(1000)
    connected = threading.Event()
    client.on_connect = lambda *_a: connected.set()
    client.connect(host, port)
    client.loop_start()
    if not connected.wait(10):
        print(f"error: cannot connect to {broker}", file=sys.stderr)
        raise typer.Exit(1)

    def send(batch: list[dict[str, Any]]) -> None:
        for reading in batch:
            topic = mqtt.TOPIC_PREFIX + reading["code"]
            body = orjson.dumps({"at": reading["at"], "metrics": reading["metrics"]})
            client.publish(topic, mqtt.sign(api_key, topic, body), qos=1)
        return None

    return send


@telemetry_app.command("downsample")
def downsample_cmd(db: str | None = typer.Option(None, "--db", help=DB_HELP)) -> None:
    """Compute hourly aggregates of every complete hour not yet downsampled (live-safe)."""
    from robopass.telemetry import retention

    _print(retention.downsample(_db(db)).as_dict())


@telemetry_app.command("retain")
def retain_cmd(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    raw_days: int | None = typer.Option(
        None, min=1, help="keep raw readings this many days (default "
                          "$ROBOPASS_TELEMETRY_RAW_RETENTION_DAYS, 90)"),
    hourly_days: int | None = typer.Option(
        None, min=0, help="keep hourly aggregates this many days; 0 keeps them forever "
                          "(default $ROBOPASS_TELEMETRY_HOURLY_RETENTION_DAYS, 0)"),
) -> None:
    """Downsample, then delete raw readings past their retention (live-safe, in small
    transactions)."""
    from robopass.telemetry import retention
    from robopass.telemetry.settings import get_telemetry_settings

    settings = get_telemetry_settings()
    raw = raw_days if raw_days is not None else settings.raw_retention_days
    if raw < 1:
        print("raw retention is 0 (keep forever): downsampling only", file=sys.stderr)
        _print(retention.downsample(_db(db)).as_dict())
        return
    hourly = hourly_days if hourly_days is not None else settings.hourly_retention_days
    _print(retention.retain(_db(db), raw_days=raw, hourly_days=hourly).as_dict())


@telemetry_app.command("partition")
def partition_cmd(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    months_back: int = typer.Option(3, min=0, help="monthly partitions before this month"),
    months_ahead: int = typer.Option(3, min=0, help="monthly partitions after this month"),
) -> None:
    """PostgreSQL: partition the stored readings (telemetry_chunks) by month (first run
    converts the table and locks it while moving rows; later runs add the months ahead). See
    docs/telemetry.md for pg_partman, which automates this in production."""
    from robopass.db import writing
    from robopass.telemetry import partitioning

    try:
        with writing(_db(db)) as session:
            created = partitioning.partition_readings(session, months_back=months_back,
                                                      months_ahead=months_ahead)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from exc
    _print({"created": created})
