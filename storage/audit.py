"""The append-only audit trail: who did what, when, through which channel.

Each row's hash covers its content and the previous row's hash, so editing or deleting a row
breaks the chain at that row and `verify` names it. Database triggers (see the first migration)
refuse UPDATE and DELETE on the table as a first line; the chain catches what gets past them.
"""

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import AuditEvent
from storage.types import utcnow

GENESIS = "0" * 64
# Any constant works; it only has to be the same in every process that writes the trail.
_PG_LOCK_KEY = 0x5354524154  # "STRAT"


def _digest(row: AuditEvent) -> str:
    body = {
        "at": row.at.isoformat(),
        "actor": row.actor,
        "channel": row.channel,
        "action": row.action,
        "discussion_id": row.discussion_id,
        "detail": row.detail,
        "prev_hash": row.prev_hash,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def lock(session: AsyncSession) -> None:
    """Take the trail's write lock for this transaction (PostgreSQL; SQLite's BEGIN IMMEDIATE already
    serialises writers). Writers that also lock other rows take this first, so lock order is the same
    everywhere and two writers cannot deadlock."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})


async def append(
    session: AsyncSession,
    *,
    actor: str,
    channel: str,
    action: str,
    discussion_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an entry in the caller's transaction (so it commits or rolls back with the change)."""
    await lock(session)  # two writers must not chain onto the same head
    head = (
        await session.execute(select(col(AuditEvent.hash)).order_by(col(AuditEvent.id).desc()).limit(1))
    ).scalar()
    row = AuditEvent(
        at=utcnow(),
        actor=actor,
        channel=channel,
        action=action,
        discussion_id=discussion_id,
        detail=detail or {},
        prev_hash=head or GENESIS,
        hash="",  # the digest of the fields above, filled in next
    )
    row.hash = _digest(row)
    session.add(row)
    await session.flush()
    return row


@dataclass(frozen=True)
class Verification:
    checked: int
    broken_at: int | None = None  # id of the first row that does not fit the chain
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_at is None


async def verify(session: AsyncSession) -> Verification:
    prev_hash, checked = GENESIS, 0
    rows = await session.stream_scalars(select(AuditEvent).order_by(col(AuditEvent.id)))
    async for row in rows:
        if row.prev_hash != prev_hash:
            return Verification(
                checked, row.id, "does not follow the entry before it: an earlier entry was deleted or edited"
            )
        if _digest(row) != row.hash:
            return Verification(checked, row.id, "its content was changed after it was written")
        prev_hash, checked = row.hash, checked + 1
    return Verification(checked)
