"""Run a real robopass server (uvicorn in a subprocess) on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(db_url: str, *, workers: int = 1, env: dict[str, str] | None = None
                   ) -> Iterator[str]:
    """Yield the base URL of a server on ``db_url``; stops it afterwards."""
    with server_process(db_url, workers=workers, env=env) as (base, _proc):
        yield base


@contextmanager
def server_process(db_url: str, *, workers: int = 1, env: dict[str, str] | None = None
                   ) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Like :func:`running_server`, also yielding the process (tests that kill it)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    src = str(Path(__file__).resolve().parents[2] / "src")
    pythonpath = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH", "")) if p)
    # Public rate limiting is tested in-process (tests/test_ratelimit.py); servers started for
    # tests and benchmarks run without it unless ``env`` says otherwise.
    proc_env = {**os.environ, "ROBOPASS_DATABASE_URL": db_url, "ROBOPASS_PUBLIC_URL": base,
                "PYTHONPATH": pythonpath, "ROBOPASS_PUBLIC_RATE_LIMIT": "0", **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "robopass.asgi:app", "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers), "--log-level", "warning"],
        env=proc_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120  # generous: a loaded machine starts slowly
        while True:
            try:
                if httpx.get(f"{base}/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                if proc.poll() is None:  # still running: stop it, or reading waits forever
                    proc.kill()
                out = proc.stdout.read().decode() if proc.stdout else ""
                raise RuntimeError(f"server did not start: {out[-2000:]}")
            time.sleep(0.1)
        yield base, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
