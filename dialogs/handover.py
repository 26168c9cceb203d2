"""The morning handover to the day duty team: what happened out of hours and what is due today.

At the start of each working day one card goes to the "duty" place: the discussions held out of hours
since the last handover and what each decided, the deadlines that ended since then and how (met, late,
missed, closed with reason), what falls due that day, and how many are overdue. Case references only.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dialogs.cards_json import card_to_dict
from dialogs.clock import end_of_day, is_working_day, localize
from dialogs.clock import say_when as when
from dialogs.lifecycle import DEADLINE, DUE_STATE_LABELS, ENDED, STATE_LABELS, DueKind, DueState, State
from dialogs.model import Card, Target, TargetKind
from dialogs.procedure import Procedure
from dialogs.reminders import DUTY, recipient_key
from storage import outbox
from storage.models import Child, Decision, Discussion, DueItem

HANDOVER = "handover"

HANDOVER_LIST_LIMIT = 30
# A child's own deadline under the child's case reference; the meeting's under the discussion's.
REF = func.coalesce(col(Child.case_ref), col(Discussion.case_ref))


async def queue_handover(
    session: AsyncSession, procedure: Procedure, *, now: datetime, tz: str, nation: str, late_after: timedelta
) -> bool:
    """Queue the day's handover to "duty" once office hours have begun; True if it was queued now."""
    if procedure.out_of_hours_at(now, tz=tz, nation=nation):
        return False
    zone = ZoneInfo(tz)
    today = now.astimezone(zone).date()
    key = f"{HANDOVER}:{today.isoformat()}"
    if await outbox.exists_key(session, key):
        return False
    start = localize(datetime.combine(today, procedure.office_hours.start), tz).astimezone(UTC)
    last = await outbox.latest(session, HANDOVER)
    since = (
        last.due_at
        if last is not None and last.due_at is not None
        else _last_close(procedure, today, tz, nation)
    )
    card = await handover_card(session, procedure, since=since, now=now, tz=tz)
    message = outbox.Message(
        card=card_to_dict(card),
        recipient_key=recipient_key(card.target),
        dedupe_key=key,
        kind=HANDOVER,
        due_at=start,
        late=now - start > late_after,
    )
    return len(await outbox.add(session, [message])) == 1


def _last_close(procedure: Procedure, today: date, tz: str, nation: str) -> datetime:
    """The end of office hours on the working day before `today` (for the very first handover)."""
    day = today - timedelta(days=1)
    for _ in range(14):
        if is_working_day(day, nation):
            break
        day -= timedelta(days=1)
    return localize(datetime.combine(day, procedure.office_hours.end), tz).astimezone(UTC)


async def handover_card(
    session: AsyncSession, procedure: Procedure, *, since: datetime, now: datetime, tz: str
) -> Card:
    zone = ZoneInfo(tz)
    today = now.astimezone(zone).date()
    day_start = localize(datetime.combine(today, time(0, 0)), tz).astimezone(UTC)
    day_end = end_of_day(today, tz).astimezone(UTC)
    held = (
        await session.execute(
            select(Discussion, Child, col(Decision.outcome))
            .join(Child, col(Child.discussion_id) == col(Discussion.id))
            .outerjoin(Decision, col(Decision.child_id) == col(Child.id))
            .where(
                col(Child.removed_at).is_(None),
                col(Discussion.out_of_hours).is_(True),
                col(Discussion.convened_at) >= since,
                col(Discussion.convened_at) < now,
            )
            .order_by(col(Discussion.convened_at), col(Child.position))
        )
    ).all()
    is_open = col(DueItem.state) == DueState.OPEN.value
    due_on_the_day = (is_open, col(DueItem.due_at) >= day_start, col(DueItem.due_at) <= day_end)
    due_today = (
        await session.execute(
            select(DueItem, REF)
            .join(Discussion, col(Discussion.id) == col(DueItem.discussion_id))
            .outerjoin(Child, col(Child.id) == col(DueItem.child_id))
            .where(*due_on_the_day)
            .order_by(col(DueItem.due_at), col(DueItem.id))
            .limit(HANDOVER_LIST_LIMIT + 1)
        )
    ).all()
    count = select(func.count()).select_from(DueItem)
    n_due_today = (await session.execute(count.where(*due_on_the_day))).scalar_one()
    overdue = (await session.execute(count.where(is_open, col(DueItem.due_at) < day_start))).scalar_one()

    ended = (
        await session.execute(
            select(DueItem, REF)
            .join(Discussion, col(Discussion.id) == col(DueItem.discussion_id))
            .outerjoin(Child, col(Child.id) == col(DueItem.child_id))
            .where(
                col(DueItem.state).in_([s.value for s in ENDED if s != DueState.WITHDRAWN]),
                col(DueItem.updated_at) >= since,
            )
            .order_by(col(DueItem.updated_at), col(DueItem.id))
            .limit(HANDOVER_LIST_LIMIT + 1)
        )
    ).all()

    lines = [f"*Held out of hours since {when(since, tz)}:*"]
    for d, child, outcome in held:
        lines.append(
            f"- {child.case_ref} (discussion {child.number}): {_what_happened(procedure, d, outcome)}"
        )
    if not held:
        lines.append("- none")
    lines.append("*Deadlines ended since then:*")
    for item, ref in ended[:HANDOVER_LIST_LIMIT]:
        outcome = DUE_STATE_LABELS[DueState(item.state)]
        statutory = DEADLINE[DueKind(item.kind)].statutory
        if item.state in (DueState.LATE, DueState.MISSED) and statutory and not item.reason:
            outcome += ", the chair's reason still to give"
        lines.append(f"- {ref}: {procedure.deadline_label(item.kind, in_sentence=True)}: {outcome}")
    if len(ended) > HANDOVER_LIST_LIMIT:
        lines.append("- and more (`python -m bot due` lists what is open)")
    if not ended:
        lines.append("- none")
    lines.append("*Due today:*")
    for item, ref in due_today[:HANDOVER_LIST_LIMIT]:
        what = procedure.deadline_label(item.kind, in_sentence=True)
        lines.append(f"- {ref}: {what}, by {when(item.due_at, tz)}")
    if n_due_today > HANDOVER_LIST_LIMIT:
        lines.append(f"- and {n_due_today - HANDOVER_LIST_LIMIT} more (`python -m bot due` lists them all)")
    if not due_today:
        lines.append("- nothing")
    if overdue:
        lines.append(f"*Overdue:* {overdue} deadline{'s' if overdue != 1 else ''} still open.")
    return Card(
        target=Target(TargetKind.CHANNEL, place=DUTY),
        title=f"Out-of-hours handover, {today:%a %-d %b %Y}",
        text="\n".join(lines),
        facts=(
            ("Held out of hours", str(len(held))),
            ("Due today", str(n_due_today)),
            ("Overdue", str(overdue)),
        ),
        key=f"{HANDOVER}:{today.isoformat()}",
        preview=f"Out-of-hours handover: {len(held)} held, {n_due_today} due today",
    )


def _what_happened(procedure: Procedure, d: Discussion, outcome: str | None) -> str:
    if outcome is None:
        return STATE_LABELS[State(d.state)]
    try:
        label = procedure.outcome(outcome).label
    except KeyError:
        label = outcome
    return f"decided: {label}"
