"""status-list index per unit, hand-over between registries (SPEC §16)

Revision ID: 0006
Revises: 0002
Create Date: 2026-12-03 22:30:00

* ``units.status_index``: the unit's fixed position in the registry's status list. Existing
  units are numbered 0..n-1 in issuance order (``issued_at``, then code) and
  ``registry.next_status_index`` is set to n, so every existing code gets an index and new
  issuance continues after them.
* ``units.exported_to``: NULL for every existing unit (no robot was handed over before).
* ``ix_units_status_listed``: partial index of the units whose status-list value is not 0.
* ``federation_outbox``: signed hand-over messages to peers, delivered with retries.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LISTED = "status IN ('suspended', 'recycled', 'scrapped') OR open_recalls > 0"


def upgrade() -> None:
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status_index', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('exported_to', sa.String(length=2), nullable=True))
    with op.batch_alter_table('registry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_status_index', sa.BigInteger(), server_default='0',
                                      nullable=False))
    # Number existing units in issuance order (window functions: SQLite >= 3.25, PostgreSQL).
    op.execute("UPDATE units SET status_index = (SELECT r.n FROM (SELECT code, "
               "ROW_NUMBER() OVER (ORDER BY issued_at, code) - 1 AS n FROM units) r "
               "WHERE r.code = units.code)")
    op.execute("UPDATE registry SET next_status_index = (SELECT COUNT(*) FROM units)")
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_units_status_index'), ['status_index'])
        batch_op.create_index('ix_units_status_listed', ['status_index'], unique=False,
                              sqlite_where=sa.text(_LISTED), postgresql_where=sa.text(_LISTED))
    op.create_table('federation_outbox',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('code', sa.String(length=29), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_federation_outbox'))
    )
    with op.batch_alter_table('federation_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_federation_outbox_code'), ['code'], unique=False)
        batch_op.create_index('ix_federation_outbox_status_next', ['status', 'next_attempt_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('federation_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_federation_outbox_status_next')
        batch_op.drop_index(batch_op.f('ix_federation_outbox_code'))
    op.drop_table('federation_outbox')
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.drop_index('ix_units_status_listed')
        batch_op.drop_constraint(batch_op.f('uq_units_status_index'), type_='unique')
        batch_op.drop_column('exported_to')
        batch_op.drop_column('status_index')
    with op.batch_alter_table('registry', schema=None) as batch_op:
        batch_op.drop_column('next_status_index')
