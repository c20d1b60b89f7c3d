"""Federation between two real registries (CN and DE), each a uvicorn server on 127.0.0.1.

DE issues and records robots; CN pins DE's JWKS (`robopass peer add`), verifies DE codes through
DE with the passport checked against the pinned keys, and imports DE robots
(`robopass import-robot`), refusing scrapped/recycled ones, forged passports, unknown peers and
peers that do not answer — with nothing written.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from robopass import idcode
from robopass.cli import app
from robopass.db import dispose_engine, reading
from robopass.federation.models import ImportedRobot
from robopass.robots.models import Unit
from tests.utils.peers import manufactured_robots, org, post
from tests.utils.server import running_server

runner = CliRunner()


@dataclass
class Peer:
    base: str
    url: str
    key: str
    codes: dict[str, str]


_post = post


@pytest.fixture(scope="module")
def de(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peer]:
    """The German registry with three robots: in service, scrapped, and one with many events."""
    url = f"sqlite:///{tmp_path_factory.mktemp('de') / 'de.db'}"
    result = runner.invoke(app, ["init", "--db", url, "--country", "DE", "--json"])
    assert result.exit_code == 0, result.output
    key = json.loads(result.output)["regulator_api_key"]
    dispose_engine(url)
    with running_server(url) as base:
        maker, codes = manufactured_robots(base, key, 3)
        recycler = org(base, key, "Recycling AG", "recycler", "HRB 4712")
        buyer = org(base, key, "Fabrik KG", "operator", "HRB 4713")
        good, scrapped, fresh = codes
        _post(base, f"/api/v1/robots/{good}/events", maker["api_key"],
              {"type": "sold", "to_organization": buyer["id"]})
        _post(base, f"/api/v1/robots/{scrapped}/events", maker["api_key"],
              {"type": "decommissioned"})
        _post(base, f"/api/v1/robots/{scrapped}/events", recycler["api_key"],
              {"type": "scrapped"})
        yield Peer(base, url, key, {"good": good, "scrapped": scrapped, "fresh": fresh})


@pytest.fixture
def cn(registry) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """This (Chinese) registry's server."""
    with running_server(registry.url) as base:
        yield base


def add_peer(db: str, country: str, base: str, *extra: str) -> None:
    result = runner.invoke(app, ["peer", "add", "--db", db, country, base, *extra])
    assert result.exit_code == 0, result.output


def counts(db: str) -> tuple[int, int]:
    with reading(db) as session:
        return (session.scalar(select(func.count()).select_from(Unit)) or 0,
                session.scalar(select(func.count()).select_from(ImportedRobot)) or 0)


def test_verify_and_import_through_the_peer(registry, cn: str, de: Peer) -> None:  # type: ignore[no-untyped-def]
    good = de.codes["good"]
    # before the peer is known: a clear answer, no crash
    answer = httpx.get(f"{cn}/api/v1/verify/{good}").json()
    assert answer["reason_code"] == "unknown_peer" and answer["registered"] is False
    add_peer(registry.url, "DE", de.base)
    answer = httpx.get(f"{cn}/api/v1/verify/{good.lower()}").json()
    assert answer["registry"] == "DE" and answer["registered"] is True
    assert answer["passport_verified"] is True and answer["status"] == "sold"
    assert answer["manufacturer"]["name"] == "Roboterwerk GmbH"
    assert answer["model"]["name"] == "Arbeiter A1" and "reason" not in answer
    # the public page of CN shows the DE robot with the summary from its signed passport
    html = httpx.get(f"{cn}/r/{good}", headers={"Accept-Language": "en"}).text
    assert 'data-verdict="genuine"' in html and "Answered by the DE registry" in html
    assert 'data-testid="owners">1<' in html
    # scrapped abroad: verify says so
    answer = httpx.get(f"{cn}/api/v1/verify/{de.codes['scrapped']}").json()
    assert answer["reason_code"] == "unit_scrapped" and answer["registry"] == "DE"

    before = counts(registry.url)
    result = runner.invoke(app, ["import-robot", "--db", registry.url, good, "--json"])
    assert result.exit_code == 0, result.output
    imported = json.loads(result.output)
    assert imported["code"] == good and imported["imported_from"] == "DE"
    assert counts(registry.url) == (before[0] + 1, before[1] + 1)
    passport = httpx.get(f"{de.base}/api/v1/robots/{good}/passport").json()
    with reading(registry.url) as session:
        unit = session.get(Unit, good)
        assert unit is not None and unit.imported and unit.imported_from == "DE"
        assert unit.status == "sold" and unit.production_month == "2026-02"
        evidence = session.get(ImportedRobot, good)
        assert evidence is not None and evidence.country == "DE"
        assert evidence.history_digest == imported["history_digest"]
        assert [h["type"] for h in evidence.history] == [h["type"] for h in passport["history"]]
    # now answered locally, marked as imported; the buyer summary keeps its life abroad
    answer = httpx.get(f"{cn}/api/v1/verify/{good}").json()
    assert answer["registered"] is True and answer["registry"] == "CN"
    assert answer["imported_from"] == "DE"
    html = httpx.get(f"{cn}/r/{good}", headers={"Accept-Language": "en"}).text
    assert 'data-verdict="genuine"' in html and 'data-testid="owners">1<' in html
    assert "Imported from" in html
    local = httpx.get(f"{cn}/api/v1/robots/{good}/passport").json()
    from robopass.passports.verify import decode_unverified

    claims = decode_unverified(local["passport"])[1]
    assert claims["imported_from"] == "DE" and claims["summary"]["owners"] == 1
    result = runner.invoke(app, ["peer", "list", "--db", registry.url])
    assert json.loads(result.output.splitlines()[0])["country"] == "DE"
    # importing twice is refused, nothing written
    result = runner.invoke(app, ["import-robot", "--db", registry.url, good])
    assert result.exit_code != 0 and "already registered" in result.output
    assert counts(registry.url) == (before[0] + 1, before[1] + 1)


