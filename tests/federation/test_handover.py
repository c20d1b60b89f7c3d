"""Hand-over between two live registries (SPEC §16): DE is a robot's origin, CN imports it.

CN's import queues a message signed by CN's key; delivered through the outbox (retried while
DE is unreachable), DE records ``exported`` (to CN), refuses further local events except
corrections, and its verify and public page say the robot lives in CN. CN's later scrapping is
reported back the same way and shows at DE; a third registry (FR) then refuses to import it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from robopass.cli import app
from robopass.db import dispose_engine, reading
from robopass.federation import delivery, messages
from robopass.federation.models import PeerMessage
from robopass.timeutil import utcnow
from tests.federation.test_federation import Peer, _post, add_peer
from tests.utils.peers import manufactured_robots, org
from tests.utils.server import free_port, running_server

runner = CliRunner()


def _init(path: Path, country: str) -> tuple[str, str]:
    url = f"sqlite:///{path}"
    result = runner.invoke(app, ["init", "--db", url, "--country", country, "--json"])
    assert result.exit_code == 0, result.output
    dispose_engine(url)
    return url, json.loads(result.output)["regulator_api_key"]


@pytest.fixture
def de(tmp_path: Path) -> Iterator[Peer]:
    """The German origin registry with one sold robot."""
    url, key = _init(tmp_path / "de.db", "DE")
    with running_server(url) as base:
        maker, (code,) = manufactured_robots(base, key, 1)
        buyer = org(base, key, "Fabrik KG", "operator", "HRB 4713")
        sold = _post(base, f"/api/v1/robots/{code}/events", maker["api_key"],
                     {"type": "sold", "to_organization": buyer["id"]})
        yield Peer(base, url, key, {"robot": code, "buyer_key": buyer["api_key"],
                                    "maker_key": maker["api_key"], "sold_event": sold["id"]})


def _deliver(url: str, **kw: object) -> dict[str, int]:
    return delivery.deliver_due(url, **kw).as_dict()  # type: ignore[arg-type]


def _messages(url: str) -> list[PeerMessage]:
    with reading(url) as session:
        rows = list(session.query(PeerMessage).order_by(PeerMessage.created_at))
        session.expunge_all()
        return rows


def test_handover_both_ways(registry, de: Peer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code = de.codes["robot"]
    with running_server(registry.url) as cn:
        owner = _post(cn, "/api/v1/organizations", registry.regulator_key, {
            "name": "进口商", "roles": ["operator"], "country": "CN",
            "uscc": __import__("tests.utils.api", fromlist=["make_uscc"]).make_uscc()})
        recycler = _post(cn, "/api/v1/organizations", registry.regulator_key, {
            "name": "回收公司", "roles": ["recycler"], "country": "CN",
            "uscc": __import__("tests.utils.api", fromlist=["make_uscc"]).make_uscc()})
        add_peer(registry.url, "DE", de.base)   # CN pins DE's keys
        add_peer(de.url, "CN", cn)              # DE pins CN's keys
        result = runner.invoke(app, ["import-robot", "--db", registry.url, code,
                                     "--owner", owner["id"], "--json"])
        assert result.exit_code == 0, result.output
        [notice] = _messages(registry.url)
        assert (notice.kind, notice.country, notice.status) == ("exported", "DE", "pending")
        assert messages.peek(notice.body)["iss"] == "CN"

        # DE unreachable: the message stays, is retried later
        jwks_file = tmp_path / "de-jwks.json"
        jwks_file.write_text(httpx.get(f"{de.base}/.well-known/jwks.json").text)
        add_peer(registry.url, "DE", f"http://127.0.0.1:{free_port()}", "--jwks", str(jwks_file))
        assert _deliver(registry.url) == {"attempted": 1, "delivered": 0, "retrying": 1,
                                          "failed": 0}
        [notice] = _messages(registry.url)
        assert notice.status == "pending" and notice.attempts == 1 and notice.last_error
        assert httpx.get(f"{de.base}/api/v1/verify/{code}").json().get("exported_to") is None
        # DE reachable again: the retry (when due) delivers it
        add_peer(registry.url, "DE", de.base)
        assert _deliver(registry.url)["attempted"] == 0  # not due yet (backoff)
        later = utcnow() + timedelta(hours=1)
        assert _deliver(registry.url, now=later)["delivered"] == 1
        assert _messages(registry.url)[0].status == "delivered"

        # the origin: exported, says where the robot lives, refuses local events
        answer = httpx.get(f"{de.base}/api/v1/verify/{code}").json()
        assert answer["exported_to"] == "CN" and answer["lives_in"] == "CN"
        assert answer["status"] == "sold"
        html = httpx.get(f"{de.base}/r/{code}", headers={"Accept-Language": "en"}).text
        assert 'data-testid="lives-in">CN<' in html
        events = httpx.get(f"{de.base}/api/v1/robots/{code}/events",
                           headers={"Authorization": f"Bearer {de.key}"}).json()
        exported = [e for e in events["events"]] if isinstance(events, dict) else events
        assert exported[-1]["type"] == "exported"
        assert exported[-1]["details"]["to_country"] == "CN"
        r = httpx.post(f"{de.base}/api/v1/robots/{code}/events",
                       json={"type": "deployed"},
                       headers={"Authorization": f"Bearer {de.codes['buyer_key']}"})
        assert r.status_code == 409 and r.json()["error"]["code"] == "exported_unit"
        assert "CN" in r.json()["error"]["message"]
        r = httpx.post(f"{de.base}/api/v1/robots/{code}/events",
                       json={"type": "correction", "details": {
                           "corrects": de.codes["sold_event"], "reason": "wrong buyer"}},
                       headers={"Authorization": f"Bearer {de.key}"})
        assert r.status_code == 201, r.text
        # delivered twice (at least once): recorded once
        r = httpx.post(f"{de.base}/api/v1/federation/handover", content=notice.body,
                       headers={"Content-Type": "application/jwt"})
        assert r.status_code == 200 and r.json()["recorded"] is False
        # the DE passport now says where the robot lives
        passport = httpx.get(f"{de.base}/api/v1/robots/{code}/passport").json()["passport"]
        from robopass.passports.verify import decode_unverified

        assert decode_unverified(passport)[1]["exported_to"] == "CN"

        # a third registry may not import a robot that lives elsewhere
        fr_url, _ = _init(tmp_path / "fr.db", "FR")
        add_peer(fr_url, "DE", de.base)
        result = runner.invoke(app, ["import-robot", "--db", fr_url, code])
        assert result.exit_code != 0 and "lives there" in result.output

        # CN scraps it: reported back, shows at DE
        for key, body in ((owner["api_key"], {"type": "decommissioned"}),
                          (recycler["api_key"], {"type": "scrapped"})):
            _post(cn, f"/api/v1/robots/{code}/events", key, body)
        report = [m for m in _messages(registry.url) if m.kind == "scrapped"]
        assert len(report) == 1 and report[0].country == "DE"
        result = runner.invoke(app, ["peer", "deliver", "--db", registry.url, "--json"])
        assert result.exit_code == 0 and json.loads(result.output)["delivered"] == 1
        answer = httpx.get(f"{de.base}/api/v1/verify/{code}").json()
        assert answer["status"] == "scrapped" and answer["reason_code"] == "unit_scrapped"
        assert answer["lives_in"] == "CN"
        # ... and the origin's ledger still verifies with the reported events in it
        result = runner.invoke(app, ["ledger", "verify", "--db", de.url])
        assert result.exit_code == 0, result.output
        # re-import anywhere is refused: the origin's passport says scrapped
        result = runner.invoke(app, ["import-robot", "--db", fr_url, code])
        assert result.exit_code != 0 and "scrapped" in result.output


def test_handover_refuses_forged_and_misaddressed(de: Peer, registry) -> None:  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from robopass.ledger import keys

    code = de.codes["robot"]
    body = {"iss": "CN", "aud": "DE", "kind": "exported", "code": code, "to_country": "CN",
            "at": "2026-12-01T00:00:00Z", "jti": "hmsg_x", "iat": 1}
    # CN is not (yet) a peer of DE: refused
    with reading(registry.url) as session:
        kid, private = keys.active(session)
    signed = messages.sign_message(private, kid, body)
    r = httpx.post(f"{de.base}/api/v1/federation/handover", content=signed,
                   headers={"Content-Type": "application/jwt"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unknown_peer"
    with running_server(registry.url) as cn:
        add_peer(de.url, "CN", cn)
    # signed by another key than the pinned one
    forged = messages.sign_message(Ed25519PrivateKey.generate(), kid, body)
    r = httpx.post(f"{de.base}/api/v1/federation/handover", content=forged,
                   headers={"Content-Type": "application/jwt"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "bad_message_signature"
    # a scrapped report from a registry the robot does not live in
    r = httpx.post(f"{de.base}/api/v1/federation/handover",
                   content=messages.sign_message(private, kid, dict(body, kind="scrapped")),
                   headers={"Content-Type": "application/jwt"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_its_registry"
    assert httpx.get(f"{de.base}/api/v1/verify/{code}").json()["status"] == "sold"
