"""Shared helpers for benchmarks: a fresh registry with one approved model."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from robopass.auth.service import Actor  # noqa: E402
from robopass.db import dispose_engine, writing  # noqa: E402
from robopass.organizations import service as org_service  # noqa: E402
from robopass.product_models import service as model_service  # noqa: E402
from robopass.product_models.schemas import ModelCreate  # noqa: E402
from robopass.registry.service import initialise  # noqa: E402
from robopass.runtime import tune_gc  # noqa: E402

tune_gc()  # as the server (robopass.asgi) and the CLI do

PG_ADMIN = os.environ.get("ROBOPASS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REGULATOR = Actor(id="bench", name="bench", roles=frozenset({"regulator"}), country="CN")


@dataclass
class BenchRegistry:
    url: str
    maker: Actor
    model_id: str
    cleanup_dir: str | None = None
    pg_name: str | None = None

    def close(self) -> None:
        dispose_engine(self.url)
        if self.cleanup_dir:
            shutil.rmtree(self.cleanup_dir, ignore_errors=True)
        if self.pg_name:
            import psycopg

            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')


def new_registry(backend: str) -> BenchRegistry:
    cleanup = pg_name = None
    if backend == "sqlite":
        cleanup = tempfile.mkdtemp(prefix="robopass-bench-")
        url = f"sqlite:///{cleanup}/bench.db"
    else:
        import psycopg

        pg_name = f"robopass_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{pg_name}"')
        url = PG_ADMIN.rsplit("/", 1)[0] + f"/{pg_name}"
    initialise(url)
    with writing(url) as session:
        maker, model_id = approved_model(session)
    return BenchRegistry(url=url, maker=maker, model_id=model_id, cleanup_dir=cleanup,
                         pg_name=pg_name)


def approved_model(session: Any) -> tuple[Actor, str]:
    """In an initialised registry: a manufacturer and an approved model of it."""
    from robopass.organizations.models import Organization

    regulator = session.query(Organization).filter(
        Organization.name.like("National Robot Registry%")).one()
    reg = Actor.of(regulator)
    org, _ = org_service.create(session, actor=reg, name="Bench Robotics GmbH",
                                roles=["manufacturer"], country="DE",
                                registration_number="HRB 1")
    maker = Actor.of(org)
    return maker, file_approved(session, maker, reg, name="Bench B1", hardware_class="B",
                                intelligence_level=3, height_cm=170, mass_kg=60, dof=40)


def file_approved(session: Any, maker: Actor, regulator: Actor, *, name: str,
                  hardware_class: str, intelligence_level: int, height_cm: int, mass_kg: int,
                  dof: int) -> str:
    """File a model of ``maker`` (a battery pack, one software) and approve it; its id."""
    model = model_service.file(session, actor=maker, data=ModelCreate.model_validate({
        "name": name, "hardware_class": hardware_class,
        "intelligence_level": intelligence_level,
        "parameters": {"height_cm": height_cm, "mass_kg": mass_kg, "degrees_of_freedom": dof},
        "components": [{"type": "battery_pack", "name": "BP"}],
        "software": {"name": "OS", "version": "1"}}))
    _evaluate(session, regulator, model.id, intelligence_level)
    model_service.decide(session, actor=regulator, model_id=model.id, decision="approve")
    return model.id


def _evaluate(session: Any, regulator: Actor, model_id: str, level: int) -> None:
    """An accredited bench lab files a passing evaluation (approval needs one, SPEC §13)."""
    from datetime import date

    from robopass.organizations import governance
    from robopass.organizations.models import Organization
    from robopass.product_models import evaluations
    from robopass.product_models.schemas import EvaluationCreate

    lab = session.query(Organization).filter(Organization.name == "Bench Test Lab").first()
    if lab is None:
        lab, _ = org_service.create(session, actor=regulator, name="Bench Test Lab",
                                    roles=["testing_lab"], country="DE",
                                    registration_number="HRB 2")
        governance.accredit(session, actor=regulator, org_id=lab.id,
                            scopes=["intelligence", "safety"], valid_until=date(2099, 1, 1))
    overall = max(1, level)
    evaluations.file_evaluation(session, actor=Actor.of(lab), model_id=model_id,
                                data=EvaluationCreate.model_validate({
                                    "grades": {"perception": overall, "decision": overall,
                                               "execution": overall, "collaboration": overall},
                                    "overall": overall,
                                    "safety_tests": [{"standard": "ISO 13482", "result": "pass"}],
                                    "report_sha256": "00" * 32, "valid_until": "2099-01-01"}))


def units_and_key(reg: BenchRegistry, count: int) -> tuple[list[str], str]:
    """``count`` issued units of the bench model and an API key of their manufacturer (the
    engine is disposed afterwards, so a server process starts from a clean pool)."""
    from robopass.auth.service import create_key
    from robopass.robots import service as robot_service

    with writing(reg.url) as session:
        codes = robot_service.issue_codes(session, actor=reg.maker, model_id=reg.model_id,
                                          count=count, plant="A1", production_month="2026-03")
        key = create_key(session, organization_id=reg.maker.id)
    dispose_engine(reg.url)
    return codes, key


def process_group(pgid: int) -> Iterator[tuple[str, list[str]]]:
    """``(pid, stat fields after "pid (comm)")`` of every process in the process group."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 (pgrp), counted after "pid (comm)"
            yield entry, fields


