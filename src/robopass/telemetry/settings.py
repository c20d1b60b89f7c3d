"""Telemetry settings: the ``telemetry`` section of :class:`robopass.config.Settings`
(``ROBOPASS_TELEMETRY_*``), cached for the ingest path."""

from __future__ import annotations

from functools import lru_cache

from robopass.config import TelemetrySettings

__all__ = ["TelemetrySettings", "get_telemetry_settings"]


@lru_cache(maxsize=1)
def get_telemetry_settings() -> TelemetrySettings:
    return TelemetrySettings()
