"""ASGI entry point for uvicorn workers: ``robopass.asgi:app``."""

from robopass.api import create_app
from robopass.runtime import tune_gc

app = create_app()
tune_gc()
