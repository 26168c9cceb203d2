"""The inbox: what a platform sent, written before the platform is answered, processed from here.

A row is stored inside the request (one INSERT); only then does the platform get its 2xx. The row
starts claimed by the process that stored it, for a short lease, so that process's workers can take
it at once while another process's sweep leaves it alone. A row whose work failed waits (its lease
becomes a "not before") and is tried again; one that is still pending when its lease runs out (the
process died, or its queue was full) is claimed by a sweep. A row that can never be processed is
marked failed, and the person is told (by the surface that stored it).

Leases and "not before" are on the real clock, as in storage.claims. `last_error` holds an exception's
type only: database errors quote the values they were given, and those can be case details. The
payload holds case text too, so it is emptied once the row is done.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnClause,
    ColumnElement,
    CursorResult,
    delete,
    func,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col

from storage.models import InboxItem
from storage.types import utcnow

PENDING, DONE, FAILED = "pending", "done", "failed"
_PENDING: ColumnClause[str] = literal_column(
    "'pending'"
)  # a literal, so the partial index covers the sweep's query
_NO_SYNC = {"synchronize_session": False}


@dataclass(frozen=True)
class Stored:
    id: int
    new: bool  # False: the platform sent it before (a retry); it is not processed a second time
    status: str


async def store(
    session: AsyncSession | AsyncConnection,
    *,
    platform: str,
    event_key: str,
    kind: str,
    payload: dict[str, Any],
    worker: str,
    lease_until: datetime,
) -> Stored:
    """Insert the row, claimed by `worker` until `lease_until`; for a key already stored, the
    existing row with new=False. A bare connection will do (it is quicker: this runs before the
    platform gets its answer)."""
    dialect = (session.dialect if isinstance(session, AsyncConnection) else session.get_bind().dialect).name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(InboxItem)
        .values(
            platform=platform,
            event_key=event_key[:200],
            kind=kind[:40],
            payload=payload,
            status=PENDING,
            attempts=0,
            received_at=utcnow(),
            claimed_by=worker[:80],
            claimed_until=lease_until,
        )
        .on_conflict_do_nothing(index_elements=["platform", "event_key"])
        .returning(col(InboxItem.id))
    )
    new_id = (await session.execute(stmt)).scalar()
    if new_id is not None:
        return Stored(new_id, True, PENDING)
    existing = (
        await session.execute(
            select(col(InboxItem.id), col(InboxItem.status)).where(
                col(InboxItem.platform) == platform, col(InboxItem.event_key) == event_key[:200]
            )
        )
    ).one()
    return Stored(existing.id, False, existing.status)


def _claimable(worker: str | None, real_now: datetime) -> ColumnElement[bool]:
    free = or_(col(InboxItem.claimed_until).is_(None), col(InboxItem.claimed_until) < real_now)
    return or_(free, col(InboxItem.claimed_by) == worker) if worker else free


async def take(
    session: AsyncSession, item_id: int, *, worker: str, real_now: datetime, lease_until: datetime
) -> InboxItem | None:
    """Start (or go on) working on one row: it is ours if we hold it, or if no live lease holds it.
    None when it is done, failed, or another process holds it."""
    stmt = (
        update(InboxItem)
        .where(
            col(InboxItem.id) == item_id,
            col(InboxItem.status) == _PENDING,
            or_(
                col(InboxItem.claimed_by) == worker,
                col(InboxItem.claimed_until).is_(None),
                col(InboxItem.claimed_until) < real_now,
            ),
        )
        .values(claimed_by=worker[:80], claimed_until=lease_until)
        .returning(col(InboxItem.id))
        .execution_options(**_NO_SYNC)
    )
    if (await session.execute(stmt)).scalar() is None:
        return None
    item = await session.get(InboxItem, item_id, populate_existing=True)
    return item


async def claim(
    session: AsyncSession,
    *,
    platform: str,
    worker: str,
    real_now: datetime,
    lease_until: datetime,
    limit: int,
) -> list[int]:
    """For the sweep: claim up to `limit` pending rows no live lease holds, oldest first. On
    PostgreSQL with SKIP LOCKED, so two processes sweeping at once take different rows."""
    candidates = (
        select(col(InboxItem.id))
        .where(
            col(InboxItem.status) == _PENDING,
            col(InboxItem.platform) == platform,
            _claimable(None, real_now),
        )
        .order_by(col(InboxItem.id))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    stmt = (
        update(InboxItem)
        .where(col(InboxItem.id).in_(candidates), _claimable(None, real_now))
        .values(claimed_by=worker[:80], claimed_until=lease_until)
        .returning(col(InboxItem.id))
        .execution_options(**_NO_SYNC)
    )
    return sorted(i for i in (await session.execute(stmt)).scalars() if i is not None)


async def _set(session: AsyncSession, item_id: int, **values: Any) -> int:
    stmt = update(InboxItem).where(col(InboxItem.id) == item_id).values(**values)
    result = cast(CursorResult[Any], await session.execute(stmt.execution_options(**_NO_SYNC)))
    return result.rowcount


async def mark_done(session: AsyncSession, item_id: int) -> None:
    """Processed (or nothing to do): the key stays, for retries; the payload, which holds case text, goes."""
    await _set(
        session,
        item_id,
        status=DONE,
        payload={},
        claimed_by=None,
        claimed_until=None,
        finished_at=utcnow(),
    )


async def mark_failed(session: AsyncSession, item_id: int, error: str) -> None:
    """Given up on: the surface tells the person. The payload is kept for an operator to look at."""
    await _set(
        session,
        item_id,
        status=FAILED,
        last_error=error[:100],
        claimed_by=None,
        claimed_until=None,
        finished_at=utcnow(),
    )


async def retry_later(session: AsyncSession, item_id: int, *, error: str, not_before: datetime) -> int:
    """Count a failed attempt and leave the row for a sweep after `not_before`; returns the attempts."""
    stmt = (
        update(InboxItem)
        .where(col(InboxItem.id) == item_id, col(InboxItem.status) == _PENDING)
        .values(
            attempts=col(InboxItem.attempts) + 1,
            last_error=error[:100],
            claimed_by=None,
            claimed_until=not_before,
        )
        .returning(col(InboxItem.attempts))
        .execution_options(**_NO_SYNC)
    )
    return (await session.execute(stmt)).scalar() or 0


async def release(session: AsyncSession, item_id: int, *, worker: str) -> None:
    """Let a sweep take the row now (this process's queue was full)."""
    stmt = (
        update(InboxItem)
        .where(col(InboxItem.id) == item_id, col(InboxItem.claimed_by) == worker[:80])
        .values(claimed_by=None, claimed_until=None)
        .execution_options(**_NO_SYNC)
    )
    await session.execute(stmt)


async def forget_done_before(session: AsyncSession, when: datetime) -> int:
    """Delete done rows finished before `when` (a platform retries for minutes, not days)."""
    stmt = delete(InboxItem).where(col(InboxItem.status) == DONE, col(InboxItem.finished_at) < when)
    result = cast(CursorResult[Any], await session.execute(stmt.execution_options(**_NO_SYNC)))
    return result.rowcount


async def counts(session: AsyncSession) -> dict[str, int]:
    """Rows per status, for logs and operators (counts only)."""
    rows = await session.execute(select(col(InboxItem.status), func.count()).group_by(col(InboxItem.status)))
    return {status: n for status, n in rows.all()}
