"""ASGI entry point for uvicorn workers: ``robopass.asgi:app``."""

import logging

from robopass.api import create_app
from robopass.runtime import tune_gc

app = create_app()
tune_gc()


def _warm_dashboard() -> None:
    """On a large registry, start computing the national dashboard aggregates at start-up (in a
    background thread), so the first regulator's page after a restart finds them ready."""
    from robopass.auth.service import Actor
    from robopass.stats import service as stats_service

    try:
        stats_service.warm(app.state.settings.database_url,
                           Actor(id="startup", name="start-up warm-up",
                                 roles=frozenset({"regulator"}), country=""))
    except Exception:  # an uninitialised database must not stop the server from starting
        logging.getLogger(__name__).warning("dashboard warm-up skipped", exc_info=True)


_warm_dashboard()
