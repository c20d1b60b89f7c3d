"""filings: accreditation, evaluations, model versions, organisation status, recall close,
decision history

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 22:00:00

Existing data moves forward unchanged in meaning (docs/filings.md):

* every product model gets ``version`` 1 and a ``model_versions`` row for version 1 holding its
  filed parameters, components and software (status ``approved`` when the model was ever
  approved — approved, suspended or revoked — else the model's own status);
* approved models keep their status and have no evaluation (``evaluated_level`` NULL): codes
  issued for them from now on carry level ``0`` ("not graded") until a lab evaluates them and
  the regulator approves again;
* every unit was built to version 1; recalls have no ``remedy_by`` and stay open;
* organisations keep their status (``approved``) and have no Chinese name or accreditation.

Downgrade drops evaluations, versions, accreditations and decision records. Decision leaves stay
in the append-only ledger, so ``robopass ledger verify`` on a downgraded database reports them
as records removed: downgrade only a registry that made no decision yet, or restore a backup.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _create_tables() -> None:
    op.create_table('model_versions',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('model_id', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('components', sa.JSON(), nullable=False),
    sa.Column('software', sa.JSON(), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=True),
    sa.Column('reason', sa.String(length=2000), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reevaluation_required', sa.Boolean(), nullable=False),
    sa.Column('filed_at', _utc(), nullable=False),
    sa.Column('decided_at', _utc(), nullable=True),
    sa.Column('decision_reason', sa.String(length=1000), nullable=True),
    sa.ForeignKeyConstraint(['model_id'], ['product_models.id'],
                            name=op.f('fk_model_versions_model_id_product_models')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_versions')),
    sa.UniqueConstraint('model_id', 'version', name=op.f('uq_model_versions_model_id'))
    )
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_model_versions_model_id'), ['model_id'],
                              unique=False)
    op.create_table('model_evaluations',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('model_id', sa.String(length=40), nullable=False),
    sa.Column('model_version', sa.Integer(), nullable=False),
    sa.Column('lab_id', sa.String(length=40), nullable=False),
    sa.Column('lab_name', sa.String(length=200), nullable=False),
    sa.Column('perception', sa.Integer(), nullable=False),
    sa.Column('decision', sa.Integer(), nullable=False),
    sa.Column('execution', sa.Integer(), nullable=False),
    sa.Column('collaboration', sa.Integer(), nullable=False),
    sa.Column('overall', sa.Integer(), nullable=False),
    sa.Column('safety_tests', sa.JSON(), nullable=False),
    sa.Column('report_sha256', sa.String(length=64), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=False),
    sa.Column('evaluated_at', _utc(), nullable=False),
    sa.ForeignKeyConstraint(['lab_id'], ['organizations.id'],
                            name=op.f('fk_model_evaluations_lab_id_organizations')),
    sa.ForeignKeyConstraint(['model_id'], ['product_models.id'],
                            name=op.f('fk_model_evaluations_model_id_product_models')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_evaluations'))
    )
    with op.batch_alter_table('model_evaluations', schema=None) as batch_op:
        batch_op.create_index('ix_model_evaluations_model', ['model_id', 'model_version'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_model_evaluations_lab_id'), ['lab_id'],
                              unique=False)
    op.create_table('decisions',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('at', _utc(), nullable=False),
    sa.Column('actor_id', sa.String(length=40), nullable=False),
    sa.Column('actor_name', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('object_type', sa.String(length=32), nullable=False),
    sa.Column('object_id', sa.String(length=64), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.Column('reason', sa.String(length=2000), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('ledger_index', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
              nullable=False),
    sa.Column('organization_id', sa.String(length=40), nullable=True),
    sa.Column('province', sa.String(length=6), nullable=True),
    sa.Column('code', sa.String(length=29), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decisions'))
    )
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_decisions_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_decisions_action'), ['action'], unique=False)
        batch_op.create_index('ix_decisions_object', ['object_id', 'at'], unique=False)
        batch_op.create_index('ix_decisions_organization', ['organization_id', 'at'],
                              unique=False)


def _add_columns() -> None:
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_zh', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('status_reason', sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column('accreditation_scopes', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('accredited_until', sa.Date(), nullable=True))
    with op.batch_alter_table('product_models', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1',
                                      nullable=False))
        batch_op.add_column(sa.Column('evaluated_level', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('evaluation_id', sa.String(length=40), nullable=True))
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.add_column(sa.Column('model_version', sa.Integer(), server_default='1',
                                      nullable=False))
    with op.batch_alter_table('recalls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('remedy_by', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('closed_at', _utc(), nullable=True))
        batch_op.add_column(sa.Column('closed_by_id', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('close_reason', sa.String(length=2000), nullable=True))


def _first_versions() -> None:
    """Version 1 of every existing model is its filing as it stands."""
    conn = op.get_bind()
    models = sa.table('product_models', sa.column('id'), sa.column('parameters', sa.JSON()),
                      sa.column('components', sa.JSON()), sa.column('software', sa.JSON()),
                      sa.column('status'), sa.column('filed_at', _utc()),
                      sa.column('decided_at', _utc()))
    versions = sa.table('model_versions', sa.column('id'), sa.column('model_id'),
                        sa.column('version'), sa.column('parameters', sa.JSON()),
                        sa.column('components', sa.JSON()), sa.column('software', sa.JSON()),
                        sa.column('status'), sa.column('reevaluation_required', sa.Boolean()),
                        sa.column('filed_at', _utc()), sa.column('decided_at', _utc()))
    rows = []
    for m in conn.execute(sa.select(models)).mappings():
        status = "approved" if m["status"] in ("approved", "suspended", "revoked") \
            else m["status"]
        rows.append({"id": f"ver_{str(m['id']).split('_', 1)[-1]}"[:40], "model_id": m["id"], "version": 1,
                     "parameters": m["parameters"], "components": m["components"],
                     "software": m["software"], "status": status,
                     "reevaluation_required": False, "filed_at": m["filed_at"],
                     "decided_at": m["decided_at"]})
        if len(rows) >= 1000:
            conn.execute(sa.insert(versions), rows)
            rows.clear()
    if rows:
        conn.execute(sa.insert(versions), rows)


def upgrade() -> None:
    _create_tables()
    _add_columns()
    _first_versions()


def downgrade() -> None:
    with op.batch_alter_table('recalls', schema=None) as batch_op:
        batch_op.drop_column('close_reason')
        batch_op.drop_column('closed_by_id')
        batch_op.drop_column('closed_at')
        batch_op.drop_column('remedy_by')
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.drop_column('model_version')
    with op.batch_alter_table('product_models', schema=None) as batch_op:
        batch_op.drop_column('evaluation_id')
        batch_op.drop_column('evaluated_level')
        batch_op.drop_column('version')
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.drop_column('accredited_until')
        batch_op.drop_column('accreditation_scopes')
        batch_op.drop_column('status_reason')
        batch_op.drop_column('name_zh')
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_index('ix_decisions_organization')
        batch_op.drop_index('ix_decisions_object')
        batch_op.drop_index(batch_op.f('ix_decisions_action'))
        batch_op.drop_index(batch_op.f('ix_decisions_at'))
    op.drop_table('decisions')
    with op.batch_alter_table('model_evaluations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_model_evaluations_lab_id'))
        batch_op.drop_index('ix_model_evaluations_model')
    op.drop_table('model_evaluations')
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_model_versions_model_id'))
    op.drop_table('model_versions')
