"""telemetry readings stored in chunks (one row per unit, clock hour and batch)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 05:00:00

Moves every row of ``telemetry_readings`` into ``telemetry_chunks`` (one chunk per unit and
clock hour, in format 1 of ``robopass.telemetry.chunks``) and drops the old table. Runs in the
migration's transaction; on a large PostgreSQL registry plan a maintenance window (it reads
the old table once, in key order). Downgrade unpacks the chunks back into rows.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_COLUMNS = ("sid", "at", "battery_soh", "cycle_count", "accuracy", "operating_hours",
                "max_joint_wear", "joint_wear", "fault_codes", "firmware")
_BATCH = 50_000


def _create_chunks() -> None:
    op.create_table('telemetry_chunks',
    sa.Column('sid', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('last_at', sa.BigInteger(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('sid', 'at', name=op.f('pk_telemetry_chunks'))
    )


def _create_readings() -> None:
    op.create_table('telemetry_readings',
    sa.Column('sid', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('battery_soh', sa.Float(), nullable=True),
    sa.Column('cycle_count', sa.BigInteger(), nullable=True),
    sa.Column('accuracy', sa.Float(), nullable=True),
    sa.Column('operating_hours', sa.Float(), nullable=True),
    sa.Column('max_joint_wear', sa.Float(), nullable=True),
    sa.Column('joint_wear', sa.LargeBinary(), nullable=True),
    sa.Column('fault_codes', sa.Text(), nullable=True),
    sa.Column('firmware', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('sid', 'at', name=op.f('pk_telemetry_readings')),
    sqlite_with_rowid=False
    )


def upgrade() -> None:
    from robopass.telemetry import chunks

    _create_chunks()
    with op.batch_alter_table('telemetry_units', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chunk_span', sa.BigInteger(), nullable=True))
    conn = op.get_bind()
    chunk_table = sa.table('telemetry_chunks', sa.column('sid'), sa.column('at'),
                           sa.column('last_at'), sa.column('n'), sa.column('data'))
    pending: list[tuple] = []  # rows of the current (sid, hour), in key order
    out: list[dict] = []

    def flush() -> None:
        if pending:
            columns = [list(c) for c in zip(*[row[1:] for row in pending], strict=True)]
            columns[6] = [None if w is None else bytes(w) for w in columns[6]]
            out.append({"sid": pending[0][0], "at": pending[0][1], "last_at": pending[-1][1],
                        "n": len(pending),
                        "data": chunks.encode(columns, list(range(len(pending))))})
            pending.clear()
        if len(out) >= 1000:
            conn.execute(sa.insert(chunk_table), out)
            out.clear()

    last_key = None
    after: tuple[int, int] | None = None
    while True:  # keyset pagination over the old table's key
        where = "" if after is None else "WHERE (sid > :s OR (sid = :s AND at > :a)) "
        rows = conn.execute(sa.text(
            f"SELECT {', '.join(_OLD_COLUMNS)} FROM telemetry_readings {where}"
            f"ORDER BY sid, at LIMIT {_BATCH}"),
            {} if after is None else {"s": after[0], "a": after[1]}).all()
        if not rows:
            break
        for row in rows:
            key = (row[0], chunks.hour_of(row[1]))
            if key != last_key:
                flush()
                last_key = key
            pending.append(tuple(row))
        after = (rows[-1][0], rows[-1][1])
    flush()
    if out:
        conn.execute(sa.insert(chunk_table), out)
    conn.execute(sa.text(
        "UPDATE telemetry_units SET chunk_span = (SELECT max(c.last_at - c.at) "
        "FROM telemetry_chunks c WHERE c.sid = telemetry_units.sid)"))
    op.drop_table('telemetry_readings')


def downgrade() -> None:
    from robopass.telemetry import chunks

    _create_readings()
    conn = op.get_bind()
    readings = sa.table('telemetry_readings', *[sa.column(c) for c in _OLD_COLUMNS])
    for sid, data in conn.execute(sa.text("SELECT sid, data FROM telemetry_chunks")).all():
        rows = [dict(zip(_OLD_COLUMNS, (sid, *raw), strict=True))
                for raw in chunks.decode(bytes(data))]
        if rows:
            conn.execute(sa.insert(readings), rows)
    op.drop_table('telemetry_chunks')
    with op.batch_alter_table('telemetry_units', schema=None) as batch_op:
        batch_op.drop_column('chunk_span')