def server_cpu_seconds(pgid: int) -> float:
    """User + system CPU of every process in a server's process group (the parent, its fork
    server and workers; start the server with ``start_new_session=True``), read from /proc."""
    # utime, stime
    ticks = sum(int(fields[11]) + int(fields[12]) for _, fields in process_group(pgid))
    return ticks / os.sysconf("SC_CLK_TCK")


def server_cpu_by_role(pgid: int) -> dict[str, float]:
    """User + system CPU seconds of a server's processes, summed by role (:func:`process_role`):
    where the CPU goes — the workers' decode and store, the supervisor's fold."""
    out: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for pid, fields in process_group(pgid):
        role = process_role(pid)
        out[role] = out.get(role, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def group_rss_bytes(pgid: int) -> int:
    """Resident memory of every process in a process group, summed (from /proc)."""
    return sum(process_rss_bytes(pgid).values())


def process_rss_bytes(pgid: int) -> dict[str, int]:
    """Resident memory of each process of a process group, by pid (from /proc)."""
    page = os.sysconf("SC_PAGE_SIZE")
    # rss (pages), field 24
    return {pid: int(fields[21]) * page for pid, fields in process_group(pgid)}


def process_role(pid: str) -> str:
    """What a server process is: ``supervisor`` (the process group's leader, ``robopass
    serve``), ``resource_tracker`` and ``forkserver`` (multiprocessing's, when a worker was
    replaced) or ``worker`` (forked from the supervisor or from the fork server)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            argv = fh.read().decode(errors="replace")
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return "gone"
    if fields[2] == pid:  # the group's leader
        return "supervisor"
    if "resource_tracker" in argv:
        return "resource_tracker"
    if "forkserver" in argv:
        try:
            with open(f"/proc/{fields[1]}/cmdline", "rb") as fh:
                parent = fh.read().decode(errors="replace")
        except OSError:
            return "worker"
        return "worker" if "forkserver" in parent else "forkserver"
    return "worker"


def group_pss_bytes(pgid: int) -> int:
    """Proportional set size of every process in a process group, summed: the memory the group
    takes, each shared page counted once in all (the workers share what their fork server
    imported; a sum of RSS counts those pages once per process)."""
    total = 0
    for pid, _fields in process_group(pgid):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as fh:
                total += next(int(line.split()[1]) * 1024 for line in fh
                              if line.startswith("Pss:"))
        except (OSError, StopIteration):
            continue
    return total


class RssSampler:
    """Samples :func:`group_rss_bytes` and :func:`group_pss_bytes` of a process group in a
    thread; ``peak_mb`` and ``peak_pss_mb`` after :meth:`stop`."""

    def __init__(self, pgid: int, interval: float = 0.05) -> None:
        import threading

        self.peak = self.peak_pss = 0
        self.peaks: dict[str, int] = {}  # each process's own peak RSS, by pid
        self._stop = threading.Event()
        self._pgid, self._interval = pgid, interval
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self._interval)

    def _sample(self) -> None:
        each = process_rss_bytes(self._pgid)
        for pid, rss in each.items():
            self.peaks[pid] = max(self.peaks.get(pid, 0), rss)
        self.peak = max(self.peak, sum(each.values()))
        self.peak_pss = max(self.peak_pss, group_pss_bytes(self._pgid))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def peaks_by_role_mb(self) -> dict[str, list[float]]:
        """Each process's own peak RSS in MB, by role (see :func:`process_role`); call it
        while the processes still run."""
        return self.by_role_mb(self.peaks)

    @staticmethod
    def by_role_mb(sizes: dict[str, int]) -> dict[str, list[float]]:
        """Byte sizes by pid as MB by role (see :func:`process_role`)."""
        roles: dict[str, list[float]] = {}
        for pid, size in sorted(sizes.items()):
            roles.setdefault(process_role(pid), []).append(round(size / 2**20, 1))
        return roles

    @property
    def peak_mb(self) -> float:
        return round(self.peak / 2**20, 1)

    @property
    def peak_pss_mb(self) -> float:
        return round(self.peak_pss / 2**20, 1)


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_listening(argv: list[str], port: int, *,
                    timeout: float = 10) -> subprocess.Popen[bytes]:
    """Start a server program (its own process group) and wait until it accepts connections
    on ``127.0.0.1:port``; exits the benchmark if it does not within ``timeout`` seconds."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"{argv[0]} did not start")
