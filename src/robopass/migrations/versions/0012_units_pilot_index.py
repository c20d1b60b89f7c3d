"""index of units deployed under a pilot programme

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 10:30:00

The regulator's dashboard counts the units in service under each pilot and the pilot page lists
them (``pilots.service.unit_counts``, ``compliance.dashboard.pilot_units``). Without an index
that was a scan of every unit in each server process's first dashboard view (at 1,000,000 units
most of the page's ~450–570 ms). Partial, like ``ix_units_operator``: a unit outside any pilot
(nearly all) has no entry, so issuance and events pay nothing for it.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_units_pilot', 'units', ['pilot_id', 'status'], unique=False,
                    sqlite_where=sa.text('pilot_id IS NOT NULL'),
                    postgresql_where=sa.text('pilot_id IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_units_pilot', table_name='units')
