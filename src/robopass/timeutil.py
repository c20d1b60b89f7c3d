"""Time helpers: everything is UTC; the API speaks RFC 3339 with a ``Z`` suffix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

#: How far into the future an ``at`` may lie before it is refused (clock skew of devices).
CLOCK_SKEW = timedelta(seconds=120)


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Naive datetimes are taken as UTC (SQLite hands them back naive)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def rfc3339(value: datetime | None) -> str | None:
    if value is None:
        return None
    value = as_utc(value)
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 timestamp; an offset is required. Raises ValueError."""
    if not isinstance(text, str) or len(text) < 20 or "T" not in text.upper():
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    value = datetime.fromisoformat(text.replace("z", "Z"))
    if value.tzinfo is None:
        raise ValueError(f"timestamp needs a UTC offset or Z: {text!r}")
    return value.astimezone(UTC)


def month_string(value: datetime) -> str:
    return f"{value.year:04d}-{value.month:02d}"
