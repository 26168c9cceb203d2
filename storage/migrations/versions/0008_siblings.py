"""siblings: one discussion about several children, each with their own decision, plan, deadlines and record

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

A discussion (the meeting) now holds one `child` row per child it is about, each under its own case
reference and in its own series. What is per child moves to the child:
- decision and plan: one per child (unique on child_id, no longer on discussion_id);
- planitem: unique per (child, item); recordversion: versions count per child;
- dueitem.child_id: whose deadline it is; a child's own deadlines (the record, the outcome, the next
  discussion, the conference...) take the child's id as their subject, so two siblings' deadlines of
  one kind are two rows;
- contribution.for_all and contributionchild: a contribution about some children only;
- actionchild: the children an action is for.

Existing discussions are about one child each: that child's row takes the discussion's own id (so
every child_id below is the discussion_id beside it), with the discussion's series, case reference,
number and previous discussion. Going back is refused once a discussion holds more than one child.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A child's own deadlines (dialogs.lifecycle.DueKind): their subject becomes the child's id.
CHILD_KINDS = ('record_circulation', 'outcome_notification', 'further_discussion', 'reconvene', 'icpc',
               'final_discussion')
# Unnamed in the first schema: SQLite's batch mode names the reflected ones by this convention, and
# PostgreSQL named them <table>_<columns>_key.
CONVENTION = {'uq': '%(table_name)s_%(column_0_N_name)s_key'}


def _kinds() -> str:
    return ', '.join(f"'{k}'" for k in CHILD_KINDS)


def upgrade() -> None:
    op.create_table('child',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('discussion_id', sa.Integer(), nullable=False),
    sa.Column('series_id', sa.Integer(), nullable=False),
    sa.Column('case_ref', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('previous_id', sa.Integer(), nullable=True),
    sa.Column('added_at', storage.types.UTCDateTime(), nullable=False),
    sa.Column('added_by_id', sa.Integer(), nullable=True),
    sa.Column('added_reason', sa.Text(), nullable=True),
    sa.Column('removed_at', storage.types.UTCDateTime(), nullable=True),
    sa.Column('removed_by_id', sa.Integer(), nullable=True),
    sa.Column('removed_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['added_by_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['discussion_id'], ['discussion.id'], ),
    sa.ForeignKeyConstraint(['previous_id'], ['child.id'], ),
    sa.ForeignKeyConstraint(['removed_by_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['series_id'], ['series.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('discussion_id', 'case_ref', name='child_discussion_id_case_ref_key')
    )
    with op.batch_alter_table('child') as batch:
        batch.create_index(batch.f('ix_child_case_ref'), ['case_ref'], unique=False)
        batch.create_index(batch.f('ix_child_discussion_id'), ['discussion_id'], unique=False)
        batch.create_index(batch.f('ix_child_series_id'), ['series_id'], unique=False)
    # Every existing discussion is about one child, who takes the discussion's id.
    op.execute(
        'INSERT INTO child (id, discussion_id, series_id, case_ref, position, number, previous_id, '
        'added_at, added_by_id) SELECT id, id, series_id, case_ref, 1, number, previous_id, convened_at, '
        'convened_by_id FROM discussion ORDER BY id'
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("SELECT setval(pg_get_serial_sequence('child', 'id'), COALESCE(MAX(id), 0) + 1, false) "
                   'FROM child')
    with op.batch_alter_table('discussion') as batch:
        batch.alter_column('case_ref', existing_type=sa.String(length=64), type_=sa.String(length=300),
                           existing_nullable=False)

    with op.batch_alter_table('contribution') as batch:
        batch.add_column(sa.Column('for_all', sa.Boolean(), nullable=False, server_default=sa.true()))
    with op.batch_alter_table('contribution') as batch:
        batch.alter_column('for_all', server_default=None, existing_type=sa.Boolean(), existing_nullable=False)
    for table, key in (('contributionchild', 'contribution'), ('actionchild', 'action')):
        op.create_table(table,
        sa.Column(f'{key}_id', sa.Integer(), nullable=False),
        sa.Column('child_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['child_id'], ['child.id'], ),
        sa.ForeignKeyConstraint([f'{key}_id'], [f'{key}.id'], ),
        sa.PrimaryKeyConstraint(f'{key}_id', 'child_id')
        )
        with op.batch_alter_table(table) as batch:
            batch.create_index(batch.f(f'ix_{table}_child_id'), ['child_id'], unique=False)
    op.execute('INSERT INTO actionchild (action_id, child_id) SELECT id, discussion_id FROM action')

    # One decision and one plan per child, not per discussion.
    for table in ('decision', 'plan'):
        _add_child_id(table)
        with op.batch_alter_table(table, naming_convention=CONVENTION) as batch:
            batch.drop_constraint(f'{table}_discussion_id_key', type_='unique')
            batch.create_unique_constraint(f'{table}_child_id_key', ['child_id'])
            batch.create_index(batch.f(f'ix_{table}_discussion_id'), ['discussion_id'], unique=False)
    for table, other in (('planitem', 'item'), ('recordversion', 'version')):
        _add_child_id(table)
        with op.batch_alter_table(table, naming_convention=CONVENTION) as batch:
            batch.drop_constraint(f'{table}_discussion_id_{other}_key', type_='unique')
            batch.create_unique_constraint(f'{table}_child_id_{other}_key', ['child_id', other])
            batch.create_index(batch.f(f'ix_{table}_child_id'), ['child_id'], unique=False)

    with op.batch_alter_table('dueitem') as batch:
        batch.add_column(sa.Column('child_id', sa.Integer(), nullable=True))
        batch.create_index(batch.f('ix_dueitem_child_id'), ['child_id'], unique=False)
        batch.create_foreign_key('fk_dueitem_child_id_child', 'child', ['child_id'], ['id'])
    op.execute(f'UPDATE dueitem SET child_id = discussion_id, subject = CAST(discussion_id AS VARCHAR(20)) '
               f'WHERE kind IN ({_kinds()})')
    op.execute("UPDATE dueitem SET child_id = discussion_id, "
               "subject = CAST(discussion_id AS VARCHAR(20)) || ':' || subject WHERE kind = 'override_review'")


def _add_child_id(table: str) -> None:
    with op.batch_alter_table(table) as batch:
        batch.add_column(sa.Column('child_id', sa.Integer(), nullable=True))
    op.execute(f'UPDATE {table} SET child_id = discussion_id')
    with op.batch_alter_table(table) as batch:
        batch.alter_column('child_id', existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(f'fk_{table}_child_id_child', 'child', ['child_id'], ['id'])


def downgrade() -> None:
    several = op.get_bind().execute(sa.text(
        'SELECT discussion_id FROM child GROUP BY discussion_id HAVING COUNT(*) > 1'
    )).first()
    if several is not None:
        raise RuntimeError('A discussion holds several children (or held one that was removed): the '
                           'schema before 0008 cannot hold them, so it cannot go back.')
    op.execute("UPDATE dueitem SET subject = substr(subject, length(CAST(child_id AS VARCHAR(20))) + 2) "
               "WHERE kind = 'override_review' AND child_id IS NOT NULL")
    op.execute(f"UPDATE dueitem SET subject = '' WHERE kind IN ({_kinds()})")
    with op.batch_alter_table('dueitem') as batch:
        batch.drop_constraint('fk_dueitem_child_id_child', type_='foreignkey')
        batch.drop_index(batch.f('ix_dueitem_child_id'))
        batch.drop_column('child_id')
    for table, other in (('planitem', 'item'), ('recordversion', 'version')):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(batch.f(f'ix_{table}_child_id'))
            batch.drop_constraint(f'{table}_child_id_{other}_key', type_='unique')
            batch.create_unique_constraint(f'{table}_discussion_id_{other}_key', ['discussion_id', other])
            batch.drop_constraint(f'fk_{table}_child_id_child', type_='foreignkey')
            batch.drop_column('child_id')
    for table in ('decision', 'plan'):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(batch.f(f'ix_{table}_discussion_id'))
            batch.drop_constraint(f'{table}_child_id_key', type_='unique')
            batch.create_unique_constraint(f'{table}_discussion_id_key', ['discussion_id'])
            batch.drop_constraint(f'fk_{table}_child_id_child', type_='foreignkey')
            batch.drop_column('child_id')
    for table in ('actionchild', 'contributionchild'):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(batch.f(f'ix_{table}_child_id'))
        op.drop_table(table)
    with op.batch_alter_table('contribution') as batch:
        batch.drop_column('for_all')
    with op.batch_alter_table('discussion') as batch:
        batch.alter_column('case_ref', existing_type=sa.String(length=300), type_=sa.String(length=64),
                           existing_nullable=False)
    with op.batch_alter_table('child') as batch:
        batch.drop_index(batch.f('ix_child_series_id'))
        batch.drop_index(batch.f('ix_child_discussion_id'))
        batch.drop_index(batch.f('ix_child_case_ref'))
    op.drop_table('child')
