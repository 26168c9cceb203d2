"""report indexes: the figures read only their period

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02

The figures (dialogs/report_query.py) count the deadlines due in a period and the discussions held in
it. Without these indexes every report reads every row ever stored, so a council with years of
records would pay for all of them to see one month.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_dueitem_due_at', 'dueitem', ['due_at'])
    op.create_index('ix_discussion_held_on', 'discussion', ['held_on'])


def downgrade() -> None:
    op.drop_index('ix_discussion_held_on', table_name='discussion')
    op.drop_index('ix_dueitem_due_at', table_name='dueitem')
