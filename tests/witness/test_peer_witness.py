"""`robopass peer add --witness-url --witness-vkey` registers the peer's witness (SPEC §15)."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from robopass.cli import app
from robopass.db import reading
from robopass.ledger import heads, witnessing
from robopass.witness import keyfile
from tests.conftest import Registry

runner = CliRunner()


def _jwks(tmp_path: Path) -> Path:
    path = tmp_path / "de.json"
    jwk = heads.public_jwk(Ed25519PrivateKey.generate().public_key())
    path.write_text(json.dumps({"keys": [jwk]}))
    return path


def test_peer_add_registers_the_peers_witness(registry: Registry, tmp_path: Path) -> None:
    wkey = keyfile.generate("robopass.de/witness")
    result = runner.invoke(app, ["peer", "add", "--db", registry.url, "DE", "https://robopass.de",
                                 "--jwks", str(_jwks(tmp_path)), "--witness-url",
                                 "https://robopass.de/witness", "--witness-vkey", wkey.vkey])
    assert result.exit_code == 0, result.output
    assert "witness robopass.de/witness added" in result.output
    with reading(registry.url) as session:
        rows = [(w.name, w.url, w.vkey) for w in witnessing.list_witnesses(session)]
    assert rows == [("robopass.de/witness", "https://robopass.de/witness", wkey.vkey)]


def test_peer_add_without_a_witness_says_how_and_refuses_half_a_pair(
        registry: Registry, tmp_path: Path) -> None:
    result = runner.invoke(app, ["peer", "add", "--db", registry.url, "DE", "https://robopass.de",
                                 "--jwks", str(_jwks(tmp_path))])
    assert result.exit_code == 0 and "--witness-url" in result.output
    half = runner.invoke(app, ["peer", "add", "--db", registry.url, "FR", "https://robopass.fr",
                               "--jwks", str(_jwks(tmp_path)), "--witness-url", "https://x"])
    assert half.exit_code == 1 and "go together" in half.output
    witness_vkey = keyfile.generate("x.example/w").vkey
    wrong_type = runner.invoke(app, ["witness", "add", "--db", registry.url, "x.example/w",
                                     "https://x.example", _as_log_vkey()])
    assert wrong_type.exit_code == 2 and "0x04" in wrong_type.output
    ok = runner.invoke(app, ["witness", "add", "--db", registry.url, "x.example/w",
                             "https://x.example", witness_vkey])
    assert ok.exit_code == 0, ok.output


def _as_log_vkey() -> str:
    from robopass.ledger import note

    return note.vkey(note.NoteKey.of("x.example/w", Ed25519PrivateKey.generate()))