def test_scrapped_abroad_is_not_admitted(registry, de: Peer) -> None:  # type: ignore[no-untyped-def]
    add_peer(registry.url, "DE", de.base)
    before = counts(registry.url)
    result = runner.invoke(app, ["import-robot", "--db", registry.url, de.codes["scrapped"]])
    assert result.exit_code == 1 and "scrapped" in result.output
    assert "nothing was imported" in result.output
    assert counts(registry.url) == before


def test_forged_passport_is_refused(registry, cn: str, de: Peer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # pin a JWKS that is not DE's: every DE passport now looks forged
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from robopass.ledger.heads import public_jwk

    real = httpx.get(f"{de.base}/.well-known/jwks.json").json()
    fake = {"keys": [{**public_jwk(Ed25519PrivateKey.generate().public_key()),
                      "kid": k["kid"]} for k in real["keys"]]}
    (tmp_path / "fake.json").write_text(json.dumps(fake))
    add_peer(registry.url, "DE", de.base, "--jwks", str(tmp_path / "fake.json"))
    answer = httpx.get(f"{cn}/api/v1/verify/{de.codes['good']}").json()
    assert answer["reason_code"] == "passport_invalid" and answer["registered"] is False
    assert answer["passport_error"] == "bad_signature"
    html = httpx.get(f"{cn}/r/{de.codes['good']}", headers={"Accept-Language": "zh-CN"}).text
    assert 'data-reason="passport_invalid"' in html and "签名验证" in html
    before = counts(registry.url)
    result = runner.invoke(app, ["import-robot", "--db", registry.url, de.codes["fresh"]])
    assert result.exit_code == 1 and "bad_signature" in result.output
    assert counts(registry.url) == before


def test_peer_key_rotation_needs_a_refresh(registry, de: Peer) -> None:  # type: ignore[no-untyped-def]
    add_peer(registry.url, "DE", de.base)
    result = runner.invoke(app, ["keys", "rotate", "--db", de.url])
    assert result.exit_code == 0, result.output
    dispose_engine(de.url)
    before = counts(registry.url)
    result = runner.invoke(app, ["import-robot", "--db", registry.url, de.codes["fresh"]])
    assert result.exit_code == 1 and "unknown_key" in result.output
    assert counts(registry.url) == before
    add_peer(registry.url, "DE", de.base)  # re-pin: now the new key is known
    result = runner.invoke(app, ["import-robot", "--db", registry.url, de.codes["fresh"]])
    assert result.exit_code == 0, result.output


@pytest.fixture
def silent_peer() -> Iterator[str]:
    """A 'registry' that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_unknown_unreachable_and_silent_peers(registry, silent_peer: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from robopass.db import writing
    from robopass.federation import service
    from robopass.verification import service as verification_service

    fr_code = idcode.with_check("FR10000000012603A13B00000001")
    jp_code = idcode.with_check("JP10000000012603A13B00000001")
    us_code = idcode.with_check("US10000000012603A13B00000001")
    jwks = {"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k",
                      "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    with writing(registry.url) as session:
        service.add_peer(session, country="JP", base_url=closed, jwks=jwks)
        service.add_peer(session, country="US", base_url=silent_peer, jwks=jwks)
    before = counts(registry.url)
    with reading(registry.url) as session:
        assert verification_service.verify(session, fr_code)["reason_code"] == "unknown_peer"
        jp = verification_service.verify(session, jp_code)
        assert jp["reason_code"] == "peer_unreachable" and jp["registry"] == "JP"
        us = verification_service.verify(session, us_code)
        assert us["reason_code"] == "peer_unreachable" and "in time" in us["reason"]
    for code, words in ((fr_code, "no peer registry for FR"), (jp_code, "could not be reached"),
                        (us_code, "did not answer")):
        result = runner.invoke(app, ["import-robot", "--db", registry.url, code])
        assert result.exit_code == 1 and words in result.output, result.output
    assert counts(registry.url) == before
    # peer add against a dead or silent registry fails cleanly, pins nothing
    for base in (closed, silent_peer):
        result = runner.invoke(app, ["peer", "add", "--db", registry.url, "FR", base])
        assert result.exit_code == 1 and "error" in result.output
    with reading(registry.url) as session:
        assert service.get_peer(session, "FR") is None


def test_peer_add_bad_input(registry) -> None:  # type: ignore[no-untyped-def]
    for args, words in ((["XX", "http://127.0.0.1:1"], "ISO 3166"),
                        (["CN", "http://127.0.0.1:1"], "own country"),
                        (["DE", "ftp://example"], "must be http")):
        result = runner.invoke(app, ["peer", "add", "--db", registry.url, *args,
                                     "--jwks", "/nonexistent"])
        assert result.exit_code == 1 and words in result.output, result.output
    result = runner.invoke(app, ["import-robot", "--db", registry.url, "CN-garbage"])
    assert result.exit_code == 1 and "9 characters" in result.output
