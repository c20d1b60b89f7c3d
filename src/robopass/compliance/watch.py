"""Run the compliance scan on a schedule (``robopass serve``: every ``interval`` seconds,
default 5 minutes, in a background thread); ``robopass compliance scan`` runs one now."""

from __future__ import annotations

import logging
import threading
import time

from robopass.compliance import scan, service
from robopass.db import reading, transaction, write_session
from robopass.timeutil import utcnow

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 300.0


def scan_once(url: str, progress: service.Progress | None = None, *, full: bool = False
              ) -> service.ScanReport:
    """One scan: the judging (the long part) in a read transaction, so lifecycle writes are
    not held up on SQLite's single writer; then the difference in a short write transaction
    (no ledger lock: findings are not ledgered). A unit that changed in between is judged
    again at the next scan."""
    started = time.perf_counter()
    now = utcnow()
    if progress:
        progress("judging units in service", 0)
    with reading(url) as session:
        judged = scan.judge(session, now, full=full)
    with write_session(url) as session, transaction(session, ledger=False):
        report = service.apply_findings(session, judged, now=now, progress=progress)
    report.seconds = time.perf_counter() - started
    return report


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
