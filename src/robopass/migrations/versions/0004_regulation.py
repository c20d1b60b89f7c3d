"""differentiated regulation: scenario policies, pilots, compliance findings (SPEC §14)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 22:00:00

Adds ``policy_versions``, ``pilots`` and ``compliance_findings``, and the unit's deployment
``scenario``, ``pilot_id`` and ``policy_version`` (null for units deployed before: they are
judged by the scan only once redeployed with a scenario). Default policies are written by
``robopass init`` (``robopass.policies.defaults``), not here, so they are ledgered as decisions.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import robopass.db

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('policy_versions',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('scenario', sa.String(length=24), nullable=False),
    sa.Column('province', sa.String(length=6), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('reason', sa.String(length=2000), nullable=False),
    sa.Column('effective_from', robopass.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.String(length=40), nullable=True),
    sa.Column('ledger_index', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['organizations.id'],
                            name=op.f('fk_policy_versions_created_by_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_versions')),
    sa.UniqueConstraint('scenario', 'province', 'version',
                        name=op.f('uq_policy_versions_scenario'))
    )
    op.create_table('pilots',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('scenario', sa.String(length=24), nullable=False),
    sa.Column('provinces', sa.JSON(), nullable=False),
    sa.Column('starts', robopass.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends', robopass.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('participants', sa.JSON(), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('reason', sa.String(length=2000), nullable=False),
    sa.Column('created_by_id', sa.String(length=40), nullable=False),
    sa.Column('created_at', robopass.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ledger_index', sa.Integer(), nullable=True),
    sa.Column('ended_at', robopass.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=2000), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['organizations.id'],
                            name=op.f('fk_pilots_created_by_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pilots'))
    )
    op.create_table('compliance_findings',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('code', sa.String(length=29), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('detail', sa.String(length=1000), nullable=False),
    sa.Column('since', robopass.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('policy_version', sa.Integer(), nullable=True),
    sa.Column('resolved_at', robopass.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('scenario', sa.String(length=24), nullable=True),
    sa.Column('province', sa.String(length=6), nullable=True),
    sa.ForeignKeyConstraint(['code'], ['units.code'],
                            name=op.f('fk_compliance_findings_code_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_compliance_findings'))
    )
    op.create_index('ix_findings_code', 'compliance_findings', ['code'], unique=False)
    op.create_index('ix_findings_open', 'compliance_findings', ['kind', 'code'], unique=True,
                    sqlite_where=sa.text('resolved_at IS NULL'),
                    postgresql_where=sa.text('resolved_at IS NULL'))
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scenario', sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column('pilot_id', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('policy_version', sa.Integer(), nullable=True))
        batch_op.create_index('ix_units_scenario', ['scenario', 'province'], unique=False,
                              sqlite_where=sa.text('scenario IS NOT NULL'),
                              postgresql_where=sa.text('scenario IS NOT NULL'))


def downgrade() -> None:
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.drop_index('ix_units_scenario', sqlite_where=sa.text('scenario IS NOT NULL'),
                            postgresql_where=sa.text('scenario IS NOT NULL'))
        batch_op.drop_column('policy_version')
        batch_op.drop_column('pilot_id')
        batch_op.drop_column('scenario')
    op.drop_index('ix_findings_open', table_name='compliance_findings',
                  sqlite_where=sa.text('resolved_at IS NULL'),
                  postgresql_where=sa.text('resolved_at IS NULL'))
    op.drop_index('ix_findings_code', table_name='compliance_findings')
    op.drop_table('compliance_findings')
    op.drop_table('pilots')
    op.drop_table('policy_versions')
