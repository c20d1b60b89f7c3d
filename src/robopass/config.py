"""The one place settings come from: the environment (``ROBOPASS_*``), read by pydantic.

:class:`Settings` holds everything, with a section per concern (``settings.telemetry``,
``settings.session``); each section keeps its own variable prefix (``ROBOPASS_TELEMETRY_*``,
``ROBOPASS_SESSION_*``). Nothing else in ``src/`` reads ``os.environ`` (a test checks).
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DB_PATH = Path("var") / "robopass.db"


class TelemetrySettings(BaseSettings):
    """``ROBOPASS_TELEMETRY_*``."""

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


class MqttSettings(BaseSettings):
    """The ingestor's broker link, ``ROBOPASS_MQTT_*`` (``robopass ingest mqtt``)."""

    model_config = SettingsConfigDict(env_prefix="ROBOPASS_MQTT_", extra="ignore")

    #: Broker login (Mosquitto ``password_file``); empty: connect without a user name.
    username: str = ""
    #: Its password (from the environment only, so it is not visible in the process list).
    password: str = ""
    #: CA certificate(s) (PEM) that signed the broker's TLS certificate, for ``mqtts://``;
    #: empty: the system's trusted CAs.
    ca_file: str = ""


class SessionSettings(BaseSettings):
    """Browser sessions of the web UI, ``ROBOPASS_SESSION_*`` (robopass.web.app.session)."""

    model_config = SettingsConfigDict(env_prefix="ROBOPASS_SESSION_", extra="ignore")

    #: Lifetime of a session cookie, seconds (default 8 hours).
    ttl: int = Field(default=8 * 3600, ge=1)
    #: Mark cookies ``Secure`` even when the request did not come over https (behind a proxy).
    secure: bool = False
    #: Mixed into every session's signing secret (the same in every worker), so read access to
    #: the database alone cannot forge a session. Optional.
    secret: str = ""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROBOPASS_", extra="ignore")

    #: SQLAlchemy URL; SQLite file by default, ``postgresql+psycopg://...`` for production.
    database_url: str = f"sqlite:///{DEFAULT_DB_PATH}"
    #: Public base URL: QR labels and EPCIS robot URIs point here (``{public_url}/r/{code}``).
    public_url: str = "http://127.0.0.1:8000"
    #: Largest batch of codes one request may issue (SPEC §2; documented in the README).
    max_codes_per_request: int = 100_000
    #: Largest number of events in one batch request.
    max_events_per_request: int = 50_000
    #: Public endpoints: requests per second per client address (token bucket, burst 4× the
    #: rate); 0 disables. Benchmarks of the public endpoints set it to 0.
    public_rate_limit: float = 50.0
    #: Public endpoints with a valid API key: requests per second per key (its own bucket,
    #: burst 4× the rate); an invalid key earns nothing and counts against the address.
    keyed_rate_limit: float = 1000.0
    #: Failed web sign-ins per client address per minute (burst as many); 0 disables.
    sign_in_attempts_per_minute: float = 10.0
    #: Answer ``GET /r/{code}`` and ``GET /api/v1/verify/{code}`` of registered units before
    #: the framework's routing (``robopass.web.fastpath``); the same bytes either way.
    public_fast_path: bool = True
    #: SQLite ``synchronous``: NORMAL (WAL, survives process crash) or FULL (survives power loss).
    sqlite_synchronous: str = "NORMAL"
    #: SQLite page cache per connection, MiB (``PRAGMA cache_size``). Each pooled connection
    #: of each process keeps its own; pages it misses come from the OS page cache.
    sqlite_cache_mb: int = Field(16, ge=1, le=4096)
    #: Body cap of the batch endpoints (``POST /api/v1/events``, EPCIS capture), bytes.
    max_event_batch_bytes: int = 32 * 1024 * 1024
    #: Webhook and peer registry URLs may point at loopback, private, link-local and other
    #: non-public addresses (robopass.netguard). Off by default: such URLs are refused with
    #: ``forbidden_destination``. Turn on only for a closed test network.
    allow_private_destinations: bool = False

    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    session: SessionSettings = Field(default_factory=SessionSettings)
    mqtt: MqttSettings = Field(default_factory=MqttSettings)


def public_url_from_environment() -> str | None:
    """``ROBOPASS_PUBLIC_URL`` if the operator set it (``robopass init`` and migration 0005
    derive the ledger origin from it, and only when it was given)."""
    return os.environ.get("ROBOPASS_PUBLIC_URL") or None


def api_key_from_environment() -> str | None:
    """``ROBOPASS_API_KEY``: the key CLI commands act with when ``--key`` is not given."""
    return os.environ.get("ROBOPASS_API_KEY") or None


def cjk_font_from_environment() -> str | None:
    """``ROBOPASS_CJK_FONT``: a TrueType/OpenType CJK font for the label PDF (else Debian's
    fonts-wqy-microhei is looked for)."""
    return os.environ.get("ROBOPASS_CJK_FONT") or None


def get_settings() -> Settings:
    return Settings()


def database_url(db: str | None = None) -> str:
    """The CLI's ``--db``, else ``ROBOPASS_DATABASE_URL``, else the default SQLite file."""
    return db or get_settings().database_url


def sqlite_url(path: str | Path) -> str:
    return f"sqlite:///{Path(path)}"
