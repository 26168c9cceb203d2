"""the lifecycle: series of discussions, deadlines that end by doing, row versions

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

Carries every existing discussion into the lifecycle (dialogs/lifecycle.py) without losing anything:
- each chain of discussions (first, further, final) becomes a series; a case's chains that are all
  closed keep a closed series each, and its open ones share one open series (one open series per case);
- discussion states are renamed (in_discussion -> in_progress, planned -> decided, circulated ->
  signed_off, closed -> closed_with_reason: the old close always asked for a reason, which is copied
  from the monitoring text into closed_reason; the monitoring text stays as it was);
- started_at and an action's done_at/done_by_id come from the audit trail's own entries;
- due items: missed_reason becomes reason; done becomes met (or late when it ended after its due
  time), cancelled becomes withdrawn, with ended_at from when they last changed; but a conference,
  further, reconvened or final discussion "done" (planned, or merely convened) is open again, since
  holding it is now what meets it, and the new code ends it once that has happened; a closed
  discussion's deadlines left open are closed with its reason (chases missed; acknowledgements go on);
- the circumstance flags become nullable (None: not answered yet); existing answers are kept;
- participant, contribution, decision and plan rows get version 1.
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FLAGS = ('possible_injury', 'medical_implications', 'hospital_involvement', 'inpatient', 'complex_case')
STATES = {'in_discussion': 'in_progress', 'planned': 'decided', 'circulated': 'signed_off',
          'closed': 'closed_with_reason'}
CLOSED = {'closed', 'closed_with_reason'}
# Deadlines whose act changed: a conference was "done" once planned, the next discussion once
# convened; now holding them is what meets them.
ACT_CHANGED = {'icpc', 'further_discussion', 'reconvene', 'final_discussion'}
BEFORE = 'ended before this release recorded how'


def upgrade() -> None:
    op.create_table('series',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('council', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('case_ref', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('opened_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('icpc_held_on', sa.Date(), nullable=True),
    sa.Column('icpc_not_required', sa.Boolean(), nullable=False),
    sa.Column('icpc_recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('icpc_recorded_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['icpc_recorded_by_id'], ['person.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('series', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_series_case_ref'), ['case_ref'], unique=False)
        batch_op.create_index('ux_series_open_case', ['council', 'case_ref'], unique=True,
                              postgresql_where=sa.text('closed_at IS NULL'),
                              sqlite_where=sa.text('closed_at IS NULL'))

    op.create_table('outcometold',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('discussion_id', sa.Integer(), nullable=False),
    sa.Column('agency', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('told_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('how', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('told_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('recorded_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['discussion_id'], ['discussion.id'], ),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['person.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('outcometold', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outcometold_discussion_id'), ['discussion_id'], unique=False)

    with op.batch_alter_table('discussion', schema=None) as batch_op:
        batch_op.add_column(sa.Column('series_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('out_of_hours_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('started_at', storage.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('closed_at', storage.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('closed_reason', sa.Text(), nullable=True))
        for flag in FLAGS:
            batch_op.alter_column(flag, existing_type=sa.Boolean(), nullable=True)

    for table in ('participant', 'contribution', 'decision', 'plan'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='1'))
    with op.batch_alter_table('decision', schema=None) as batch_op:
        batch_op.add_column(sa.Column('override_unmet', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('override_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('override_reviewed_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('override_reviewed_at', storage.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key('fk_decision_override_reviewed_by_id_person', 'person', ['override_reviewed_by_id'], ['id'])
    with op.batch_alter_table('action', schema=None) as batch_op:
        batch_op.add_column(sa.Column('done_at', storage.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('done_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_action_done_by_id_person', 'person', ['done_by_id'], ['id'])
    with op.batch_alter_table('dueitem', schema=None) as batch_op:
        batch_op.alter_column('missed_reason', new_column_name='reason', existing_type=sa.Text(), existing_nullable=True)
        batch_op.add_column(sa.Column('ended_at', storage.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('ended_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))

    _carry_data_over()

    with op.batch_alter_table('discussion', schema=None) as batch_op:
        batch_op.alter_column('series_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_index(batch_op.f('ix_discussion_series_id'), ['series_id'], unique=False)
        batch_op.create_foreign_key('fk_discussion_series_id_series', 'series', ['series_id'], ['id'])


# --- the data --------------------------------------------------------------------------------------

discussion = sa.table(
    'discussion', sa.column('id', sa.Integer), sa.column('case_ref', sa.String),
    sa.column('previous_id', sa.Integer), sa.column('state', sa.String),
    sa.column('convened_at', storage.types.UTCDateTime(timezone=True)),
    sa.column('updated_at', storage.types.UTCDateTime(timezone=True)),
    sa.column('monitoring', sa.Text), sa.column('series_id', sa.Integer),
    sa.column('started_at', storage.types.UTCDateTime(timezone=True)),
    sa.column('closed_at', storage.types.UTCDateTime(timezone=True)), sa.column('closed_reason', sa.Text),
)
series = sa.table(
    'series', sa.column('id', sa.Integer), sa.column('council', sa.String), sa.column('case_ref', sa.String),
    sa.column('opened_at', storage.types.UTCDateTime(timezone=True)),
    sa.column('closed_at', storage.types.UTCDateTime(timezone=True)),
    sa.column('icpc_not_required', sa.Boolean),
)
audit = sa.table(
    'auditevent', sa.column('id', sa.Integer), sa.column('at', storage.types.UTCDateTime(timezone=True)),
    sa.column('actor', sa.String), sa.column('action', sa.String), sa.column('discussion_id', sa.Integer),
    sa.column('detail', sa.JSON),
)
action = sa.table(
    'action', sa.column('id', sa.Integer), sa.column('done_at', storage.types.UTCDateTime(timezone=True)),
    sa.column('done_by_id', sa.Integer),
)
dueitem = sa.table(
    'dueitem', sa.column('id', sa.Integer), sa.column('state', sa.String), sa.column('kind', sa.String),
    sa.column('discussion_id', sa.Integer), sa.column('reason', sa.Text),
    sa.column('next_at', storage.types.UTCDateTime(timezone=True)),
    sa.column('due_at', storage.types.UTCDateTime(timezone=True)),
    sa.column('updated_at', storage.types.UTCDateTime(timezone=True)),
    sa.column('ended_at', storage.types.UTCDateTime(timezone=True)), sa.column('ended_by', sa.String),
)


def _closed_reason(monitoring: str | None) -> str | None:
    """The old close appended "Closed: <reason>" to the monitoring text; the last one is the reason."""
    lines = [line for line in (monitoring or '').split('\n') if line.startswith('Closed: ')]
    return lines[-1][len('Closed: '):] if lines else None


def _carry_data_over() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(
        discussion.c.id, discussion.c.case_ref, discussion.c.previous_id, discussion.c.state,
        discussion.c.convened_at, discussion.c.updated_at, discussion.c.monitoring,
    ).order_by(discussion.c.id)).all()
    started = {
        d_id: at for d_id, at in conn.execute(
            sa.select(audit.c.discussion_id, sa.func.min(audit.c.at))
            .where(audit.c.action == 'discussion.started').group_by(audit.c.discussion_id)
        ).all()
    }

    # Chains: a discussion joins its previous one's chain; a chain is open if any of it is open.
    chain_of: dict[int, int] = {}
    for row in rows:
        chain_of[row.id] = chain_of.get(row.previous_id, row.id) if row.previous_id else row.id
    chains: dict[int, list] = defaultdict(list)
    for row in rows:
        chains[chain_of[row.id]].append(row)

    series_for_chain: dict[int, int] = {}
    open_series_of_case: dict[str, int] = {}
    for head, members in chains.items():
        is_open = any(m.state not in CLOSED for m in members)
        case_ref = members[0].case_ref
        if is_open and case_ref in open_series_of_case:
            series_for_chain[head] = open_series_of_case[case_ref]
            continue
        closed_at = None if is_open else max(m.updated_at for m in members)
        series_id = conn.execute(series.insert().values(
            council='', case_ref=case_ref, opened_at=members[0].convened_at, closed_at=closed_at,
            icpc_not_required=False,
        ).returning(series.c.id)).scalar_one()
        series_for_chain[head] = series_id
        if is_open:
            open_series_of_case[case_ref] = series_id

    for row in rows:
        closed = row.state in CLOSED
        conn.execute(discussion.update().where(discussion.c.id == row.id).values(
            series_id=series_for_chain[chain_of[row.id]],
            state=STATES.get(row.state, row.state),
            started_at=started.get(row.id),
            closed_at=row.updated_at if closed else None,
            closed_reason=_closed_reason(row.monitoring) if closed else None,
        ))

    for at, actor, detail in conn.execute(
        sa.select(audit.c.at, audit.c.actor, audit.c.detail).where(audit.c.action == 'action.done')
        .order_by(audit.c.id)
    ).all():
        action_id = (detail or {}).get('action_id')
        person = actor.removeprefix('person:')
        if isinstance(action_id, int):
            conn.execute(action.update().where(action.c.id == action_id).values(
                done_at=at, done_by_id=int(person) if person.isdigit() else None,
            ))

    closed = {row.id: (row.updated_at, _closed_reason(row.monitoring)) for row in rows if row.state in CLOSED}
    items = conn.execute(sa.select(
        dueitem.c.id, dueitem.c.kind, dueitem.c.discussion_id, dueitem.c.state, dueitem.c.due_at,
        dueitem.c.updated_at, dueitem.c.reason,
    )).all()
    for item in items:
        values: dict[str, object] = {}
        if item.state == 'done' and item.kind in ACT_CHANGED:
            # Done meant planned (a conference) or convened (the next discussion); the new acts are
            # holding them. Open again, the new code ends them when that has happened.
            values = {'state': 'open', 'next_at': item.due_at}
        elif item.state == 'done':
            late = _utc(item.updated_at) > _utc(item.due_at)
            values = {'state': 'late' if late else 'met', 'ended_at': item.updated_at, 'ended_by': BEFORE}
        elif item.state == 'cancelled':
            values = {'state': 'withdrawn', 'ended_at': item.updated_at, 'ended_by': BEFORE}
        open_now = values.get('state', item.state) == 'open'
        if open_now and item.discussion_id in closed and item.kind != 'acknowledgement':
            # Closed before this release, which left them open: closed now, with the close's reason.
            at, reason = closed[item.discussion_id]
            chase = item.kind in ('invitation', 'quorum')
            values = {
                'state': 'missed' if chase else 'closed', 'ended_at': at, 'next_at': None,
                'ended_by': 'the discussion was closed', 'reason': item.reason or (None if chase else reason),
            }
        if values:
            conn.execute(dueitem.update().where(dueitem.c.id == item.id).values(**values))


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def downgrade() -> None:
    with op.batch_alter_table('discussion', schema=None) as batch_op:
        batch_op.drop_constraint('fk_discussion_series_id_series', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_discussion_series_id'))
    op.execute("UPDATE dueitem SET state = 'done' WHERE state IN ('met', 'late')")
    op.execute("UPDATE dueitem SET state = 'cancelled' WHERE state IN ('withdrawn', 'missed', 'closed')")
    for new, old in (('in_progress', 'in_discussion'), ('signed_off', 'circulated'),
                     ('closed_with_reason', 'closed')):
        op.execute(f"UPDATE discussion SET state = '{old}' WHERE state = '{new}'")
    for flag in FLAGS:
        op.execute(f'UPDATE discussion SET {flag} = false WHERE {flag} IS NULL')
    with op.batch_alter_table('dueitem', schema=None) as batch_op:
        batch_op.drop_column('ended_by')
        batch_op.drop_column('ended_at')
        batch_op.alter_column('reason', new_column_name='missed_reason', existing_type=sa.Text(), existing_nullable=True)
    with op.batch_alter_table('action', schema=None) as batch_op:
        batch_op.drop_constraint('fk_action_done_by_id_person', type_='foreignkey')
        batch_op.drop_column('done_by_id')
        batch_op.drop_column('done_at')
    with op.batch_alter_table('decision', schema=None) as batch_op:
        batch_op.drop_constraint('fk_decision_override_reviewed_by_id_person', type_='foreignkey')
        for column in ('override_reviewed_at', 'override_reviewed_by_id', 'override_reason', 'override_unmet'):
            batch_op.drop_column(column)
    for table in ('participant', 'contribution', 'decision', 'plan'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('version')
    with op.batch_alter_table('discussion', schema=None) as batch_op:
        for flag in FLAGS:
            batch_op.alter_column(flag, existing_type=sa.Boolean(), nullable=False)
        for column in ('closed_reason', 'closed_at', 'started_at', 'out_of_hours_reason', 'series_id'):
            batch_op.drop_column(column)
    op.drop_table('outcometold')
    op.drop_table('series')
