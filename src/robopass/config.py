"""Settings, read from the environment (``ROBOPASS_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DB_PATH = Path("var") / "robopass.db"


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
    #: Answer ``GET /r/{code}`` and ``GET /api/v1/verify/{code}`` of registered units before
    #: the framework's routing (``robopass.web.fastpath``); the same bytes either way.
    public_fast_path: bool = True
    #: SQLite ``synchronous``: NORMAL (WAL, survives process crash) or FULL (survives power loss).
    sqlite_synchronous: str = "NORMAL"


def get_settings() -> Settings:
    return Settings()


def sqlite_url(path: str | Path) -> str:
    return f"sqlite:///{Path(path)}"
