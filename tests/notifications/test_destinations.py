"""Webhooks only to public addresses (SPEC §12), checked at subscription and at delivery, on
both databases; the subscriber learns only that a delivery failed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from robopass.notifications import delivery
from tests.notifications.test_webhooks import Receiver, _recall_for
from tests.utils.api import ApiClient

HOSTILE = ["http://127.0.0.1:5432/", "http://2130706433:5432/", "http://0x7f.1/",
           "http://169.254.169.254/latest/meta-data/", "http://localhost:6379/",
           "http://[::1]:4222/", "http://[::ffff:127.0.0.1]/", "http://10.0.0.1/",
           "http://192.168.0.1/admin", "http://0.0.0.0:8000/"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def guarded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROBOPASS_ALLOW_PRIVATE_DESTINATIONS", "0")


@pytest.mark.parametrize("url", HOSTILE)
def test_internal_destinations_are_refused(client: ApiClient, guarded: None, url: str) -> None:
    org = client.org("operator")
    r = client.post("/api/v1/subscriptions", {"url": url, "topics": ["*"]}, org)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "forbidden_destination" and error["field"] == "url"
    assert client.get("/api/v1/subscriptions", org).json()["subscriptions"] == []


def test_the_setting_allows_them(client: ApiClient) -> None:  # conftest sets it
    org = client.org("operator")
    r = client.post("/api/v1/subscriptions", {"url": HOSTILE[0], "topics": ["*"]}, org)
    assert r.status_code == 201, r.text


def test_delivery_checks_again_and_tells_nothing(client: ApiClient, receiver: Receiver,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Subscribed while allowed (as a DNS name may later point inward): delivery refuses to
    connect, and the subscriber sees only that it failed."""
    receiver.start()
    maker, operator, code = _recall_for(client)
    r = client.post("/api/v1/subscriptions", {"url": receiver.url, "topics": ["recall"]},
                    operator)
    assert r.status_code == 201, r.text
    r = client.post("/api/v1/recalls", {"reason": "joint may lock",
                                        "scope": {"serial_from": code, "serial_to": code}},
                    maker)
    assert r.status_code == 201, r.text
    monkeypatch.setenv("ROBOPASS_ALLOW_PRIVATE_DESTINATIONS", "0")
    report = delivery.deliver_all_due(client.registry.url, timeout=5)
    assert report.attempted >= 1 and report.delivered == 0
    assert receiver.received == []
    notes = client.get("/api/v1/notifications", operator).json()["notifications"]
    shown = [d for n in notes for d in n["deliveries"]]
    assert shown and {d["last_error"] for d in shown} == {delivery.FAILED}
