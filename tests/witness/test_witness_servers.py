"""A real witness process and a real registry server: `robopass serve` submits each new
checkpoint to its witnesses and serves their cosignatures (SPEC §15)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy import text

from robopass.db import writing
from robopass.ledger import checkpoint, note
from tests.conftest import Registry
from tests.ledger import fill
from tests.witness.procs import env, registry_server, robopass, wait_for


def keygen(tmp_path: Path, name: str) -> tuple[Path, str]:
    key = tmp_path / f"{name.replace('/', '_')}.key"
    out = subprocess.run([sys.executable, "-m", "robopass", "witness", "keygen", "--name", name,
                          "--out", str(key)], env=env(), capture_output=True, text=True,
                         check=True)
    return key, out.stdout.strip()


def witness_server(tmp_path: Path, key: Path, log_vkey: str):  # type: ignore[no-untyped-def]
    logs = tmp_path / "logs.txt"
    logs.write_text(f"# logs this witness follows\n{log_vkey}\n")
    return robopass(["witness", "serve", "--key", str(key), "--logs", str(logs), "--state",
                     str(tmp_path / "state")], "/vkey")


def cosigned(base: str, log_vkey: str, wvkey: str) -> checkpoint.Checkpoint | None:
    signed = httpx.get(f"{base}/api/v1/ledger/checkpoint").text
    cp, good = checkpoint.open_checkpoint(signed, note.parse_vkey(log_vkey),
                                          (note.parse_vkey(wvkey),))
    return cp if good else None


def test_the_registry_gets_cosignatures_for_each_new_checkpoint(registry: Registry,
                                                               tmp_path: Path) -> None:
    key, wvkey = keygen(tmp_path, "witness.example/w1")
    assert wvkey.startswith("witness.example/w1+") and note.parse_vkey(wvkey).kind == 0x04
    fill.append(registry.url, 300)
    with registry_server(registry.url) as base:
        log_vkey = httpx.get(f"{base}/api/v1/ledger/vkey").text.strip()
        with witness_server(tmp_path, key, log_vkey) as wbase:
            added = subprocess.run([sys.executable, "-m", "robopass", "witness", "add", "--db",
                                    registry.url, "witness.example/w1", wbase, wvkey],
                                   env=env(), capture_output=True, text=True)
            assert added.returncode == 0, added.stderr

            def at(size: int) -> bool:
                cp = cosigned(base, log_vkey, wvkey)
                return cp is not None and cp.size == size

            wait_for(lambda: at(300), 60, "a cosignature at size 300")
            fill.append(registry.url, 45, start=300)  # next one needs a consistency proof
            wait_for(lambda: at(345), 60, "a cosignature at size 345")
            # The registry forgets what the witness knows: a 409 tells it, it proves from there.
            with writing(registry.url) as session:
                session.execute(text("UPDATE ledger_witnesses SET known_size = NULL"))
            fill.append(registry.url, 5, start=345)
            wait_for(lambda: at(350), 60, "a cosignature at size 350 after a 409")
            listed = subprocess.run([sys.executable, "-m", "robopass", "witness", "list", "--db",
                                     registry.url], env=env(), capture_output=True, text=True)
            watched = subprocess.run([sys.executable, "-m", "robopass", "monitor", "--log", base,
                                      "--vkey", log_vkey, "--witness", wvkey, "--quorum", "1",
                                      "--state", str(tmp_path / "mon"), "--once"], env=env(),
                                     capture_output=True, text=True, timeout=120)
    assert "cosigned=350\terror=-" in listed.stdout
    assert watched.returncode == 0, watched.stderr
    assert "up to size 350 " in watched.stdout and "cosigned by witness.example/w1" in \
        watched.stdout


def test_a_witness_refuses_an_unknown_log_and_the_registry_keeps_serving(
        sqlite_registry: Registry, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key, wvkey = keygen(tmp_path, "witness.example/w2")
    other_log = note.vkey(note.NoteKey.of("other.example/ledger", Ed25519PrivateKey.generate()))
    fill.append(sqlite_registry.url, 10)
    with registry_server(sqlite_registry.url) as base, \
            witness_server(tmp_path, key, other_log) as wbase:
        with writing(sqlite_registry.url) as session:
            from robopass.ledger import witnessing

            witnessing.add_witness(session, name="witness.example/w2", url=wbase, vkey=wvkey)

        def refused() -> bool:
            with writing(sqlite_registry.url) as session:
                err = session.execute(text("SELECT last_error FROM ledger_witnesses")).scalar()
            return bool(err)

        wait_for(refused, 60, "the witness's refusal to be recorded")
        fill.append(sqlite_registry.url, 10, start=10)  # writes go on
        signed = httpx.get(f"{base}/api/v1/ledger/checkpoint").text
    assert "HTTP 404" in str(_last_error(sqlite_registry.url))
    assert signed.split("\n")[1] == "20" and signed.count("\u2014") == 1


def _last_error(url: str) -> str | None:
    with writing(url) as session:
        return session.execute(text("SELECT last_error FROM ledger_witnesses")).scalar()
