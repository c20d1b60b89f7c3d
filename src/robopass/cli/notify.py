"""``robopass notify``: deliver the webhook outbox."""

from __future__ import annotations

import json
import signal
import threading

import typer

from robopass import config

app = typer.Typer(help="Webhook notifications (transactional outbox).", no_args_is_help=True)

DB_HELP = "Database URL (sqlite:///path.db or postgresql://...); default $ROBOPASS_DATABASE_URL"


def _db(db: str | None) -> str:
    return config.database_url(db)


@app.command("deliver")
def deliver(db: str | None = typer.Option(None, "--db", help=DB_HELP),
            once: bool = typer.Option(False, "--once",
                                      help="Deliver what is due now, print a summary, exit"),
            interval: float = typer.Option(2.0, help="Seconds between polls (without --once)"),
            limit: int = typer.Option(100, help="Deliveries claimed per round"),
            timeout: float = typer.Option(10.0, help="HTTP timeout per delivery, seconds"),
            backoff: float = typer.Option(10.0, help="First retry delay, seconds (doubles)"),
            ) -> None:
    """Send pending webhook deliveries, signed, retrying failures with exponential backoff."""
    from robopass.notifications import delivery

    url = _db(db)
    if once:
        report = delivery.deliver_all_due(url, limit=limit, timeout=timeout,
                                          backoff_base=backoff)
        print(json.dumps(report.as_dict()))
        raise typer.Exit(0)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        delivery.run_worker(url, stop=stop, interval=interval, limit=limit, timeout=timeout,
                            backoff_base=backoff)
    except KeyboardInterrupt:
        stop.set()


@app.command("status")
def status(db: str | None = typer.Option(None, "--db", help=DB_HELP)) -> None:
    """Count deliveries by status (pending, delivered, failed, cancelled) as JSON."""
    from sqlalchemy import func, select

    from robopass.db import reading
    from robopass.notifications.models import Delivery

    with reading(_db(db)) as session:
        counts = dict(session.execute(select(Delivery.status, func.count())
                                      .group_by(Delivery.status)).all())
    print(json.dumps({k: int(v) for k, v in counts.items()}))
