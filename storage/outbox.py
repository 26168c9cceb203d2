"""The outbox: cards written in the same transaction as the change that caused them, sent later.

Every card a turn sends is queued in the turn's transaction, and a reminder together with advancing
its due item, so a crash either does both or neither. The sender (bot.outbound) then sends each row
(storage.claims hands them out in order per recipient), retries what failed with back-off, and marks
rows sent. Rows carry the card as JSON (dialogs.cards_json).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Executable, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from storage.models import DueItem, Outbox
from storage.types import utcnow

_NO_SYNC = {"synchronize_session": False}
_PG_LOCK_KEY = 0x4F5554424F58  # "OUTBOX": any constant shared by every process
PENDING, SENT, FAILED = "pending", "sent", "failed"
DROPPED = "dropped"  # a reminder whose deadline ended before it could be sent: it is not sent
REPLACED = "replaced"  # a later card with the same key to the same recipient was queued: that one goes


@dataclass(frozen=True)
class Message:
    """A row to queue."""

    card: dict[str, Any]
    recipient_key: str  # person:12 | place:duty | discussion:7: messages to one key go in order
    dedupe_key: str | None = None  # a second row with the same key is not queued
    kind: str = "reminder"
    card_key: str | None = None  # the card's key (see `replace_if_superseded`)
    origin: dict[str, Any] | None = None  # where the person acted (Turn.origin)
    discussion_id: int | None = None
    due_item_id: int | None = None
    due_at: datetime | None = None
    late: bool = False


async def add(session: AsyncSession, messages: list[Message], *, ordered: bool = False) -> list[int]:
    """Queue messages in the given order; those whose dedupe_key is already queued are skipped.

    `ordered`: the caller already holds a lock that every writer to these recipients takes (a turn
    holds its discussion's row lock, and queues only to that discussion's lane), so the global lock
    below is not needed. Returns the ids queued, in order.
    """
    if not messages:
        return []
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    if dialect == "postgresql" and not ordered:
        # Writers take turns until they commit, so ids follow commit order: a message can never become
        # visible behind a later one to the same recipient that was already sent. (SQLite's single
        # writer gives the same for free.)
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    now = utcnow()
    rows = [
        {
            "kind": m.kind,
            "recipient_key": m.recipient_key,
            "dedupe_key": m.dedupe_key,
            "card": m.card,
            "card_key": m.card_key,
            "origin": m.origin,
            "discussion_id": m.discussion_id,
            "due_item_id": m.due_item_id,
            "due_at": m.due_at,
            "late": m.late,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for m in messages
    ]
    # Ids are handed out in the order of the VALUES list, which is the order of sending.
    queued: list[int] = []
    for start in range(0, len(rows), 500):  # well inside both databases' limits on parameters
        stmt = (
            insert(Outbox)
            .values(rows[start : start + 500])
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(col(Outbox.id))
        )
        queued += sorted(id for id in (await session.execute(stmt)).scalars() if id is not None)
    return queued


async def replace_if_superseded(
    session: AsyncSession,
    id: int,
    *,
    worker: str,
    recipient_key: str,
    card_key: str,
    origin: dict[str, Any] | None,
) -> bool:
    """Mark a claimed row (with these columns) REPLACED when a later pending row to the same recipient
    carries a card with the same key and the same origin: sending the later one alone has the same
    effect (a keyed card is updated in place), so a burst of redraws of one post becomes one update."""
    later = aliased(Outbox)
    newer = select(col(later.origin)).where(
        col(later.status) == PENDING,
        col(later.recipient_key) == recipient_key,
        col(later.card_key) == card_key,
        col(later.id) > id,
    )
    # Only by a card from the same place: a post not yet made is made where its origin says, so a
    # redraw from somewhere else (another channel, another surface) must not take its place.
    origins = (await session.execute(newer.limit(20))).scalars().all()
    if origin not in origins:
        return False
    return await _finish(session, id, worker, status=REPLACED)


async def get(session: AsyncSession, id: int) -> Outbox | None:
    return (await session.execute(select(Outbox).where(col(Outbox.id) == id))).scalars().first()


async def exists_key(session: AsyncSession, dedupe_key: str) -> bool:
    query = select(col(Outbox.id)).where(col(Outbox.dedupe_key) == dedupe_key)
    return (await session.execute(query)).first() is not None


async def latest(session: AsyncSession, kind: str) -> Outbox | None:
    query = select(Outbox).where(col(Outbox.kind) == kind).order_by(col(Outbox.id).desc()).limit(1)
    return (await session.execute(query)).scalars().first()


async def _rowcount(session: AsyncSession, stmt: Executable) -> int:
    """How many rows an INSERT or UPDATE without RETURNING touched. The session hands back a
    CursorResult for those, though its signature says Result (sqlalchemy#9185)."""
    return cast(CursorResult[Any], await session.execute(stmt)).rowcount


async def _finish(session: AsyncSession, id: int, worker: str, **values: Any) -> bool:
    stmt = (
        update(Outbox)
        .where(col(Outbox.id) == id, col(Outbox.claimed_by) == worker)
        .values(claimed_by=None, claim_expires_at=None, **values)
        .execution_options(**_NO_SYNC)
    )
    return await _rowcount(session, stmt) == 1


async def mark_sent(session: AsyncSession, id: int, *, worker: str, surface: str, at: datetime) -> bool:
    """False when the row is no longer ours (our lease ran out and another process took it)."""
    return await _finish(session, id, worker, status=SENT, surface=surface, sent_at=at, last_error=None)


async def retry_later(session: AsyncSession, id: int, *, worker: str, at: datetime, error: str) -> bool:
    return await _finish(
        session, id, worker, attempts=col(Outbox.attempts) + 1, next_attempt_at=at, last_error=error[:300]
    )


async def mark_failed(session: AsyncSession, id: int, *, worker: str, error: str) -> bool:
    return await _finish(
        session, id, worker, status=FAILED, attempts=col(Outbox.attempts) + 1, last_error=error[:300]
    )


async def drop_if_ended(session: AsyncSession, id: int, *, worker: str) -> bool:
    """Drop a claimed reminder whose deadline has ended since it was queued (its act was done while
    it waited, e.g. behind a platform's back-off): reminders stop the moment a deadline ends."""
    ended = select(col(DueItem.id)).where(col(DueItem.state) != "open")
    stmt = (
        update(Outbox)
        .where(col(Outbox.id) == id, col(Outbox.claimed_by) == worker, col(Outbox.due_item_id).in_(ended))
        .values(claimed_by=None, claim_expires_at=None, status=DROPPED, last_error="its deadline had ended")
        .execution_options(**_NO_SYNC)
    )
    return await _rowcount(session, stmt) == 1


async def release(session: AsyncSession, id: int, *, worker: str) -> bool:
    return await _finish(session, id, worker)


async def counts(session: AsyncSession) -> dict[str, int]:
    """Rows by status, for operators and tests."""
    rows = await session.execute(select(col(Outbox.status), func.count()).group_by(col(Outbox.status)))
    return {status: n for status, n in rows.all()}
