"""Where the bot can write on each platform, and which inbound events it has already handled."""

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import ConversationRef, InboundEvent
from storage.types import utcnow


async def save_ref(
    session: AsyncSession,
    *,
    platform: str,
    kind: str,
    key: str,
    reference: dict[str, Any] | None = None,
    discussion_id: int | None = None,
    person_id: int | None = None,
) -> ConversationRef:
    """Insert or update the reference stored under (platform, kind, key)."""
    ref = await find_by_key(session, platform=platform, kind=kind, key=key)
    if ref is None:
        ref = ConversationRef(platform=platform, kind=kind, key=key)
        session.add(ref)
    ref.reference = reference or ref.reference or {}
    ref.discussion_id = discussion_id if discussion_id is not None else ref.discussion_id
    ref.person_id = person_id if person_id is not None else ref.person_id
    ref.updated_at = utcnow()
    await session.flush()
    return ref


async def find_by_key(session: AsyncSession, *, platform: str, kind: str, key: str) -> ConversationRef | None:
    query = select(ConversationRef).where(
        col(ConversationRef.platform) == platform,
        col(ConversationRef.kind) == kind,
        col(ConversationRef.key) == key,
    )
    return (await session.execute(query)).scalars().first()


async def find_ref(
    session: AsyncSession,
    *,
    platform: str,
    kind: str,
    discussion_id: int | None = None,
    person_id: int | None = None,
) -> ConversationRef | None:
    """The newest reference of this kind for a discussion or a person."""
    query = select(ConversationRef).where(
        col(ConversationRef.platform) == platform, col(ConversationRef.kind) == kind
    )
    if discussion_id is not None:
        query = query.where(col(ConversationRef.discussion_id) == discussion_id)
    if person_id is not None:
        query = query.where(col(ConversationRef.person_id) == person_id)
    query = query.order_by(col(ConversationRef.updated_at).desc())
    return (await session.execute(query)).scalars().first()


async def forget_events_before(session: AsyncSession, when: datetime) -> None:
    await session.execute(delete(InboundEvent).where(col(InboundEvent.received_at) < when))


async def first_delivery(session: AsyncSession, platform: str, event_id: str) -> bool:
    """True the first time (platform, event_id) is seen; False for a retry or duplicate.

    Call it in the same transaction as the change the event causes, so a failure leaves the id
    unrecorded and the retry is handled.
    """
    if await session.get(InboundEvent, (platform, event_id)) is not None:
        return False
    try:
        async with session.begin_nested():
            session.add(InboundEvent(platform=platform, event_id=event_id))
    except IntegrityError:  # another process recorded it between our read and insert
        return False
    return True
