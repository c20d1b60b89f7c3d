"""Run the defect-signal scan on a schedule, so new fault codes raise signals on their own.

Incidents trigger a scan of their type as they are reported; fault codes arrive as telemetry at
volume, so instead of scanning after every batch the server (``robopass serve``) runs a scan in
a background thread every ``interval`` seconds (default 5 minutes), and ``robopass signals scan``
runs one from cron. A scan upserts signals, so running it twice changes nothing.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from robopass.db import writing
from robopass.signals import service

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 300.0


def scan_once(url: str) -> list[dict[str, Any]]:
    """One scan in its own transaction; returns the signals raised or updated."""
    with writing(url) as session:
        return [service.signal_view(s) for s in service.scan(session)]


def run_scanner(url: str, *, stop: threading.Event, interval: float = DEFAULT_INTERVAL) -> None:
    while not stop.wait(interval):
        try:
            scan_once(url)
        except Exception:  # noqa: BLE001 - the watcher must survive a database hiccup
            log.exception("defect signal scan failed; retrying in %s s", interval)


def start_background_scanner(url: str, *, interval: float = DEFAULT_INTERVAL) -> threading.Event:
    stop = threading.Event()
    threading.Thread(target=run_scanner, args=(url,), kwargs={"stop": stop,
                                                             "interval": interval},
                     name="robopass-signal-scan", daemon=True).start()
    return stop
