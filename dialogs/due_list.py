"""What is due: the operators' `due` command, the chat `due` command and the App Home tab."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dialogs.clock import end_of_day
from dialogs.lifecycle import DEADLINE, DueState
from storage.models import Child, Discussion, DueItem

# Statutory deadlines that ended late or missed and still wait for the chair's reason.
_STATUTORY = [k.value for k, d in DEADLINE.items() if d.statutory]


class DueStatus(StrEnum):
    OVERDUE = "overdue"
    DUE_TODAY = "due today"
    REMINDER_DUE = "reminder due"
    UPCOMING = "upcoming"
    REASON_NEEDED = "reason needed"  # late or missed: the chair's reason is still to be given


@dataclass(frozen=True)
class DueRow:
    due_item_id: int
    discussion_id: int
    case_ref: str
    kind: str
    due_at: datetime
    recipient_id: int | None
    status: DueStatus


async def due_listing(
    session: AsyncSession, *, at: datetime, tz: str, person_id: int | None = None, limit: int | None = None
) -> list[DueRow]:
    """Open items that are overdue, due today, or have a reminder due at `at`.

    With `person_id`: every open item that person must act on or chairs, upcoming ones included, and
    the deadlines of discussions they chair that ended late or missed without a reason yet.
    """
    day_end = end_of_day(at.astimezone(ZoneInfo(tz)).date(), tz).astimezone(UTC)
    is_open = col(DueItem.state) == DueState.OPEN.value
    query = (
        # A child's own deadline under the child's case reference; the meeting's under the discussion's.
        select(
            DueItem, func.coalesce(col(Child.case_ref), col(Discussion.case_ref)), col(Discussion.chair_id)
        )
        .join(Discussion, col(Discussion.id) == col(DueItem.discussion_id))
        .outerjoin(Child, col(Child.id) == col(DueItem.child_id))
        .order_by(col(DueItem.due_at), col(DueItem.id))
    )
    if person_id is not None:
        reason_needed = and_(
            col(DueItem.state).in_([DueState.LATE.value, DueState.MISSED.value]),
            col(DueItem.reason).is_(None),
            col(DueItem.kind).in_(_STATUTORY),
            col(Discussion.chair_id) == person_id,
        )
        mine = or_(col(DueItem.recipient_id) == person_id, col(Discussion.chair_id) == person_id)
        query = query.where(or_(and_(is_open, mine), reason_needed))
    else:
        query = query.where(is_open, or_(col(DueItem.due_at) <= day_end, col(DueItem.next_at) <= at))
    if limit is not None:
        query = query.limit(limit)
    out = []
    for item, ref, chair_id in (await session.execute(query)).all():
        assert item.id is not None  # a stored row
        if item.state != DueState.OPEN:
            status = DueStatus.REASON_NEEDED
        elif item.due_at < at:
            status = DueStatus.OVERDUE
        elif item.due_at <= day_end:
            status = DueStatus.DUE_TODAY
        elif item.next_at is not None and item.next_at <= at:
            status = DueStatus.REMINDER_DUE
        else:
            status = DueStatus.UPCOMING
        recipient = item.recipient_id if item.recipient_id is not None else chair_id
        out.append(DueRow(item.id, item.discussion_id, ref, item.kind, item.due_at, recipient, status))
    return out
