"""Claiming rows for one scheduler process at a time: due items whose time has come, and outbox rows.

A claim is a lease: `claimed_by` names the process and `claim_expires_at` says until when. A process
that dies leaves its rows claimable again once the lease has run out. On SQLite every write
transaction holds the database's one write lock (see storage.db), so a conditional UPDATE is enough;
on PostgreSQL the candidates are picked with `FOR UPDATE SKIP LOCKED`, so two processes claiming at
once take different rows instead of waiting for each other.

Leases are measured on the real clock (`real_now`), never on the business clock that decides what is
due: a lease says whether a process is still alive, and the playground's clock control jumping a day
ahead must not make every live process's claims look expired.

The queries compare `state`/`status` with a literal, not a bound parameter: only then can SQLite and
PostgreSQL (with a generic plan for a prepared statement) prove that the partial indexes
`ix_due_item_open_next_at` and `ix_outbox_pending_*` cover the query. So the cost of a sweep follows
the number of rows that are due, not the number stored.
"""

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnClause, ColumnElement, Row, Select, exists, literal_column, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from storage.models import DueItem, Outbox

OPEN: ColumnClause[str] = literal_column("'open'")
PENDING: ColumnClause[str] = literal_column("'pending'")
_NO_SYNC = {"synchronize_session": False}


def _unclaimed(table: type[DueItem] | type[Outbox], real_now: datetime) -> ColumnElement[bool]:
    return or_(col(table.claimed_by).is_(None), col(table.claim_expires_at) < real_now)


def due_candidates(*, now: datetime, real_now: datetime, limit: int, dialect: str) -> Select[int | None]:
    """Open items whose next moment has come, earliest first, not held by a live process."""
    query = (
        select(col(DueItem.id))
        .where(col(DueItem.state) == OPEN, col(DueItem.next_at) <= now, _unclaimed(DueItem, real_now))
        .order_by(col(DueItem.next_at))
        .limit(limit)
    )
    return query.with_for_update(skip_locked=True) if dialect == "postgresql" else query


async def claim_due_items(
    session: AsyncSession,
    *,
    worker: str,
    now: datetime,
    real_now: datetime,
    lease_until: datetime,
    limit: int,
) -> list[int]:
    """Claim up to `limit` due items for `worker`; returns their ids, earliest first."""
    candidates = due_candidates(
        now=now, real_now=real_now, limit=limit, dialect=session.get_bind().dialect.name
    )
    stmt = (
        update(DueItem)
        # The condition is repeated outside the subquery: on PostgreSQL a row another process claimed
        # between our read and our write is re-checked against it, and dropped.
        .where(col(DueItem.id).in_(candidates), _unclaimed(DueItem, real_now))
        .values(claimed_by=worker, claim_expires_at=lease_until)
        .returning(col(DueItem.id), col(DueItem.next_at))
        .execution_options(**_NO_SYNC)
    )
    rows = (await session.execute(stmt)).all()
    return [row.id for row in sorted(rows, key=lambda r: (r.next_at, r.id))]


async def claimed_due_items(session: AsyncSession, ids: list[int], *, worker: str) -> list[DueItem]:
    """The items among `ids` that `worker` still holds and that are still open, locked for update."""
    query = (
        select(DueItem)
        .where(col(DueItem.id).in_(ids), col(DueItem.claimed_by) == worker, col(DueItem.state) == OPEN)
        .order_by(col(DueItem.next_at), col(DueItem.id))
        .with_for_update()
    )
    return list((await session.execute(query)).scalars())


async def release_due_items(session: AsyncSession, ids: list[int], *, worker: str) -> None:
    stmt = (
        update(DueItem)
        .where(col(DueItem.id).in_(ids), col(DueItem.claimed_by) == worker)
        .values(claimed_by=None, claim_expires_at=None)
        .execution_options(**_NO_SYNC)
    )
    await session.execute(stmt)


def outbox_heads(
    *, real_now: datetime, limit: int, dialect: str, recipients: Collection[str] | None = None
) -> Select[int | None]:
    """Pending rows that are first in line for their recipient and may be tried now (of `recipients`
    only, when given)."""
    earlier = aliased(Outbox)
    waiting_before = exists().where(
        col(earlier.status) == PENDING,
        col(earlier.recipient_key) == col(Outbox.recipient_key),
        col(earlier.id) < col(Outbox.id),
    )
    query = (
        select(col(Outbox.id))
        .where(
            col(Outbox.status) == PENDING,
            col(Outbox.next_attempt_at) <= real_now,
            _unclaimed(Outbox, real_now),
            ~waiting_before,
        )
        .order_by(col(Outbox.next_attempt_at), col(Outbox.id))
        .limit(limit)
    )
    if recipients is not None:
        query = query.where(col(Outbox.recipient_key).in_(list(recipients)))
    return query.with_for_update(of=Outbox, skip_locked=True) if dialect == "postgresql" else query


# What a sender needs of a claimed outbox row, returned by the claiming statement itself.
CLAIMED_OUTBOX = (
    col(Outbox.id),
    col(Outbox.recipient_key),
    col(Outbox.card),
    col(Outbox.attempts),
    col(Outbox.claim_expires_at),
    col(Outbox.due_item_id),
    col(Outbox.origin),
    col(Outbox.kind),
    col(Outbox.card_key),
)
type _Json = dict[str, Any]
type ClaimedOutbox = Row[
    int | None, str, _Json, int, datetime | None, int | None, _Json | None, str, str | None
]


async def claim_outbox_heads(
    session: AsyncSession,
    *,
    worker: str,
    real_now: datetime,
    lease_until: datetime,
    limit: int,
    recipients: Collection[str] | None = None,
) -> list[ClaimedOutbox]:
    """Claim the first waiting message of up to `limit` recipients (one "lane" per recipient)."""
    dialect = session.get_bind().dialect.name
    heads = outbox_heads(real_now=real_now, limit=limit, dialect=dialect, recipients=recipients)
    stmt = (
        update(Outbox)
        .where(col(Outbox.id).in_(heads), _unclaimed(Outbox, real_now))
        .values(claimed_by=worker, claim_expires_at=lease_until)
        .returning(*CLAIMED_OUTBOX)
        .execution_options(**_NO_SYNC)
    )
    return sorted((await session.execute(stmt)).all(), key=lambda row: row.id)


async def claim_next_in_lane(
    session: AsyncSession, recipient_key: str, *, worker: str, real_now: datetime, lease_until: datetime
) -> ClaimedOutbox | None:
    """Claim the recipient's next waiting message, if it may be tried now and nobody holds it.

    Called in the same transaction that marks the previous one sent, so no other process can see the
    lane free in between: it would either still see the earlier message waiting, or see this one taken.
    """
    first_waiting = (
        select(col(Outbox.id))
        .where(col(Outbox.status) == PENDING, col(Outbox.recipient_key) == recipient_key)
        .order_by(col(Outbox.id))
        .limit(1)
        .scalar_subquery()
    )
    stmt = (
        update(Outbox)
        .where(
            col(Outbox.id) == first_waiting,
            col(Outbox.next_attempt_at) <= real_now,
            _unclaimed(Outbox, real_now),
        )
        .values(claimed_by=worker, claim_expires_at=lease_until)
        .returning(*CLAIMED_OUTBOX)
        .execution_options(**_NO_SYNC)
    )
    return (await session.execute(stmt)).first()
