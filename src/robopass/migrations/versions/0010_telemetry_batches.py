"""telemetry heads (each unit's newest stored reading time) and staged batches whose health
snapshots are folded in the background

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-04 03:45:00

Adds ``telemetry_heads`` (``sid`` → epoch ms of the unit's newest stored reading, staged or
folded: ingest's duplicate check reads and moves it instead of the wide snapshot row; filled
from ``telemetry_units.at``) and ``telemetry_staging.snap`` (0: the batch's readings are not
yet in their units' health snapshots and alerts; the folder applies them with the chunks).
On PostgreSQL the heads get fillfactor 50, so moving a head is a HOT update (no index
write). Downgrade folds every staged row first, so no reading or snapshot update is lost.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('telemetry_heads',
    sa.Column('sid', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('sid', name=op.f('pk_telemetry_heads')),
    sqlite_with_rowid=False,
    # room on every page: moving a head is a HOT update (no index write) on PostgreSQL
    postgresql_with={'fillfactor': 50}
    )
    with op.batch_alter_table('telemetry_staging', schema=None) as batch_op:
        batch_op.add_column(sa.Column('snap', sa.Integer(), server_default='1',
                                      nullable=False))
    op.execute("INSERT INTO telemetry_heads (sid, at) SELECT sid, at FROM telemetry_units "
               "WHERE at IS NOT NULL")


def downgrade() -> None:
    from robopass.telemetry import staging

    staging.fold_all(op.get_bind())
    with op.batch_alter_table('telemetry_staging', schema=None) as batch_op:
        batch_op.drop_column('snap')
    op.drop_table('telemetry_heads')
