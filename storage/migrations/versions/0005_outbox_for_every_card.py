"""every card through the outbox: a card's key and the turn's origin on each row

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

Every card a turn sends (not only reminders) is now queued in the outbox in the turn's transaction.
Two nullable columns, so existing rows are kept as they are:
- card_key: a later row with the same key to the same recipient replaces an earlier unsent one (a burst
  of replies redraws the discussion's post once);
- origin: where the person acted (Turn.origin), so that a card sent after a restart still goes where
  it would have gone at once (a new discussion's post in the channel it was convened from).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('card_key', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('origin', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('origin')
        batch.drop_column('card_key')
