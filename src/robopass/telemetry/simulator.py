"""A fleet simulator: realistic readings for existing units (SPEC §7).

Each unit gets a deterministic model from ``(seed, code)``: an age in service, a battery that
fades with time and cycles, joints that wear at their own rates (legs faster than arms),
accuracy that drifts down as the joints wear, operating hours and charge cycles that grow,
a firmware version, and rare faults. Like GB/T 32960 terminals, a unit reports at its normal
interval and every second for a short burst around a fault, then the fault clears.

* :func:`generate_history` — pure, bulk: a unit's history between two instants, for the demo
  seeder (``store_readings(session, generate_history(...))``). Readings come unit by unit, in
  time order, which is also the cheapest order to insert.
* :func:`run` — live: drives ``N`` units every ``S`` seconds over HTTP or MQTT (``robopass
  simulate``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

JOINTS = ("hip_l", "hip_r", "knee_l", "knee_r", "ankle_l", "ankle_r", "shoulder_l", "shoulder_r")
FAULTS = ("E101", "E204", "E310", "W017", "W022", "E450")
FIRMWARE = ("2.3.0", "2.4.1", "2.5.0")
BURST_S = 20  # seconds of 1 s readings around a fault


@dataclass
class UnitModel:
    code: str
    age_days: float          # days in service at the epoch
    epoch: datetime          # the model's reference instant
    soh0: float
    fade_per_day: float
    wear0: dict[str, float]
    wear_per_day: dict[str, float]
    accuracy0: float
    duty: float              # fraction of the day in operation
    firmware: str
    fault_per_reading: float
    rng: random.Random = field(repr=False, default_factory=random.Random)

    @classmethod
    def for_unit(cls, code: str, *, seed: int, epoch: datetime) -> UnitModel:
        rng = random.Random(f"{seed}:{code}")
        fast = rng.random() < 0.08  # a few hard-working or defective units
        return cls(
            code=code, epoch=epoch, age_days=rng.uniform(5, 700),
            soh0=rng.uniform(97.0, 100.0),
            fade_per_day=rng.uniform(0.015, 0.04) * (2.5 if fast else 1.0),
            wear0={j: rng.uniform(0.0, 3.0) for j in JOINTS},
            wear_per_day={j: rng.uniform(0.04, 0.10) * (1.0 if j[:1] in "hka" else 0.5)
                          * (2.0 if fast else 1.0) for j in JOINTS},
            accuracy0=rng.uniform(97.5, 99.8), duty=rng.uniform(0.3, 0.8),
            firmware=rng.choice(FIRMWARE), fault_per_reading=rng.uniform(0.0002, 0.002),
            rng=rng)

    def reading(self, at: datetime, faults: list[str]) -> dict[str, Any]:
        """The unit's reading at ``at`` (noise from the model's own generator)."""
        days = max(0.0, self.age_days + (at - self.epoch).total_seconds() / 86400.0)
        rng = self.rng
        hours = days * 24.0 * self.duty
        soh = self.soh0 - self.fade_per_day * days + rng.gauss(0.0, 0.08)
        wear = {j: round(min(100.0, self.wear0[j] + r * days + rng.gauss(0.0, 0.05)), 2)
                for j, r in self.wear_per_day.items()}
        worst = max(wear.values())
        accuracy = self.accuracy0 - max(0.0, worst - 40.0) * 0.12 + rng.gauss(0.0, 0.15)
        return {"code": self.code, "at": at, "metrics": {
            "battery_soh": round(min(100.0, max(0.0, soh)), 2),
            "cycle_count": int(hours / 3.5),
            "joint_wear": {j: max(0.0, w) for j, w in wear.items()},
            "accuracy": round(min(100.0, max(0.0, accuracy)), 2),
            "operating_hours": round(hours, 1),
            "fault_codes": faults,
            "firmware": self.firmware,
        }}


def _unit_history(model: UnitModel, start: datetime, end: datetime,
                  interval_s: float) -> Iterator[dict[str, Any]]:
    rng = model.rng
    step = timedelta(seconds=interval_s)
    # stagger units inside the interval so a fleet does not report in lockstep
    at = start + timedelta(milliseconds=rng.randrange(max(1, int(interval_s * 1000))))
    while at < end:
        if rng.random() < model.fault_per_reading:
            fault = [rng.choice(FAULTS)]
            for s in range(BURST_S):
                burst_at = at + timedelta(seconds=s)
                if burst_at >= end:
                    return
                yield model.reading(burst_at, fault)
            at += timedelta(seconds=BURST_S)
            continue
        yield model.reading(at, [])
        at += step


def generate_history(codes: Iterable[str], *, start: datetime, end: datetime,
                     interval_s: float = 10.0, seed: int = 0) -> Iterator[dict[str, Any]]:
    """Readings ``{code, at, metrics}`` of each unit for ``start <= at < end``, every
    ``interval_s`` seconds plus 1 s bursts around rare faults; deterministic for a seed.

    Unit by unit, each in time order; ``at`` is an aware datetime (``store_readings``
    accepts it; orjson serialises it as RFC 3339). Pure: no database, no network.
    """
    if interval_s <= 0:
        raise ValueError("interval_s must be positive")
    start = start if start.tzinfo else start.replace(tzinfo=UTC)
    end = end if end.tzinfo else end.replace(tzinfo=UTC)
    for code in codes:
        model = UnitModel.for_unit(code, seed=seed, epoch=start)
        yield from _unit_history(model, start, end, interval_s)


# --------------------------------------------------------------------------- live


@dataclass
class Stats:
    sent: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    requests: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


Sender = Callable[[list[dict[str, Any]]], dict[str, Any] | None]


def run(codes: list[str], *, interval_s: float, send: Sender, seed: int = 0,
        duration_s: float | None = None, clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        on_tick: Callable[[Stats], None] | None = None) -> Stats:
    """Drive ``codes`` live: each unit reports every ``interval_s`` (staggered), every second
    during a fault burst; each second's readings go to ``send`` as one batch."""
    epoch = datetime.fromtimestamp(clock(), UTC)
    models = [UnitModel.for_unit(c, seed=seed, epoch=epoch) for c in codes]
    start = clock()
    due = [start + m.rng.uniform(0, interval_s) for m in models]
    burst: list[tuple[str, int]] = [("", 0)] * len(models)
    stats = Stats()
    tick = start
    while duration_s is None or clock() - start < duration_s:
        now = clock()
        batch: list[dict[str, Any]] = []
        at = datetime.fromtimestamp(round(now, 3), UTC)
        for i, model in enumerate(models):
            fault, left = burst[i]
            if left > 0:
                batch.append(model.reading(at, [fault]))
                burst[i] = (fault, left - 1)
                if left == 1:
                    due[i] = now + interval_s
                continue
            if due[i] > now:
                continue
            if model.rng.random() < model.fault_per_reading * 10:  # live demo: a bit livelier
                fault = model.rng.choice(FAULTS)
                burst[i] = (fault, BURST_S - 1)
                batch.append(model.reading(at, [fault]))
                continue
            batch.append(model.reading(at, []))
            due[i] = now + interval_s
        if batch:
            result = send(batch)
            stats.sent += len(batch)
            stats.requests += 1
            if result:
                stats.stored += int(result.get("stored", 0))
                stats.duplicates += int(result.get("duplicates", 0))
                for rej in result.get("rejected", []):
                    stats.rejected += 1
                    reason = str(rej.get("reason", ""))[:80]
                    stats.reasons[reason] = stats.reasons.get(reason, 0) + 1
        if on_tick:
            on_tick(stats)
        tick += 1.0
        pause = tick - clock()
        if pause > 0:
            sleep(pause)
        else:
            tick = clock()
    return stats
