"""the record as signed: each version keeps its typed content and what it changed

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

A record version's files must say what the chair signed, not what the database says later (an action
done, a conference held): `content` keeps the typed record (dialogs.record_model.Record as JSON) as it
was signed, and `change` what that version changed. Both nullable: versions signed before this are
rebuilt from the database when exported, as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('recordversion') as batch:
        batch.add_column(sa.Column('content', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('change', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('recordversion') as batch:
        batch.drop_column('change')
        batch.drop_column('content')
