"""ledger origin per registry, per-head origin, witnesses (SPEC §15)

Revision ID: 0005
Revises: 0002
Create Date: 2026-12-03 22:30:00

Existing data moves forward as follows:

* ``tree_heads.origin`` (new): every existing head gets the registry's origin at upgrade time —
  the origin it was signed under — so old heads keep verifying.
* ``registry.origin``: a registry still on the old shared default ``robopass.<cc>/ledger`` gets
  its own origin: the public URL's host and path + ``/ledger`` when ``ROBOPASS_PUBLIC_URL`` is
  set while migrating, else ``robopass.<cc>/<label>/ledger`` where ``<label>`` is the first 8
  hex digits of SHA-256 of the registry's oldest signing public key (so it is stable and no two
  registries share it). A custom origin is kept. ``robopass init`` on the migrated database
  re-signs the latest head under the new origin; later heads are signed under it.
* ``ledger_witnesses`` (new, empty).

Downgrade drops ``ledger_witnesses`` and ``tree_heads.origin``; the registry keeps its new
origin (heads signed before the upgrade then no longer verify in ``robopass ledger verify``).
"""
import base64
import hashlib
import os
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import robopass.db

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def _new_origin(conn: sa.Connection, country: str) -> str:
    from robopass.registry import origin as origin_rules

    from robopass.config import public_url_from_environment

    public_url = public_url_from_environment()
    if public_url:
        return origin_rules.from_public_url(public_url)
    x = conn.execute(sa.text("SELECT public_x FROM signing_keys ORDER BY created_at, kid "
                             "LIMIT 1")).scalar()
    label = None
    if x:
        raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
        label = hashlib.sha256(raw).hexdigest()[:8]
    return origin_rules.default(country, None, label)


def upgrade() -> None:
    conn = op.get_bind()
    with op.batch_alter_table('tree_heads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('origin', sa.String(length=200), nullable=True))
    row = conn.execute(sa.text("SELECT country, origin FROM registry WHERE id = 1")).first()
    if row is not None:
        conn.execute(sa.text("UPDATE tree_heads SET origin = :o"), {"o": row.origin})
        if row.origin == f"robopass.{row.country.lower()}/ledger":
            conn.execute(sa.text("UPDATE registry SET origin = :o WHERE id = 1"),
                         {"o": _new_origin(conn, row.country)})
    conn.execute(sa.text("UPDATE tree_heads SET origin = '' WHERE origin IS NULL"))
    with op.batch_alter_table('tree_heads', schema=None) as batch_op:
        batch_op.alter_column('origin', existing_type=sa.String(length=200), nullable=False)
    op.create_table('ledger_witnesses',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('vkey', sa.String(length=300), nullable=False),
    sa.Column('created_at', robopass.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('known_size', _BIG, nullable=True),
    sa.Column('cosigned_size', _BIG, nullable=True),
    sa.Column('cosigned_root', sa.String(length=64), nullable=True),
    sa.Column('cosignature', sa.Text(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_ledger_witnesses'))
    )


def downgrade() -> None:
    op.drop_table('ledger_witnesses')
    with op.batch_alter_table('tree_heads', schema=None) as batch_op:
        batch_op.drop_column('origin')
