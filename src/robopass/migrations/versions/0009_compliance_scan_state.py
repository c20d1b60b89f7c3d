"""the compliance scan's state, so scans after the first are incremental

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 03:40:00

Adds ``compliance_scan_state`` (one row: when the last scan ran, the event ledger index it had
seen, fingerprints of the facts it judged with). Empty after the upgrade: the next scan is a
full one and writes it.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import robopass.db

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('compliance_scan_state',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', robopass.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('events_mark', sa.BigInteger(), nullable=False),
    sa.Column('marks', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_compliance_scan_state'))
    )


def downgrade() -> None:
    op.drop_table('compliance_scan_state')
