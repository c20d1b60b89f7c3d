"""Webhook delivery through the outbox to a real receiver on 127.0.0.1 (SPEC §9)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from typer.testing import CliRunner

from robopass.notifications import delivery, signing
from robopass.timeutil import utcnow
from tests.utils.api import ApiClient


class Receiver:
    """A webhook receiver that is down until :meth:`start` is called."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/robopass"

    def start(self) -> None:
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


def _recall_for(client: ApiClient, operator_sub: Any = None) -> tuple[Any, str, str]:
    maker = client.org("manufacturer")
    operator = client.org("operator")
    model_id = client.approved_model(maker)
    code = client.codes(maker, model_id, 1)[0]
    client.event(maker, code, "manufactured", at="2026-03-10T08:00:00Z")
    client.event(maker, code, "sold", to_organization=operator.id, at="2026-03-11T08:00:00Z")
    return maker, operator, code


def test_delivery_survives_a_receiver_that_is_down(client: ApiClient,
                                                    receiver: Receiver) -> None:
    maker, operator, code = _recall_for(client)
    r = client.post("/api/v1/subscriptions", {"url": receiver.url, "topics": ["recall"]},
                    operator)
    assert r.status_code == 201, r.text
    secret = r.json()["secret"]
    assert secret.startswith("whsec_")
    listed = client.get("/api/v1/subscriptions", operator).json()["subscriptions"]
    assert "secret" not in listed[0]

    r = client.post("/api/v1/recalls", {"reason": "joint may lock",
                                        "scope": {"serial_from": code, "serial_to": code}},
                    maker)
    assert r.status_code == 201, r.text
    recall_id = r.json()["id"]

    url = client.registry.url
    first = delivery.deliver_due(url, backoff_base=0.0)
    assert (first.attempted, first.delivered, first.retrying) == (1, 0, 1)
    note = client.get("/api/v1/notifications", operator).json()["notifications"][0]
    assert note["deliveries"][0]["status"] == "pending"
    assert note["deliveries"][0]["attempts"] == 1 and note["deliveries"][0]["last_error"]

    receiver.start()
    later = utcnow() + timedelta(seconds=1)
    second = delivery.deliver_due(url, backoff_base=0.0, now=later)
    assert (second.attempted, second.delivered) == (1, 1)
    assert delivery.deliver_due(url, now=later + timedelta(hours=1)).attempted == 0

    assert len(receiver.received) == 1
    headers, body = receiver.received[0]
    signing.verify(secret, timestamp=headers["x-robopass-timestamp"], body=body,
                   signature=headers["x-robopass-signature"])
    with pytest.raises(signing.SignatureError):
        signing.verify(secret, timestamp=headers["x-robopass-timestamp"],
                       body=body.replace(b"joint", b"jOint"),
                       signature=headers["x-robopass-signature"])
    with pytest.raises(signing.SignatureError):
        signing.verify("whsec_other", timestamp=headers["x-robopass-timestamp"], body=body,
                       signature=headers["x-robopass-signature"])
    message = json.loads(body)
    assert message["topic"] == "recall" and headers["x-robopass-id"] == message["id"]
    assert message["payload"]["recall_id"] == recall_id
    assert message["payload"]["codes"] == [code]
    note = client.get("/api/v1/notifications", operator).json()["notifications"][0]
    assert note["deliveries"][0]["status"] == "delivered"


def test_fraud_alerts_reach_the_regulator_and_cli_delivers(client: ApiClient,
                                                            receiver: Receiver) -> None:
    regulator_id = client.get("/api/v1/organizations/me", client.regulator).json()["id"]
    r = client.post("/api/v1/subscriptions", {"url": receiver.url, "topics": ["fraud_alert"]},
                    client.regulator)
    assert r.status_code == 201
    secret = r.json()["secret"]
    maker, code = client.manufactured_unit()
    recycler, buyer = client.org("recycler"), client.org("operator")
    client.event(maker, code, "decommissioned", to_organization=recycler.id)
    client.event(recycler, code, "scrapped")
    client.event(maker, code, "sold", expect=409, to_organization=buyer.id)
    receiver.start()

    from robopass.cli import app

    result = CliRunner().invoke(app, ["notify", "deliver", "--once", "--db",
                                      client.registry.url])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["delivered"] == 1
    headers, body = receiver.received[0]
    signing.verify(secret, timestamp=headers["x-robopass-timestamp"], body=body,
                   signature=headers["x-robopass-signature"])
    message = json.loads(body)
    assert message["topic"] == "fraud_alert" and message["organization"] == regulator_id
    assert message["payload"]["code"] == code
    status = CliRunner().invoke(app, ["notify", "status", "--db", client.registry.url])
    assert json.loads(status.output)["delivered"] == 1


