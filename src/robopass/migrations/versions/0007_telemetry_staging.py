"""telemetry staging (live readings appended, folded into chunks later) and the trend's
last point time

Revision ID: 0007
Revises: 0002
Create Date: 2026-12-03 22:20:00

Adds ``telemetry_staging`` (one row per staged live batch, ``robopass.telemetry.staging``)
and ``telemetry_units.trend_last_at`` (epoch ms of the trend's point for ``trend_day``; null
on existing rows, which the next reading of that day fills in from the stored trend).
Downgrade folds every staged row into chunks first, so no reading is lost.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('telemetry_staging',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True,
              nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('sids', sa.LargeBinary(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_telemetry_staging'))
    )
    with op.batch_alter_table('telemetry_units', schema=None) as batch_op:
        batch_op.add_column(sa.Column('trend_last_at', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    from robopass.telemetry import staging

    staging.fold_all(op.get_bind())
    with op.batch_alter_table('telemetry_units', schema=None) as batch_op:
        batch_op.drop_column('trend_last_at')
    op.drop_table('telemetry_staging')
