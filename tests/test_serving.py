"""`robopass serve --workers N`: each worker listens on its own SO_REUSEPORT socket, so
connections opened together spread over the workers; the parent replaces a worker that dies
and stops them all on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from robopass import serving
from robopass.cli import app
from robopass.db import dispose_engine
from tests.utils.server import free_port


def _children(pid: int) -> set[int]:
    kids = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    if int(fh.read().rsplit(")", 1)[1].split()[1]) == pid:
                        kids.add(int(entry))
            except OSError:
                continue
    return kids


def _wait_up(base: str) -> None:
    for _ in range(300):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("server did not start")


@pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="needs SO_REUSEPORT (Linux)")
def test_workers_listen_on_their_own_sockets_and_are_supervised(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    CliRunner().invoke(app, ["init", "--db", url, "--country", "CN"])
    dispose_engine(url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "robopass", "serve", "--db", url,
                             "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
                             "--no-webhooks", "--signal-scan", "0"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _wait_up(base)
        listening = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True,
                                   text=True, check=True).stdout.strip().splitlines()
        assert len(listening) == 2, listening  # one socket per worker
        # connections opened together reach both workers
        pids_serving = set()
        conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(16)]
        time.sleep(0.3)
        established = subprocess.run(["ss", "-Hntp", "state", "established",
                                      f"sport = :{port}"], capture_output=True, text=True,
                                     check=True).stdout
        for line in established.splitlines():
            if "pid=" in line:
                pids_serving.add(int(line.split("pid=", 1)[1].split(",")[0]))
        for c in conns:
            c.close()
        assert len(pids_serving) == 2, established
        # a worker that dies is replaced, on the same socket
        victim = sorted(pids_serving)[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            listening = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"],
                                       capture_output=True, text=True, check=True).stdout
            pids = {int(p.split(",")[0]) for p in listening.split("pid=")[1:]}
            if len(listening.strip().splitlines()) == 2 and victim not in pids \
                    and len(pids - {proc.pid}) == 2:
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"the killed worker was not replaced: {listening}")
        assert httpx.get(f"{base}/api/v1/verify/CN-XYZ", timeout=5).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0
    assert not _children(proc.pid)  # no worker left behind
    assert subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True,
                          check=True).stdout.strip() == ""


def test_a_taken_port_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError):
            serving.run(host="127.0.0.1", port=port, workers=2)


def test_workers_that_cannot_start_stop_the_server() -> None:
    """A broken application does not restart forever: exit status 1."""
    started = time.monotonic()
    assert serving.run(host="127.0.0.1", port=free_port(), workers=2,
                       app="robopass.no_such_module:app", log_level="critical") == 1
    assert time.monotonic() - started < 60
