"""`robopass serve --workers N`: each worker listens on its own SO_REUSEPORT socket, so
connections opened together spread over the workers; the first workers are forked from the
server process, the parent replaces a worker that dies (from a fork server) and stops them all
on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
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


def _parent(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[1])
    except OSError:  # gone meanwhile
        return -1


def _is_fork_server(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return b"forkserver" in fh.read()
    except OSError:
        return False


def _wait_up(base: str, within: float = 120) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("server did not start")


def _pids_serving_connections(port: int, *, want: int, within: float) -> set[int]:
    """Open 16 connections at once, again (a round at a time) until ``want`` different
    processes have accepted connections of the same round, or the deadline passes; returns the
    processes of the last round."""
    deadline = time.monotonic() + within
    seen: set[int] = set()
    while len(seen) < want and time.monotonic() < deadline:
        seen = set()
        conns = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(16)]
        try:
            settle = time.monotonic() + 5
            while len(seen) < want and time.monotonic() < settle:
                established = subprocess.run(["ss", "-Hntp", "state", "established",
                                              f"sport = :{port}"], capture_output=True,
                                             text=True, check=True).stdout
                for line in established.splitlines():
                    if "pid=" in line:
                        seen.add(int(line.split("pid=", 1)[1].split(",")[0]))
                time.sleep(0.1)
        finally:
            for c in conns:
                c.close()
    return seen


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
        # connections opened together reach both workers: awaited, since on a loaded machine
        # a worker may still be starting (its connections wait, unaccepted, in its backlog)
        pids_serving = _pids_serving_connections(port, want=2, within=120)
        assert len(pids_serving) == 2, pids_serving
        # the first workers are forked from the server process itself, which imported the
        # app once (no fork server, no resource tracker while none has died)
        assert {_parent(pid) for pid in pids_serving} == {proc.pid}
        assert len(_children(proc.pid)) == 2
        # a worker that dies is replaced, on the same socket, from a fork server started then
        victim = sorted(pids_serving)[0]
        survivor = sorted(pids_serving)[1]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 120
        replacement = None
        while time.monotonic() < deadline:
            listening = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"],
                                       capture_output=True, text=True, check=True).stdout
            pids = {int(p.split(",")[0]) for p in listening.split("pid=")[1:]} - {proc.pid}
            new = [pid for pid in pids - {victim, survivor} if _is_fork_server(_parent(pid))]
            # (the fork server holds the sockets for a moment while it forks a worker)
            if len(listening.strip().splitlines()) == 2 and victim not in pids and new \
                    and pids == {survivor, new[0]}:
                replacement = new[0]
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"the killed worker was not replaced: {listening}")
        assert httpx.get(f"{base}/api/v1/verify/CN-XYZ", timeout=60).status_code == 200
        assert _parent(_parent(replacement)) == proc.pid  # the fork server is the server's
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert b"Ready: 2 workers serving" in out, out  # said once every worker accepted
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


def test_workers_are_forked_only_from_a_single_threaded_process() -> None:
    """The first workers are forked from the server process itself only while no other thread
    runs there (a fork copies no thread but every lock one may hold); else from a fork
    server."""
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert serving._first_context("json:app").get_start_method() == "forkserver"
    finally:
        stop.set()
        other.join()
    code = ("import sys; from robopass import serving; "
            "print(serving._first_context('json:app').get_start_method(), "
            "'json' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["fork", "True"]  # the app's module imported before forking
