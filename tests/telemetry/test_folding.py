"""The background fold in two phases (``telemetry.folding``): the result is that of folding
under the lock when the write phase commits, whatever another writer did between the phases.

Each scenario runs twice on the same registry: units ``a1, b1`` are folded in two phases
with a concurrent write in between (``folding.between_phases``), units ``a2, b2`` get the
same readings and the same write, then the in-lock fold (the serial order). Their stored
state must be equal. The event-time, health and ingest tests also run with every fold done
by the two-phase code (bottom), so its plan matches ``snapshots.update`` everywhere."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import text

from robopass.db import reading as read_session
from robopass.db import transaction, write_session
from robopass.telemetry import folding, service
from tests.telemetry.conftest import make_fleet, reading, ts
from tests.utils.api import ApiClient

_SNAP = ("at", "battery_soh", "cycle_count", "accuracy", "operating_hours", "max_joint_wear",
         "joint_wear", "fault_codes", "firmware", "trend", "trend_day", "trend_last_at",
         "alert_keys", "dirty_from", "first_at")  # not chunk_span: which fold took which
#: readings into which chunk is storage layout; the readings themselves are compared


def _state(url: str, code: str) -> dict[str, Any]:
    """Everything stored of one unit but its identity: snapshot, alerts, readings."""
    with read_session(url) as session:
        row = session.execute(text(f"SELECT sid, {', '.join(_SNAP)} FROM telemetry_units "
                                   "WHERE code = :c"), {"c": code}).one()
        alerts = sorted(tuple(str(v) for v in a) for a in session.execute(text(
            "SELECT rule, key, message, value, since, closed_at FROM telemetry_alerts "
            "WHERE code = :c"), {"c": code}))
        raws = service.raw_readings(session, sid=row[0], start_ms=0, end_ms=1 << 62)
        staged = session.execute(text("SELECT count(*) FROM telemetry_staging")).scalar()
    return {"snapshot": dict(zip(_SNAP, row[1:], strict=True)), "alerts": alerts,
            "readings": raws, "staged": staged}


def _fold_in_lock(url: str) -> None:
    with write_session(url) as session, transaction(session, ledger=False):
        service.fold_staged(session)


@pytest.fixture
def deferred(monkeypatch: pytest.MonkeyPatch) -> Callable[[bool], None]:
    """Every staged batch leaves its snapshots to the fold; ``deferred(False)``: none does
    (a small batch updates them in its own transaction)."""
    def set_(on: bool) -> None:
        monkeypatch.setattr(service, "DEFER_SNAPSHOTS_FROM", 1 if on else 10**9)
    set_(True)
    return set_


Post = Callable[..., None]  # post(codes, minutes_ago, **metrics): stored, all of them
Step = Callable[[Post, str, str], None]


def _post_undeferred(deferred: Callable[[bool], None], post: Post, *args: Any,
                     **metrics: Any) -> None:
    """``post(*args, **metrics)`` as a small batch that updates its snapshots itself."""
    deferred(False)
    post(*args, **metrics)
    deferred(True)


def _poster(client: ApiClient, operator: Any) -> Post:
    def post(codes: tuple[str, ...], minutes: float, **metrics: Any) -> None:
        body = [reading(c, ts(minutes), **metrics) for c in codes]
        r = client.post("/api/v1/telemetry", body, operator)
        assert r.status_code == 200 and r.json()["stored"] == len(codes), r.json()
    return post


def _twice(client: ApiClient, monkeypatch: pytest.MonkeyPatch, send: Step,
           meanwhile: Step, *, first: bool = True) -> tuple[list[str], dict[str, Any]]:
    """Run the scenario two-phase with ``meanwhile`` between the phases on two units, and
    serially on two others; returns the units and what the fold saw: ``planned`` (unit
    writes planned outside the lock), ``changed`` (sids the guard sent to the lock).
    ``first``: the units report once (10 hours ago) and are folded before the scenario (a
    unit's first readings evaluate its alerts: always folded under the lock)."""
    url = client.registry.url
    fleet = make_fleet(client, 4)
    a1, b1, a2, b2 = fleet.codes
    post = _poster(client, fleet.operator)
    if first:
        post((a1, b1, a2, b2), 600, battery_soh=99.0)
        _fold_in_lock(url)
    seen: dict[str, Any] = {"changed": [], "planned": 0}
    split, commit = folding._split_changed, folding.commit

    def spy_split(session: Any, rows: list[Any]) -> Any:
        ok, changed = split(session, rows)
        seen["changed"].extend(changed)
        return ok, changed

    def spy_commit(session: Any, prepared: folding.Prepared) -> int:
        seen["planned"] += len(prepared.rows)
        return commit(session, prepared)
    monkeypatch.setattr(folding, "_split_changed", spy_split)
    monkeypatch.setattr(folding, "commit", spy_commit)

    send(post, a1, b1)
    monkeypatch.setattr(folding, "between_phases", lambda: meanwhile(post, a1, b1))
    assert folding.fold_once(url, two_phase=True) > 0
    monkeypatch.setattr(folding, "between_phases", None)
    while folding.fold_once(url, two_phase=True):
        pass

    send(post, a2, b2)
    meanwhile(post, a2, b2)
    _fold_in_lock(url)
    a1_state = _state(url, a1)
    for one, other in ((a1_state, _state(url, a2)), (_state(url, b1), _state(url, b2))):
        assert {k: v for k, v in one["snapshot"].items() if other["snapshot"][k] != v} == {}
        assert one == other
    assert a1_state["staged"] == 0
    return [a1, b1, a2, b2], seen


def _sid(url: str, code: str) -> int:
    with read_session(url) as session:
        return int(session.execute(text("SELECT sid FROM telemetry_units WHERE code = :c"),
                                   {"c": code}).scalar_one())


def test_without_a_concurrent_write_the_live_case_is_planned_outside_the_lock(
        client, monkeypatch, deferred):
    def send(post: Post, a: str, b: str) -> None:
        post((a, b), 3, battery_soh=91.0, accuracy=99.0)
        post((a, b), 2, battery_soh=90.0)

    _, seen = _twice(client, monkeypatch, send, lambda post, a, b: None)
    assert seen["planned"] == 2 and seen["changed"] == []


def test_a_newer_reading_stored_between_the_phases_is_not_overwritten(
        client, monkeypatch, deferred):
    """An ingest of a small batch (its own snapshot update) moves ``at`` of unit a: the
    planned write (an older latest) must not land; a is folded under the lock."""
    def send(post: Post, a: str, b: str) -> None:
        post((a, b), 3, battery_soh=91.0, cycle_count=10)

    def meanwhile(post: Post, a: str, b: str) -> None:
        _post_undeferred(deferred, post, (a,), 1, battery_soh=88.0)

    units, seen = _twice(client, monkeypatch, send, meanwhile)
    url = client.registry.url
    assert seen["changed"] == [_sid(url, units[0])]
    snap = _state(url, units[0])["snapshot"]
    assert snap["battery_soh"] == 88.0 and snap["at"] == service.dt_to_ms(
        datetime.strptime(ts(1), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC))


def test_an_alert_opened_between_the_phases_is_re_evaluated_by_the_late_reading(
        client, monkeypatch, deferred):
    """Unit a's staged reading was the live case (no rule broken) when planned; a newer
    reading that breaks a rule lands between the phases, so the staged one is late and
    re-evaluates the open alert under the lock."""
    def send(post: Post, a: str, b: str) -> None:
        post((a, b), 5, battery_soh=92.0)
        _fold_in_lock(client.registry.url)
        post((a, b), 3, battery_soh=90.0)

    def meanwhile(post: Post, a: str, b: str) -> None:
        _post_undeferred(deferred, post, (a,), 1, battery_soh=50.0)

    units, seen = _twice(client, monkeypatch, send, meanwhile)
    url = client.registry.url
    assert seen["changed"] == [_sid(url, units[0])]
    alerts = _state(url, units[0])["alerts"]
    assert [(x[0], x[5]) for x in alerts] == [("battery_soh_low", "None")]


def test_dirty_from_cleared_between_the_phases_is_set_again(client, monkeypatch, deferred):
    """Downsampling clears ``dirty_from``; the fold's readings make it dirty again."""
    def send(post: Post, a: str, b: str) -> None:
        post((a, b), 90, battery_soh=95.0)
        _fold_in_lock(client.registry.url)
        post((a, b), 2, battery_soh=94.0)

    def meanwhile(post: Post, a: str, b: str) -> None:
        with write_session(client.registry.url) as session, \
                transaction(session, ledger=False):
            session.execute(text("UPDATE telemetry_units SET dirty_from = NULL "
                                 "WHERE code IN (:a, :b)"), {"a": a, "b": b})

    units, seen = _twice(client, monkeypatch, send, meanwhile)
    url = client.registry.url
    assert sorted(seen["changed"]) == sorted(_sid(url, c) for c in units[:2])
    assert _state(url, units[0])["snapshot"]["dirty_from"] is not None


def test_a_trend_merged_between_the_phases_is_kept(client, monkeypatch, deferred):
    """A late reading of an earlier day changes only the trend text (not ``at``, nor the
    trend's last day) between the phases; the fold merging a new day into the trend must
    start from that text."""
    def send(post: Post, a: str, b: str) -> None:
        post((a, b), 4 * 1440, battery_soh=97.0)
        post((a, b), 1 * 1440, battery_soh=95.0)
        _fold_in_lock(client.registry.url)
        post((a, b), 5, battery_soh=93.0)  # a new day: merged into the trend

    def meanwhile(post: Post, a: str, b: str) -> None:
        # late: the snapshot is at -1 day
        _post_undeferred(deferred, post, (a,), 2 * 1440, battery_soh=96.0)

    units, seen = _twice(client, monkeypatch, send, meanwhile, first=False)
    url = client.registry.url
    assert seen["changed"] == [_sid(url, units[0])]
    assert len(orjson.loads(_state(url, units[0])["snapshot"]["trend"])) == 4


def test_rows_folded_by_another_folder_between_the_phases(client, monkeypatch, deferred):
    """A health read (or retention) folds the staged rows under the lock between the
    phases: the write phase finds them gone and folds whatever is staged now."""
    def send(post: Post, a: str, b: str) -> None:
        post((a, b), 3, battery_soh=70.0)
        post((a, b), 2, battery_soh=50.0)

    def meanwhile(post: Post, a: str, b: str) -> None:
        _fold_in_lock(client.registry.url)
        post((a,), 1, battery_soh=40.0)

    _twice(client, monkeypatch, send, meanwhile)


def test_the_folder_folds_in_two_phases_on_sqlite_and_in_one_on_postgresql(
        client: ApiClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two phases keep SQLite's single writer lock short; PostgreSQL has none, and there one
    transaction reads the units' state once."""
    fleet = make_fleet(client)
    url = client.registry.url
    r = client.post("/api/v1/telemetry", [reading(c, ts(1)) for c in fleet.codes],
                    fleet.operator)
    assert r.json()["stored"] == 2
    phases: list[int] = []
    monkeypatch.setattr(folding, "between_phases", lambda: phases.append(1))
    assert folding.fold_once(url) == 2
    assert phases == ([1] if url.startswith("sqlite") else [])