def test_retries_end_in_failed_and_revocation_cancels(client: ApiClient, receiver: Receiver,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "MAX_ATTEMPTS", 2)
    maker, operator, code = _recall_for(client)
    sub = client.post("/api/v1/subscriptions", {"url": receiver.url, "topics": ["*"]},
                      operator).json()
    client.post("/api/v1/recalls", {"reason": "r", "scope": {"serial_from": code}}, maker)
    url = client.registry.url
    now = utcnow()
    assert delivery.deliver_due(url, backoff_base=60, now=now).retrying == 1
    # not due again before the backoff has passed
    assert delivery.deliver_due(url, backoff_base=60, now=now + timedelta(seconds=30)
                                ).attempted == 0
    last = delivery.deliver_due(url, backoff_base=60, now=now + timedelta(minutes=5))
    assert last.failed == 1
    note = client.get("/api/v1/notifications", operator).json()["notifications"][0]
    assert note["deliveries"][0]["status"] == "failed"

    # a second notice, then the subscription is revoked: nothing is sent
    client.post("/api/v1/recalls", {"reason": "again", "scope": {"serial_from": code}}, maker)
    assert client.raw.delete(f"/api/v1/subscriptions/{sub['id']}",
                             headers=operator.auth).status_code == 204
    receiver.start()
    assert delivery.deliver_due(url, now=now + timedelta(hours=1)).attempted == 0
    assert receiver.received == []


def test_bad_subscriptions_are_refused(client: ApiClient) -> None:
    org = client.org("operator")
    for body, field in [({"url": "ftp://x/y", "topics": ["recall"]}, "url"),
                        ({"url": "not a url", "topics": ["recall"]}, "url"),
                        ({"url": "http://127.0.0.1:9/h", "topics": []}, "topics"),
                        ({"url": "http://127.0.0.1:9/h", "topics": ["Bad Topic!"]},
                         "topics[0]")]:
        r = client.post("/api/v1/subscriptions", body, org)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["field"] == field
    assert client.get("/api/v1/subscriptions", org).json()["subscriptions"] == []
    assert client.post("/api/v1/subscriptions", {"url": "http://127.0.0.1:9/h",
                                                 "topics": ["recall"]}).status_code == 401
    r = client.raw.delete("/api/v1/subscriptions/sub_nope", headers=org.auth)
    assert r.status_code == 404


def test_signature_format() -> None:
    body = b'{"id":"ntf_1"}'
    sig = signing.sign("whsec_test", 1_700_000_000, body)
    assert sig.startswith("v1=") and len(sig) == 3 + 64
    signing.verify("whsec_test", timestamp="1700000000", body=body, signature=sig,
                   now=1_700_000_100)
    with pytest.raises(signing.SignatureError):
        signing.verify("whsec_test", timestamp="1700000000", body=body, signature=sig,
                       now=1_700_001_000)
    with pytest.raises(signing.SignatureError):
        signing.verify("whsec_test", timestamp="soon", body=body, signature=sig)


def test_malformed_urls_are_422(client: ApiClient) -> None:
    org = client.org("operator")
    for url in ("http://[::1", "http://exa mple.org/h", "https:///nohost"):
        r = client.post("/api/v1/subscriptions", {"url": url, "topics": ["recall"]}, org)
        assert r.status_code == 422, (url, r.text)


def test_background_worker_delivers(client: ApiClient, receiver: Receiver) -> None:
    """The thread ``robopass serve`` starts delivers without being asked."""
    import time

    maker, operator, code = _recall_for(client)
    client.post("/api/v1/subscriptions", {"url": receiver.url, "topics": ["recall"]}, operator)
    receiver.start()
    stop = delivery.start_background_worker(client.registry.url, interval=0.05)
    try:
        client.post("/api/v1/recalls", {"reason": "r", "scope": {"serial_from": code}}, maker)
        for _ in range(200):  # a bounded wait for the thread, not a timing assertion
            if receiver.received:
                break
            time.sleep(0.05)
    finally:
        stop.set()
    assert len(receiver.received) == 1

