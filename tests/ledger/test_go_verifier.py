"""An implementation we did not write checks our checkpoint and tiles: Go's sumdb/note opens
the signed checkpoint under the log's vkey, and sumdb/tlog proves entries from our tiles."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import Registry
from tests.ledger import fill
from tests.ledger.golang import build_verifier
from tests.utils.server import running_server


@pytest.fixture(scope="module")
def verifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_verifier(tmp_path_factory.mktemp("go"))


def test_go_opens_the_checkpoint_and_proves_entries_from_tiles(registry: Registry,
                                                               verifier: Path) -> None:
    fill.append(registry.url, 1000)
    with running_server(registry.url) as base:
        vkey = httpx.get(f"{base}/api/v1/ledger/vkey").text.strip()
        head = httpx.get(f"{base}/api/v1/ledger/head").json()
        out = subprocess.run([str(verifier), base, vkey, "0", "255", "256", "700", "999"],
                             capture_output=True, text=True, timeout=120)
        entry = httpx.get(f"{base}/api/v1/ledger/entries", params={"start": 999, "end": 1000})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    origin, size = lines[0].split()[1:3]
    assert (origin, int(size)) == (head["origin"], head["size"]) == (vkey.split("+")[0], 1000)
    assert lines[0].endswith("sigs=1 unverified=0")
    included = {int(line.split()[1]): line.split(" ", 2)[2] for line in lines[1:]}
    assert sorted(included) == [0, 255, 256, 700, 999]
    assert included[999] == entry.json()["entries"][0]["leaf"]
    assert json.loads(included[0])["kind"] == "code"


def test_go_refuses_a_checkpoint_under_another_key(sqlite_registry: Registry,
                                                   verifier: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from robopass.ledger import note

    fill.append(sqlite_registry.url, 3)
    with running_server(sqlite_registry.url) as base:
        origin = httpx.get(f"{base}/api/v1/ledger/head").json()["origin"]
        wrong = note.vkey(note.NoteKey.of(origin, Ed25519PrivateKey.generate()))
        out = subprocess.run([str(verifier), base, wrong, "0"], capture_output=True, text=True,
                             timeout=60)
    assert out.returncode == 1 and "note.Open" in out.stderr


def test_go_opens_a_checkpoint_that_carries_a_cosignature(sqlite_registry: Registry,
                                                           verifier: Path) -> None:
    from robopass.db import reading, writing
    from robopass.ledger import note, transparency, witnessing
    from robopass.ledger.models import LedgerWitness
    from robopass.witness import keyfile

    fill.append(sqlite_registry.url, 20)
    wkey = keyfile.generate("witness.example/go")
    with reading(sqlite_registry.url) as session:
        size, root = transparency.current(session)
        text = transparency.checkpoint_text(session, witnessed=False).split("\n\n")[0] + "\n"
    line = note.cosign(text, wkey.name, wkey.private, 1_800_000_000).line()
    with writing(sqlite_registry.url) as session:
        witnessing.add_witness(session, name=wkey.name, url="http://127.0.0.1:9", vkey=wkey.vkey)
        row = session.get(LedgerWitness, wkey.name)
        assert row is not None
        row.cosigned_size, row.cosigned_root, row.cosignature = size, root.hex(), line
    with running_server(sqlite_registry.url, env={"ROBOPASS_PUBLIC_RATE_LIMIT": "0"}) as base:
        vkey = httpx.get(f"{base}/api/v1/ledger/vkey").text.strip()
        served = httpx.get(f"{base}/api/v1/ledger/checkpoint").text
        out = subprocess.run([str(verifier), base, vkey, "19"], capture_output=True, text=True,
                             timeout=60)
    assert served.endswith(line)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0].endswith("sigs=1 unverified=1")
