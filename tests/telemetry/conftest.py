"""Telemetry fixtures: a unit in service with a known owner/operator."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.utils.api import DEPLOYMENT, ApiClient, Org


@dataclass
class Fleet:
    maker: Org
    operator: Org
    codes: list[str]


def make_fleet(client: ApiClient, count: int = 2) -> Fleet:
    maker = client.org("manufacturer")
    operator = client.org("operator")
    model_id = client.approved_model(maker)
    codes = client.codes(maker, model_id, count)
    for code in codes:
        client.event(maker, code, "manufactured", at="2026-03-10T08:00:00Z")
        client.event(maker, code, "sold", at="2026-03-11T08:00:00Z", to_organization=operator.id)
        client.event(operator, code, "deployed", at="2026-03-12T08:00:00Z",
                     details=DEPLOYMENT)
    return Fleet(maker=maker, operator=operator, codes=codes)


@dataclass
class LeasedUnit:
    maker: Org
    owner: Org
    operator: Org
    code: str


def leased_unit(client: ApiClient) -> LeasedUnit:
    """One unit sold to an owner who deploys it with another organisation as its operator."""
    maker, owner, operator = (client.org("manufacturer"), client.org("operator"),
                              client.org("operator"))
    code = client.codes(maker, client.approved_model(maker), 1)[0]
    client.event(maker, code, "manufactured", at="2026-03-10T08:00:00Z")
    client.event(maker, code, "sold", at="2026-03-11T08:00:00Z", to_organization=owner.id)
    client.event(owner, code, "deployed", at="2026-03-12T08:00:00Z", to_organization=operator.id,
                 details=DEPLOYMENT)
    return LeasedUnit(maker=maker, owner=owner, operator=operator, code=code)


@pytest.fixture
def fleet(client: ApiClient) -> Fleet:
    return make_fleet(client)


_anchor: list[datetime] = []


@pytest.fixture(autouse=True)
def _one_now_per_test() -> Any:
    """Every ``ts(...)`` in one test counts back from the same instant: a test that crosses a
    second boundary must not see ``ts(30)`` mean two different seconds."""
    _anchor.append(datetime.now(UTC).replace(microsecond=0))
    yield
    _anchor.clear()


def ts(minutes_ago: float = 0.0) -> str:
    now = _anchor[-1] if _anchor else datetime.now(UTC).replace(microsecond=0)
    at = now - timedelta(minutes=minutes_ago)
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def reading(code: str, at: str, **metrics: Any) -> dict[str, Any]:
    return {"code": code, "at": at, "metrics": metrics or {"battery_soh": 95.0}}


def broker_available() -> bool:
    """Mosquitto listening on 127.0.0.1:1883."""
    try:
        with socket.create_connection(("127.0.0.1", 1883), timeout=1):
            return True
    except OSError:
        return False


#: notifications of deferred readings go out when the folder applies them, not at once
FOLD_TIMED = {"test_an_opened_alert_notifies_operator_and_owner"}


def rerun_live_suites(namespace: dict[str, Any]) -> None:
    """Collect the event-time, health and ingest tests again in the calling module (its
    ``globals()``), whose autouse fixtures change how staged batches are folded."""
    from tests.telemetry import test_event_time, test_health, test_ingest

    for module in (test_event_time, test_health, test_ingest):
        namespace.update({name: value for name, value in vars(module).items()
                          if name.startswith("test_") and name not in FOLD_TIMED})
