"""unit counts for the dashboard, kept in step with every write

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 03:40:00

Adds ``unit_counts`` (``robopass.stats.counts``): units per status, manufacturer, province,
scenario, production month and issue month, maintained in the transaction of every issuance,
import and lifecycle event, so the dashboard reads a small table instead of scanning
``units``. Filled here from ``units`` in one scan (a few seconds per million units).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('unit_counts',
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('manufacturer_id', sa.String(length=40), nullable=False),
    sa.Column('province', sa.String(length=6), nullable=False),
    sa.Column('scenario', sa.String(length=24), nullable=False),
    sa.Column('production_month', sa.String(length=7), nullable=False),
    sa.Column('issued_month', sa.String(length=7), nullable=False),
    sa.Column('units', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('status', 'manufacturer_id', 'province', 'scenario',
                            'production_month', 'issued_month', name=op.f('pk_unit_counts'))
    )
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        issued = "to_char(timezone('UTC', issued_at), 'YYYY-MM')"
    else:
        issued = "substr(issued_at, 1, 7)"
    op.execute(
        "INSERT INTO unit_counts (status, manufacturer_id, province, scenario, "
        "production_month, issued_month, units) "
        f"SELECT status, manufacturer_id, coalesce(province, ''), coalesce(scenario, ''), "
        f"production_month, {issued}, count(*) FROM units "
        f"GROUP BY status, manufacturer_id, coalesce(province, ''), coalesce(scenario, ''), "
        f"production_month, {issued}")


def downgrade() -> None:
    op.drop_table('unit_counts')
