"""telemetry: each unit's gap below its newest reading, and staged rows' time ranges

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 12:40:00

Late readings (older than their unit's newest stored one) used to be looked up in every staged
row holding the unit and in its chunks, to drop repeats. Two exact shortcuts (issue #16):

* ``telemetry_heads.prev``: no stored reading of the unit lies strictly between ``prev`` and
  ``at`` (the newest). A late reading inside that gap is new without any lookup. Existing heads
  get ``prev = at`` (an empty gap: every late reading is looked up, as before); a new unit's
  head starts at ``-1, -1``.
* ``telemetry_staging.lo`` / ``hi``: the earliest and latest reading time of a staged row, so
  the duplicate check and range reads skip rows that cannot hold a time. Rows staged before
  the upgrade get the widest range (always read, as before).

On PostgreSQL the snapshot and head rows, rewritten by every fold and every batch, get room on
their pages (``fillfactor``) so an update is a HOT update on the same page, not a new index
entry (measured: 99.9 % of the snapshot updates were not HOT, and the tables bloated ~10× in
a minute of the live shape). Staged rows' blobs are stored uncompressed (``STORAGE
EXTERNAL``): a staged row lives about a second, and compressing its ~1 MB with pglz was
PostgreSQL CPU on every batch's write path.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WIDEST = 1 << 62
UNITS_FILLFACTOR = 50
HEADS_FILLFACTOR = 25


def upgrade() -> None:
    with op.batch_alter_table('telemetry_heads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prev', sa.BigInteger(), server_default='-1',
                                      nullable=False))
    op.execute("UPDATE telemetry_heads SET prev = at")
    with op.batch_alter_table('telemetry_staging', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lo', sa.BigInteger(), server_default=str(-WIDEST),
                                      nullable=False))
        batch_op.add_column(sa.Column('hi', sa.BigInteger(), server_default=str(WIDEST),
                                      nullable=False))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE telemetry_units SET (fillfactor = {UNITS_FILLFACTOR})")
        op.execute(f"ALTER TABLE telemetry_heads SET (fillfactor = {HEADS_FILLFACTOR})")
        for column in ("sids", "data"):
            op.execute(f"ALTER TABLE telemetry_staging ALTER COLUMN {column} SET STORAGE EXTERNAL")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE telemetry_units RESET (fillfactor)")
        op.execute("ALTER TABLE telemetry_heads SET (fillfactor = 50)")
        for column in ("sids", "data"):
            op.execute(f"ALTER TABLE telemetry_staging ALTER COLUMN {column} SET STORAGE EXTENDED")
    # plain ALTER TABLE … DROP COLUMN (SQLite >= 3.35): a batch rebuild of the WITHOUT ROWID
    # heads table would not keep that clause
    for table, column in (('telemetry_staging', 'hi'), ('telemetry_staging', 'lo'),
                          ('telemetry_heads', 'prev')):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
