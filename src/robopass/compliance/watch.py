"""Run the compliance scan on a schedule (``robopass serve``: every ``interval`` seconds,
default 5 minutes, in a background thread); ``robopass compliance scan`` runs one now."""

from __future__ import annotations

import logging
import threading

from robopass.compliance import service
from robopass.db import transaction, write_session

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 300.0


def scan_once(url: str, progress: service.Progress | None = None) -> service.ScanReport:
    """One scan in its own write transaction (no ledger lock: findings are not ledgered)."""
    with write_session(url) as session, transaction(session, ledger=False):
        return service.run_scan(session, progress=progress)


def run_scanner(url: str, *, stop: threading.Event, interval: float = DEFAULT_INTERVAL) -> None:
    while not stop.wait(interval):
        try:
            scan_once(url)
        except Exception:  # noqa: BLE001 - the watcher must survive a database hiccup
            log.exception("compliance scan failed; retrying in %s s", interval)


def start_background_scanner(url: str, *, interval: float = DEFAULT_INTERVAL
                             ) -> threading.Event:
    stop = threading.Event()
    threading.Thread(target=run_scanner, args=(url,), kwargs={"stop": stop,
                                                             "interval": interval},
                     name="robopass-compliance-scan", daemon=True).start()
    return stop
