"""Start ``robopass`` commands (witness serve, serve) as real processes on free ports."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.utils.server import free_port

SRC = str(Path(__file__).resolve().parents[2] / "src")


def env(**extra: str) -> dict[str, str]:
    path = os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "ROBOPASS_PUBLIC_RATE_LIMIT": "0", **extra}


def wait_for(check: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@contextmanager
def robopass(args: list[str], ready_path: str, *, method: str = "GET",
             extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """Run ``python -m robopass ARGS --port P`` and yield its base URL once it answers."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "robopass", *args, "--host", "127.0.0.1",
                             "--port", str(port)], env=env(**(extra_env or {})),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def up() -> bool:
        if proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            raise RuntimeError(f"{args[0]} exited: {out[-2000:]}")
        try:
            httpx.request(method, base + ready_path, timeout=1)
            return True
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, 60, f"{' '.join(args[:2])} to start")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def registry_server(db_url: str, interval: str = "0.2") -> Iterator[str]:
    return robopass(["serve", "--db", db_url, "--no-webhooks", "--signal-scan", "0",  # type: ignore[return-value]
                     "--witness-interval", interval], "/api/v1/ledger/head",
                    extra_env={"ROBOPASS_DATABASE_URL": db_url})
