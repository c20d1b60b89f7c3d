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
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import threading
import time
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


def _worker(app: str, sock: socket.socket, log_level: str) -> None:  # pragma: no cover
    """A worker process (covered by the serve tests, which run it as a subprocess)."""
    import uvicorn

    config = uvicorn.Config(app, log_level=log_level, access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


def run(*, host: str, port: int, workers: int, log_level: str = "warning",
        app: str = APP) -> int:
    """Serve ``app`` until SIGINT/SIGTERM; returns the exit status."""
    import uvicorn

    if workers <= 1 or not hasattr(socket, "SO_REUSEPORT"):
        uvicorn.run(app, host=host, port=port, workers=workers, log_level=log_level,
                    access_log=False)
        return 0
    sockets = [listening_socket(host, port) for _ in range(workers)]  # fails here, clearly
    ctx = multiprocessing.get_context("spawn")
    stop = threading.Event()

    def start(slot: int) -> tuple[Any, float]:
        process = ctx.Process(target=_worker, args=(app, sockets[slot], log_level),
                              name=f"robopass-worker-{slot}")
        process.start()
        return process, time.monotonic()

    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}
    procs = [start(slot) for slot in range(workers)]
    quick = [0] * workers  # deaths in a row of each slot's workers within STARTUP_GRACE
    status = 0
    try:
        while not stop.wait(0.5):
            for i, (process, started) in enumerate(procs):
                if process.is_alive():
                    continue
                quick[i] = quick[i] + 1 if time.monotonic() - started < STARTUP_GRACE else 0
                if quick[i] >= QUICK_DEATHS:
                    log.error("server worker %s exited with %s right after starting, %d times "
                              "in a row; stopping", process.pid, process.exitcode, quick[i])
                    status = 1
                    stop.set()
                    break
                log.warning("server worker %s exited with %s; starting another",
                            process.pid, process.exitcode)
                procs[i] = start(i)
    finally:
        for process, _started in procs:
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + 30
        for process, _started in procs:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sock in sockets:
            sock.close()
    return status
