"""tlog-witness add-checkpoint decisions (c2sp.org/tlog-witness), with the file state."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from robopass.ledger import checkpoint, merkle, note
from robopass.witness import keyfile, protocol
from robopass.witness.state import FileState

ORIGIN = "log.example/ledger"


class Log:
    def __init__(self) -> None:
        self.private = Ed25519PrivateKey.generate()
        self.key = note.NoteKey.of(ORIGIN, self.private)
        self.tree = merkle.MerkleTree()

    def grow(self, n: int, tag: str = "") -> None:
        for _ in range(n):
            self.tree.append(f"{tag}{len(self.tree)}".encode())

    def signed(self, size: int | None = None, private: Ed25519PrivateKey | None = None) -> str:
        size = len(self.tree) if size is None else size
        text = checkpoint.body(ORIGIN, size, self.tree.root(size))
        return text + "\n" + note.sign(text, ORIGIN, private or self.private).line()

    def request(self, old: int, size: int | None = None, proof: list[bytes] | None = None,
                private: Ed25519PrivateKey | None = None) -> bytes:
        size = len(self.tree) if size is None else size
        if proof is None:
            proof = self.tree.consistency_proof(old, size) if old else []
        lines = "".join(base64.b64encode(h).decode() + "\n" for h in proof)
        return (f"old {old}\n{lines}\n" + self.signed(size, private)).encode()


@pytest.fixture
def setup(tmp_path: Path):  # type: ignore[no-untyped-def]
    log = Log()
    wkey = keyfile.generate("witness.example/w1")
    state = FileState(tmp_path / "state")

    def submit(body: bytes, logs: list[note.NoteKey] | None = None) -> protocol.Answer:
        return protocol.add_checkpoint(body, logs=logs if logs is not None else [log.key],
                                       name=wkey.name, private=wkey.private, state=state,
                                       now=lambda: 1_800_000_000)
    return log, wkey, state, submit


def test_a_consistent_checkpoint_is_cosigned_and_remembered(setup) -> None:  # type: ignore[no-untyped-def]
    log, wkey, state, submit = setup
    log.grow(10)
    answer = submit(log.request(0))
    assert answer.status == 200
    parsed = note.parse_note(log.signed() + answer.body)
    assert note.verify(parsed, [wkey.public]) == [wkey.public]
    assert note.cosignature_time(parsed.signatures[-1]) == 1_800_000_000
    assert state.get(ORIGIN) == (10, log.tree.root())
    log.grow(7)
    assert submit(log.request(10)).status == 200
    assert state.get(ORIGIN) == (17, log.tree.root())
    assert submit(log.request(17)).status == 200  # the same checkpoint again


def test_a_stale_old_size_gets_409_with_the_size_the_witness_knows(setup) -> None:  # type: ignore[no-untyped-def]
    log, _, state, submit = setup
    log.grow(5)
    submit(log.request(0))
    log.grow(5)
    answer = submit(log.request(0))
    assert (answer.status, answer.body, answer.content_type) == (409, "5\n", "text/x.tlog.size")
    assert state.get(ORIGIN)[0] == 5


def test_a_bad_consistency_proof_is_422_and_not_cosigned(setup) -> None:  # type: ignore[no-untyped-def]
    log, _, state, submit = setup
    log.grow(6)
    submit(log.request(0))
    log.grow(3)
    proof = log.tree.consistency_proof(6, 9)
    proof[0] = bytes(32)
    assert submit(log.request(6, proof=proof)).status == 422
    assert submit(log.request(0, size=6, proof=[bytes(32)])).status in (409, 422)
    assert state.get(ORIGIN)[0] == 6


def test_a_rewritten_history_is_refused(setup) -> None:  # type: ignore[no-untyped-def]
    log, _, state, submit = setup
    log.grow(8)
    submit(log.request(0))
    other = Log()
    other.private, other.key = log.private, log.key  # same log key, different leaves
    other.grow(12, tag="x")
    assert submit(other.request(8, proof=other.tree.consistency_proof(8, 12))).status == 422
    same_size = Log()
    same_size.private, same_size.key = log.private, log.key
    same_size.grow(8, tag="y")
    assert submit(same_size.request(8)).status == 409
    assert state.get(ORIGIN) == (8, log.tree.root())


def test_signature_origin_and_shape_errors(setup) -> None:  # type: ignore[no-untyped-def]
    log, _, _, submit = setup
    log.grow(3)
    assert submit(log.request(0, private=Ed25519PrivateKey.generate())).status == 403
    assert submit(log.request(0), logs=[]).status == 404
    assert submit(log.request(0), logs=[note.NoteKey.of("other/log", log.private)]
                  ).status == 404
    assert submit(log.request(4, size=3, proof=[])).status == 400
    assert submit(b"old x\n\n" + log.signed().encode()).status == 400
    assert submit(b"old 0\n" + log.signed().encode()).status == 400


def test_concurrent_submissions_never_roll_the_log_back(setup) -> None:  # type: ignore[no-untyped-def]
    from concurrent.futures import ThreadPoolExecutor

    log, _, state, submit = setup
    log.grow(4)
    submit(log.request(0))
    log.grow(60)
    bodies = [log.request(4, size=s) for s in range(5, 65)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(submit, bodies))
    assert sum(a.status == 200 for a in answers) == 1
    assert all(a.status == 409 for a in answers if a.status != 200)
    winner = 5 + [a.status for a in answers].index(200)
    assert state.get(ORIGIN) == (winner, log.tree.root(winner))


def test_the_key_file_round_trips_and_is_private(tmp_path: Path) -> None:
    key = keyfile.generate("w.example/k")
    path = tmp_path / "k.key"
    keyfile.write(key, path)
    assert path.stat().st_mode & 0o777 == 0o600
    again = keyfile.read(path)
    assert again.vkey == key.vkey and path.read_text().startswith("PRIVATE+KEY+w.example/k+")
    with pytest.raises(FileExistsError):
        keyfile.write(key, path)
    with pytest.raises(note.NoteError):
        keyfile.decode(path.read_text().replace("w.example/k", "w.example/other"))
