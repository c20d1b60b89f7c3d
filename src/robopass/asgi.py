"""ASGI entry point for uvicorn workers: ``robopass.asgi:app``."""

from robopass.api import create_app

app = create_app()
