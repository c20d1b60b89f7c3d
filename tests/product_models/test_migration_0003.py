"""Migration 0003 moves an existing registry forward (docs/filings.md), on both databases."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from robopass import idcode
from robopass.db import dispose_engine, get_engine
from robopass.schema import alembic_config
from tests.utils.api import ApiClient


def test_existing_approved_models_keep_status_and_have_no_evaluation(client: ApiClient) -> None:
    maker = client.org("manufacturer")
    model_id = client.approved_model(maker, intelligence_level=4)
    code = client.codes(maker, model_id, 1)[0]
    url = client.registry.url
    dispose_engine(url)
    command.downgrade(alembic_config(url), "0002")
    with get_engine(url).connect() as conn:  # as a registry from before filings existed
        assert conn.execute(text("SELECT status FROM product_models WHERE id = :m"),
                            {"m": model_id}).scalar() == "approved"
    dispose_engine(url)
    command.upgrade(alembic_config(url), "head")
    with get_engine(url).connect() as conn:
        rows = conn.execute(text("SELECT version, status FROM model_versions "
                                 "WHERE model_id = :m"), {"m": model_id}).all()
        assert [tuple(r) for r in rows] == [(1, "approved")]
        assert conn.execute(text("SELECT model_version FROM units WHERE code = :c"),
                            {"c": code}).scalar() == 1
    dispose_engine(url)
    model = client.get(f"/api/v1/models/{model_id}", maker).json()
    assert model["status"] == "approved" and model["version"] == 1
    assert model["evaluation"] is None and model["evaluated_level"] is None
    # codes issued meanwhile are "not graded" (0), not the claimed level
    new = client.codes(maker, model_id, 1, month="2026-04")[0]
    assert idcode.parse(new).intelligence_level == 0
    assert idcode.parse(code).intelligence_level == 4  # issued codes never change
