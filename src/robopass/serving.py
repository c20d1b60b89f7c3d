"""Run the server: one uvicorn process, or several workers each on its own listening socket.

uvicorn's ``--workers`` shares one listening socket between the worker processes, and the
first worker to wake accepts every connection waiting at that moment: measured with the
telemetry benchmark, 8 client connections opened together landed 7/1 or 8/0 on two workers,
so one worker did all the work (at ~1 of the 2 cores) while the other idled. Here the parent
binds one socket per worker with ``SO_REUSEPORT`` before starting them, and the kernel spreads
new connections over the sockets by address hash; a connection that arrives while its worker
is still starting waits in that socket's backlog. The parent only supervises: it restarts a
worker that dies (on the same socket, so its queued connections are not lost), stops them all
on SIGINT/SIGTERM (each finishes its requests, as uvicorn does), and gives up with exit status
1 when the workers of one slot die within :data:`STARTUP_GRACE` seconds of starting
:data:`QUICK_DEATHS` times in a row (a broken configuration should not restart forever).
Where ``SO_REUSEPORT`` is missing, uvicorn's own supervisor runs.

Workers are forked from this process once it has imported the application (the app's module
and everything it preloads: ORM mappers, templates, locale data, route validators), while it
is still single-threaded: a worker is serving about 0.1 s after it starts instead of the ~2.5 s
a fresh interpreter takes to import everything, and the imported pages are shared rather than
held once more by a separate fork server (the live telemetry shape measured the fork server at
~117 MB of resident memory and multiprocessing's resource tracker at ~12 MB; both are gone).
Importing the app opens no database connection and starts no thread, and ``after_start``
(the server's own background threads: the telemetry folder, webhook delivery, scanners) runs
only once the first workers are forked, so nothing is shared that must not be. A worker that
dies later cannot be forked from this process, which then runs threads: its replacement comes
from a *fork server* (``multiprocessing``'s ``forkserver`` context with the app's module
preloaded), started the first time one is needed, so the first replacement takes the fresh
import's ~2.5 s and later ones ~0.1 s. Each worker tells the parent when it accepts
connections (``on_ready`` is called once all have, so ``robopass serve`` can say the server is
ready) and a death is seen at once (the processes' sentinels, not a poll).
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import signal
import socket
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import wait
from typing import Any

log = logging.getLogger(__name__)

APP = "robopass.asgi:app"
STARTUP_GRACE = 5.0
QUICK_DEATHS = 3
BACKLOG = 2048


def listening_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` that other ``SO_REUSEPORT`` sockets may share."""
    family, kind, proto, _name, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _server(config: Any, on_started: Callable[[], None]) -> Any:
    """A uvicorn server that calls ``on_started()`` once it accepts connections."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                on_started()

    return Server(config)


def _worker(app: str, sock: socket.socket, log_level: str,
            ready: Any) -> None:  # pragma: no cover
    """A worker process (covered by the serve tests, which run it as a subprocess)."""
    import uvicorn

    for sig in (signal.SIGINT, signal.SIGTERM):  # a forked worker: not the parent's handlers
        signal.signal(sig, signal.SIG_DFL)
    config = uvicorn.Config(app, log_level=log_level, access_log=False)
    _server(config, ready.set).run(sockets=[sock])


def _context(app: str) -> Any:
    """The fork server context, with the app's module imported once in the fork server."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([app.split(":", 1)[0]])  # an import error: workers report it
    return ctx


def _first_context(app: str) -> Any:
    """Where the first workers come from: this process, forked once it has imported the app,
    when it may be (``fork`` exists and no other thread runs here); else the fork server."""
    if "fork" not in multiprocessing.get_all_start_methods() or threading.active_count() > 1:
        return _context(app)
    try:
        importlib.import_module(app.split(":", 1)[0])
    except Exception:  # the workers report it (and keep dying: the server stops)
        log.debug("importing %s failed", app, exc_info=True)
    return multiprocessing.get_context("fork")


