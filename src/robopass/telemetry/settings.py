"""Telemetry settings, read from the environment (``ROBOPASS_TELEMETRY_*``)."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class TelemetrySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROBOPASS_TELEMETRY_", extra="ignore")

    #: Largest request body (bytes); a larger one is refused whole with 413.
    max_body_bytes: int = 64 * 1024 * 1024
    #: Readings processed per request; the rest of a larger batch is rejected one by one.
    max_readings: int = 200_000
    #: Raw readings are kept this many days (then only hourly aggregates); 0 keeps them forever.
    #: Readings older than this are refused from clients (their hour may already be final).
    raw_retention_days: int = 90
    #: Seconds between folds of staged live readings into chunks by ``robopass serve``'s
    #: background thread (0: no thread; ingest still folds past a backlog).
    fold_interval_s: float = 1.0
    #: Hourly aggregates are kept this many days; 0 keeps them forever.
    hourly_retention_days: int = 0


@lru_cache(maxsize=1)
def get_telemetry_settings() -> TelemetrySettings:
    return TelemetrySettings()
