"""what the parents and the child are told, for every outcome

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

The record says what is shared with the parents/carers and the child, when and by whom, or why not,
whatever the outcome; an S47 plan already held it (plan.tell_parents_how). A nullable column: earlier
decisions say nothing, and their records say it was not recorded.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('decision') as batch:
        batch.add_column(sa.Column('parents_told', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('decision') as batch:
        batch.drop_column('parents_told')