def run(*, host: str, port: int, workers: int, log_level: str = "warning",
        app: str = APP, on_ready: Callable[[int], None] | None = None,
        after_start: Callable[[], None] | None = None) -> int:
    """Serve ``app`` until SIGINT/SIGTERM; returns the exit status. ``on_ready(workers)`` is
    called once, when every worker first accepts connections; ``after_start()`` once the
    workers are started (start this process's threads there, not before)."""
    import uvicorn

    if workers <= 1:  # in this process
        if after_start is not None:
            after_start()
        config = uvicorn.Config(app, host=host, port=port, log_level=log_level,
                                access_log=False)
        _server(config, (lambda: on_ready(1)) if on_ready else (lambda: None)).run()
        return 0
    if not hasattr(socket, "SO_REUSEPORT"):
        uvicorn.run(app, host=host, port=port, workers=workers, log_level=log_level,
                    access_log=False)
        return 0
    sockets = [listening_socket(host, port) for _ in range(workers)]  # fails here, clearly
    first = _first_context(app)
    # a replacement: from the fork server (started then) when the first came from this process
    later = _context(app) if first.get_start_method() == "fork" else first
    stop = threading.Event()

    def start(slot: int, ctx: Any = later) -> _Slot:
        ready = ctx.Event()
        process = ctx.Process(target=_worker, args=(app, sockets[slot], log_level, ready),
                              name=f"robopass-worker-{slot}")
        process.start()
        return _Slot(process, time.monotonic(), ready)

    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}
    slots = [start(slot, first) for slot in range(workers)]
    status = 0
    try:
        if after_start is not None:
            after_start()
        status = _supervise(slots, start, stop, on_ready)
    finally:
        _stop_all(slots)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sock in sockets:
            sock.close()
    return status


class _Slot:
    """One worker slot: its current process, when it started, its readiness event."""

    def __init__(self, process: Any, started: float, ready: Any) -> None:
        self.process, self.started, self.ready = process, started, ready
        self.reported = False
        self.quick = 0  # deaths in a row of this slot's workers within STARTUP_GRACE


def _supervise(slots: list[_Slot], start: Callable[[int], _Slot], stop: threading.Event,
               on_ready: Callable[[int], None] | None) -> int:
    """Replace dead workers until ``stop``; 1 when a slot's workers keep dying at start."""
    announced = False
    while not stop.is_set():
        wait([s.process.sentinel for s in slots], timeout=0.1)
        if stop.is_set():  # a stop signal reaches the workers too: do not replace them
            break
        for i, slot in enumerate(slots):
            if not slot.reported and slot.ready.is_set():
                slot.reported = True
                log.info("server worker %s ready %.2f s after it started", slot.process.pid,
                         time.monotonic() - slot.started)
            if slot.process.is_alive():
                continue
            quick = time.monotonic() - slot.started < STARTUP_GRACE
            slot.quick = slot.quick + 1 if quick else 0
            if slot.quick >= QUICK_DEATHS:
                log.error("server worker %s exited with %s right after starting, %d times "
                          "in a row; stopping", slot.process.pid, slot.process.exitcode,
                          slot.quick)
                return 1
            log.warning("server worker %s exited with %s; starting another",
                        slot.process.pid, slot.process.exitcode)
            quick_deaths = slot.quick
            slots[i] = start(i)
            slots[i].quick = quick_deaths
        if not announced and all(s.reported for s in slots):
            announced = True
            if on_ready is not None:
                on_ready(len(slots))
    return 0


def _stop_all(slots: list[_Slot]) -> None:
    """Terminate every worker (each finishes its requests); kill those still alive after
    30 s."""
    for slot in slots:
        if slot.process.is_alive():
            slot.process.terminate()
    deadline = time.monotonic() + 30
    for slot in slots:
        slot.process.join(max(0.0, deadline - time.monotonic()))
        if slot.process.is_alive():
            slot.process.kill()
            slot.process.join()
