"""Health alert rules and trends (pure: SPEC §7's default rules).

An alert is keyed by ``(rule, key)``: ``key`` is the fault code for ``new_fault_code`` and
empty for the others. The service opens an alert when its key appears in :func:`evaluate` of
the latest snapshot and closes it when it disappears, so a battery that recovers (a pack
replaced) or a fault that clears closes its alert.
"""

from __future__ import annotations

from typing import Any

BATTERY_SOH_MIN = 70.0
JOINT_WEAR_MAX = 80.0
ACCURACY_MIN = 90.0
RULES = ("battery_soh_low", "joint_wear_high", "accuracy_low", "new_fault_code")
#: Daily trend points kept in the snapshot.
TREND_DAYS = 30
DAY_MS = 86_400_000


def evaluate(snapshot: dict[str, Any]) -> dict[tuple[str, str], tuple[str, float | None]]:
    """``{(rule, key): (message, value)}`` for every rule the latest values break."""
    out: dict[tuple[str, str], tuple[str, float | None]] = {}
    soh = snapshot.get("battery_soh")
    if soh is not None and soh < BATTERY_SOH_MIN:
        out[("battery_soh_low", "")] = (
            f"battery state of health {soh:g} % is below {BATTERY_SOH_MIN:g} %", soh)
    wear = snapshot.get("joint_wear") or {}
    worn = sorted((j for j, w in wear.items() if w > JOINT_WEAR_MAX), key=lambda j: -wear[j])
    if worn:
        top = wear[worn[0]]
        names = ", ".join(f"{j} {wear[j]:g} %" for j in worn[:5])
        out[("joint_wear_high", "")] = (
            f"joint wear above {JOINT_WEAR_MAX:g} %: {names}"[:300], float(top))
    acc = snapshot.get("accuracy")
    if acc is not None and acc < ACCURACY_MIN:
        out[("accuracy_low", "")] = (
            f"operational accuracy {acc:g} % is below {ACCURACY_MIN:g} %", acc)
    for fault in snapshot.get("fault_codes") or ():
        out[("new_fault_code", fault)] = (f"new fault code {fault}", None)
    return out


def broken_keys(soh: float | None, accuracy: float | None, max_joint_wear: float | None,
                faults: list[str] | None) -> list[str]:
    """The sorted ``"rule|key"`` of :func:`evaluate` from the few values that decide which
    rules are broken (no messages built): the live path compares them with the open alerts'
    keys and evaluates in full only when they differ."""
    out = [f"new_fault_code|{f}" for f in faults or ()]
    if soh is not None and soh < BATTERY_SOH_MIN:
        out.append("battery_soh_low|")
    if max_joint_wear is not None and max_joint_wear > JOINT_WEAR_MAX:
        out.append("joint_wear_high|")
    if accuracy is not None and accuracy < ACCURACY_MIN:
        out.append("accuracy_low|")
    return sorted(out)


def merge_trend(points: list[list[Any]], new: dict[int, tuple[int, float | None, float | None]]
                ) -> list[list[Any]]:
    """Merge per-day first readings ``{day: (at_ms, soh, max_wear)}`` into ``points``.

    ``points`` are ``[day, at_ms, soh, max_wear]``; a day keeps its earliest reading (so a
    day's point is written once, when the day starts); only the last :data:`TREND_DAYS` days
    are kept.
    """
    by_day = {p[0]: p for p in points}
    for day, (at, soh, wear) in new.items():
        old = by_day.get(day)
        if old is None or at < old[1]:
            by_day[day] = [day, at, soh, wear]
    days = sorted(by_day)
    if not days:
        return []
    last = days[-1]
    return [by_day[d] for d in days if d > last - TREND_DAYS]


def _slope_per_30_days(xs: list[float], ys: list[float]) -> float | None:
    n = len(xs)
    if n < 2:
        return None
    mx = sum(xs) / n
    my = sum(ys) / n
    var = sum((x - mx) ** 2 for x in xs)
    if var == 0:
        return None
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return round(cov / var * 30 * DAY_MS, 3)


def trend(points: list[list[Any]], rfc3339_ms: Any) -> dict[str, Any]:
    """The trend body: per metric the daily values, the change over the window, and the
    least-squares slope in percentage points per 30 days."""
    out: dict[str, Any] = {"window_days": TREND_DAYS}
    for name, pos in (("battery_soh", 2), ("max_joint_wear", 3)):
        pts = [(p[1], p[pos]) for p in points if p[pos] is not None]
        series = [{"at": rfc3339_ms(at), "value": v} for at, v in pts]
        out[name] = {
            "points": series,
            "change": round(pts[-1][1] - pts[0][1], 3) if len(pts) > 1 else None,
            "per_30_days": _slope_per_30_days([float(a) for a, _ in pts], [v for _, v in pts]),
        }
    return out
