"""the audit trail as one chain per discussion, anchored into a council-wide chain

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

Writers no longer queue behind one global lock: each discussion has a chain of its own and the
council a chain for everything else (storage/audit.py).
- auditevent gets `chain` ("discussion:<id>" / "council") and `seq` (its place in the chain), with
  a UNIQUE (chain, seq) index so no chain can fork, and an index on `at` for the anchoring;
- the entries already written keep chain and seq NULL and their hashes: they stay one global chain in
  id order, verified exactly as before. Nothing is rewritten (the triggers would refuse it anyway);
- that old chain is closed here: when it holds entries, the council chain starts with an anchor
  recording its length and head, so deleting its last entries, or adding to it, is detected.
Columns are added with plain ALTER TABLE ADD COLUMN, so SQLite keeps the table and its triggers.
"""

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = '0' * 64
audit = sa.table(
    'auditevent', sa.column('id', sa.Integer), sa.column('at', storage.types.UTCDateTime(timezone=True)),
    sa.column('actor', sa.String), sa.column('channel', sa.String), sa.column('action', sa.String),
    sa.column('discussion_id', sa.Integer), sa.column('detail', sa.JSON), sa.column('chain', sa.String),
    sa.column('seq', sa.Integer), sa.column('prev_hash', sa.String), sa.column('hash', sa.String),
)


def _digest(row: dict) -> str:
    """storage.audit._digest as of this revision (a migration must not change with later code)."""
    body = {k: row[k] for k in ('actor', 'channel', 'action', 'discussion_id', 'detail', 'prev_hash',
                                'chain', 'seq')}
    body['at'] = row['at'].isoformat()
    canonical = json.dumps(body, sort_keys=True, separators=(',', ':'), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def upgrade() -> None:
    op.add_column('auditevent', sa.Column('chain', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
    op.add_column('auditevent', sa.Column('seq', sa.Integer(), nullable=True))
    op.create_index('ix_auditevent_chain_seq', 'auditevent', ['chain', 'seq'], unique=True)
    op.create_index(op.f('ix_auditevent_at'), 'auditevent', ['at'], unique=False)

    conn = op.get_bind()
    count, last_id = conn.execute(sa.select(sa.func.count(), sa.func.max(audit.c.id))).one()
    if not count:
        return
    head = conn.execute(sa.select(audit.c.hash).where(audit.c.id == last_id)).scalar_one()
    row = {
        'at': datetime.now(UTC).replace(microsecond=0),
        'actor': 'system',
        'channel': 'migration',
        'action': 'audit.anchor',
        'discussion_id': None,
        'detail': {'heads': {'legacy': {'seq': count, 'id': last_id, 'hash': head}}},
        'chain': 'council',
        'seq': 1,
        'prev_hash': GENESIS,
    }
    conn.execute(audit.insert().values(**row, hash=_digest(row)))


def downgrade() -> None:
    chained = op.get_bind().execute(sa.text('SELECT count(*) FROM auditevent WHERE chain IS NOT NULL')).scalar()
    if chained:
        # The previous release would find these entries breaking its one chain, and they cannot be
        # deleted (the trail is append-only): restore a backup taken before the upgrade instead.
        raise RuntimeError('the audit trail has entries in per-discussion chains: cannot go back to 0004')
    op.drop_index(op.f('ix_auditevent_at'), table_name='auditevent')
    op.drop_index('ix_auditevent_chain_seq', table_name='auditevent')
    op.drop_column('auditevent', 'seq')
    op.drop_column('auditevent', 'chain')
