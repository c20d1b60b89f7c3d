"""`robopass monitor` against real servers: it follows the log, and it catches a registry that
was restored from an old backup and written again (SPEC §15)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from robopass.monitor import leaves
from tests.conftest import Registry
from tests.ledger import fill
from tests.utils.server import running_server
from tests.witness.procs import env


def monitor(base: str, vkey: str, state: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "robopass", "monitor", "--log", base, "--vkey",
                           vkey, "--state", str(state), "--once", *extra], env=env(),
                          capture_output=True, text=True, timeout=300)


def test_the_monitor_follows_real_writes(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    maker, code = client.manufactured_unit()
    owner = client.org("operator")
    client.event(maker, code, "sold", at="2026-04-01T08:00:00Z", to_organization=owner.id)
    with running_server(client.registry.url) as base:
        vkey = httpx.get(f"{base}/api/v1/ledger/vkey").text.strip()
        first = monitor(base, vkey, tmp_path / "m")
        size1 = httpx.get(f"{base}/api/v1/ledger/head").json()["size"]
        model_id = client.approved_model(maker)
        client.codes(maker, model_id, 300)
        second = monitor(base, vkey, tmp_path / "m")
        size2 = httpx.get(f"{base}/api/v1/ledger/head").json()["size"]
        third = monitor(base, vkey, tmp_path / "m")
    assert first.returncode == 0, first.stderr
    assert f"up to size {size1} " in first.stdout and f"{size1} new entries" in first.stdout
    assert second.returncode == 0, second.stderr
    assert f"up to size {size2} " in second.stdout
    assert f"{size2 - size1} new entries checked" in second.stdout
    assert third.returncode == 0 and "0 new entries checked" in third.stdout


def test_the_monitor_catches_a_registry_restored_from_an_old_backup(sqlite_registry: Registry,
                                                                    tmp_path: Path) -> None:
    url = sqlite_registry.url
    fill.append(url, 300)
    backup = tmp_path / "old.jsonl.gz"
    subprocess.run([sys.executable, "-m", "robopass", "backup", str(backup), "--db", url],
                   env=env(), check=True, capture_output=True)
    fill.append(url, 100, start=300)
    state = tmp_path / "m"
    with running_server(url) as base:
        vkey = httpx.get(f"{base}/api/v1/ledger/vkey").text.strip()
        seen = monitor(base, vkey, state)
        honest = httpx.get(f"{base}/api/v1/ledger/checkpoint").text
    assert seen.returncode == 0 and "up to size 400 " in seen.stdout, seen.stderr

    restored = f"sqlite:///{tmp_path / 'restored.db'}"
    subprocess.run([sys.executable, "-m", "robopass", "restore", str(backup), "--db", restored],
                   env=env(), check=True, capture_output=True)
    fill.append(restored, 100, start=10_000)  # written again: same size, other entries
    with running_server(restored) as base:
        split = monitor(base, vkey, state)
        forged = httpx.get(f"{base}/api/v1/ledger/checkpoint").text
        fill.append(restored, 50, start=20_000)
        rewritten = monitor(base, vkey, state)
    assert split.returncode == 2 and "split view" in split.stdout
    assert honest in split.stdout and forged in split.stdout  # both signed checkpoints
    assert rewritten.returncode == 2 and "rewrote history" in rewritten.stdout
    assert honest in rewritten.stdout and "\n450\n" in rewritten.stdout


def test_the_monitor_refuses_another_key_and_a_missing_quorum(sqlite_registry: Registry,
                                                              tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from robopass.ledger import note

    fill.append(sqlite_registry.url, 5)
    with running_server(sqlite_registry.url) as base:
        origin = httpx.get(f"{base}/api/v1/ledger/head").json()["origin"]
        vkey = httpx.get(f"{base}/api/v1/ledger/vkey").text.strip()
        wrong = note.vkey(note.NoteKey.of(origin, Ed25519PrivateKey.generate()))
        bad_key = monitor(base, wrong, tmp_path / "a")
        witness = note.vkey(note.NoteKey.of("w.example/1", Ed25519PrivateKey.generate(),
                                            note.COSIGNATURE_V1))
        no_quorum = monitor(base, vkey, tmp_path / "b", "--witness", witness, "--quorum", "1",
                            "--quorum-wait", "0")
    assert bad_key.returncode == 1 and "does not verify" in bad_key.stderr
    assert no_quorum.returncode == 3 and "quorum is 1" in no_quorum.stderr


@pytest.mark.parametrize(("leaf", "problem"), [
    (b'{"at":null,"code":"c","digest":"' + b"a" * 64 + b'","id":"i","kind":"code","type":"t"}',
     None),
    (b'{"at":null,"code":"c","digest":"' + b"a" * 64 + b'","id":"i","kind":"x","type":"t"}',
     "kind"),
    (b'{"code":"c","digest":"' + b"a" * 64 + b'","id":"i","kind":"code","type":"t"}', "fields"),
    (b'{"at":null,"code":"c","digest":"A","id":"i","kind":"code","type":"t"}', "digest"),
    (b'{"code":"c","at":null,"digest":"' + b"a" * 64 + b'","id":"i","kind":"code","type":"t"}',
     "JCS"),
    (b"[1]", "object"),
])
def test_leaf_shapes(leaf: bytes, problem: str | None) -> None:
    found = leaves.problem(leaf)
    assert (found is None) if problem is None else (problem in (found or ""))
