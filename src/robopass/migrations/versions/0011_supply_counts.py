"""supply-chain counts for the regulator's supply-chain view, kept in step with every write

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 09:40:00

Adds ``supply_counts`` (``robopass.stats.supply``): per province prefix, the number of distinct
units carrying bound components of each (component type, supplier), of each supplier and of
any supplier, maintained in the transaction of every lifecycle event that binds, releases or
swaps components or moves a unit to another province, so the supply-chain view reads a small
table instead of scanning ``components`` in every worker. Filled here from ``components``
joined to ``units`` (the same SQL as ``robopass.stats.supply.recount``, written out so that this
revision does not change with the application code).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PREFIX = "substr(coalesce(u.province, ''), 1, 2)"
_LEVELS = (("c.component_type", "c.supplier_id", ", c.component_type, c.supplier_id"),
           ("''", "c.supplier_id", ", c.supplier_id"),
           ("''", "''", ""))


def upgrade() -> None:
    op.create_table('supply_counts',
    sa.Column('province', sa.String(length=2), nullable=False),
    sa.Column('component_type', sa.String(length=32), nullable=False),
    sa.Column('supplier_id', sa.String(length=40), nullable=False),
    sa.Column('units', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('province', 'component_type', 'supplier_id',
                            name=op.f('pk_supply_counts'))
    )
    for ctype, supplier, group in _LEVELS:
        op.execute(
            "INSERT INTO supply_counts (province, component_type, supplier_id, units) "
            f"SELECT {_PREFIX}, {ctype}, {supplier}, count(DISTINCT c.unit_code) "
            "FROM components c JOIN units u ON u.code = c.unit_code "
            f"WHERE c.unit_code IS NOT NULL GROUP BY {_PREFIX}{group}")


def downgrade() -> None:
    op.drop_table('supply_counts')
