"""Due items: the deadlines that follow from a discussion's state, and when to remind about each.

`refresh_due_items` runs in the engine's transaction after every change to a discussion. It works out
which deadlines the discussion has now (PROCEDURE.md, "Deadlines"), creates the missing ones, moves
those whose date changed, marks "done" those whose ending condition is met (the record circulated, the
conference date recorded...) and "cancelled" those that no longer apply.

Each open item has up to four moments, kept in the council's time zone so that they land at the right
local hour across the clock changes:
- remind_at: `lead_hours` before the deadline on the local clock (a deadline at 17:00 is reminded at
  17:00 the day before, even on the day the clocks change), if that is still ahead when it is set;
- morning_at: `morning_of_due_day` local time on the due day, if that comes before the deadline;
- due_at: the deadline itself: the recipient is told it has passed and, for a statutory timescale,
  the chair is asked for the reason (or, for an invitation or quorum check, the chase goes out);
- escalate_at: `escalate_after_hours` of real time after the deadline.
`next_at` is the earliest moment not yet handled (or the end of a snooze); the scheduler claims rows
whose next_at has come, and `step` says what to send and where the item goes next.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.clock import add_working_days, end_of_day
from dialogs.procedure import Procedure, Reminders
from dialogs.quorum import quorum_met
from storage.models import (
    Action,
    Circulation,
    Decision,
    Discussion,
    DueItem,
    Participant,
    Plan,
    RecordVersion,
)


@dataclass(frozen=True)
class Kind:
    label: str  # what has to happen, as a reminder names it (never anything about the child)
    statutory: bool  # a timescale from the procedure: when missed, the chair records the reason
    urgent: bool  # counted in hours: out of hours the out-of-hours team gets a copy
    escalate: str | None  # "manager" (per procedure.reminders.escalate_to), "chair", or None


KINDS: dict[str, Kind] = {
    "meeting": Kind("Strategy discussion to be held", True, True, "manager"),
    "invitation": Kind("Invitation to be answered", False, True, "chair"),
    "quorum": Kind("Attendance (quorum) to be confirmed", False, True, None),
    "record_circulation": Kind("Record to be circulated", True, False, "manager"),
    "outcome_notification": Kind(
        "Referrer and absent agencies to be told the outcome", True, False, "manager"
    ),
    "icpc": Kind("Initial child protection conference to be held", True, False, "manager"),
    "further_discussion": Kind("Further strategy discussion to be held", True, False, "manager"),
    "reconvene": Kind("Discussion to be reconvened after the Single Assessment", True, False, "manager"),
    "action": Kind("Agreed action to be completed", True, False, "manager"),
    "acknowledgement": Kind("Record to be acknowledged", False, False, "chair"),
    "final_discussion": Kind("Final strategy discussion to be held", True, False, "manager"),
}

# The moments of an item, in the order they are handled when two fall at the same time.
REMINDED, DUE_DAY, OVERDUE, ESCALATED = "reminded", "due_day", "overdue", "escalated"
_EVENT_ORDER = (REMINDED, DUE_DAY, OVERDUE, ESCALATED)
_REMINDERS = (REMINDED, DUE_DAY)


@dataclass(frozen=True)
class Want:
    """A deadline the discussion has now; `ended` when the condition that ends it is met."""

    kind: str
    subject: str
    due_at: datetime
    recipient_id: int | None
    ended: bool = False


async def refresh_due_items(
    session: AsyncSession,
    procedure: Procedure,
    discussion: Discussion,
    *,
    nation: str,
    tz: str,
    now: datetime,
) -> None:
    """Create, move or close the discussion's due items so they match its state.

    The discussions before it are refreshed too: a reconvened discussion ends the earlier one's
    "further discussion" and "reconvene" deadlines, and a final one ends the "final discussion" item.
    """
    seen: set[int] = set()
    current: Discussion | None = discussion
    while current is not None and current.id not in seen:
        seen.add(current.id)
        await _refresh_one(session, procedure, current, nation=nation, tz=tz, now=now)
        current = await session.get(Discussion, current.previous_id) if current.previous_id else None


async def _refresh_one(
    session: AsyncSession,
    procedure: Procedure,
    discussion: Discussion,
    *,
    nation: str,
    tz: str,
    now: datetime,
) -> None:
    wants = {
        (w.kind, w.subject): w for w in await wanted(session, procedure, discussion, nation=nation, tz=tz)
    }
    rows = await session.execute(select(DueItem).where(DueItem.discussion_id == discussion.id))
    existing = {(item.kind, item.subject): item for item in rows.scalars()}
    for key, want in wants.items():
        item = existing.get(key)
        if want.ended:
            if item is not None and item.state == "open":
                _close(item, "done", now)
            continue
        if item is None:
            item = DueItem(
                discussion_id=discussion.id, kind=want.kind, subject=want.subject, due_at=want.due_at
            )
            session.add(item)
            plan(item, want.due_at, procedure.reminders, tz=tz, now=now)
        elif item.state != "open" or item.due_at != want.due_at:
            item.state = "open"  # reopened (e.g. the quorum was lost again) or the deadline moved
            plan(item, want.due_at, procedure.reminders, tz=tz, now=now)
        if item.recipient_id != want.recipient_id:
            item.recipient_id = want.recipient_id
            item.updated_at = now
    for key, item in existing.items():
        if key not in wants and item.state == "open":
            _close(item, "cancelled", now)
    await session.flush()


def _close(item: DueItem, state: str, now: datetime) -> None:
    item.state = state
    item.next_at = None
    item.snoozed_until = None
    item.updated_at = now


async def wanted(
    session: AsyncSession, procedure: Procedure, d: Discussion, *, nation: str, tz: str
) -> list[Want]:
    """The deadlines discussion `d` has in its current state (PROCEDURE.md, "Deadlines")."""
    t, r = procedure.timescales, procedure.reminders
    chair = d.chair_id
    held = d.held_on is not None
    closed = d.state == "closed"
    participants = await _all(session, select(Participant).where(Participant.discussion_id == d.id))
    decision = await _first(session, select(Decision).where(Decision.discussion_id == d.id))
    the_plan = await _first(session, select(Plan).where(Plan.discussion_id == d.id))
    actions = await _all(session, select(Action).where(Action.discussion_id == d.id))
    circulations = await _all(
        session,
        select(Circulation)
        .join(RecordVersion, RecordVersion.id == Circulation.record_id)
        .where(RecordVersion.discussion_id == d.id),
    )
    successors = await _all(session, select(Discussion).where(Discussion.previous_id == d.id))
    s47 = decision is not None and _starts_s47(procedure, decision.outcome)
    icpc_on = the_plan.icpc_on if the_plan is not None else None
    circulated = d.state in ("circulated", "closed")

    def by_end_of(day: date) -> datetime:
        return end_of_day(day, tz).astimezone(UTC)

    def working_days_after(day: date, n: int) -> datetime:
        return by_end_of(add_working_days(day, n, nation))

    out: list[Want] = []
    # Before the meeting: it is held in time, invitations are answered, the quorum is there.
    # A discussion closed without being held (abandoned) drops these.
    if held or not closed:
        out.append(Want("meeting", "", d.meeting_due_at, chair, ended=held))
    for p in participants:
        if p.is_chair:
            continue
        answered = p.status != "invited"
        if answered or not (held or closed):
            due = p.invited_at + timedelta(minutes=r.invitation_unanswered_after_minutes)
            out.append(Want("invitation", str(p.id), due, p.person_id, ended=answered))
    if held or not closed:
        quorate = held or quorum_met(procedure, d, participants)
        due = d.proposed_at - timedelta(minutes=r.quorum_check_before_minutes)
        out.append(Want("quorum", "", due, chair, ended=quorate))
    # After it: the record and the outcome go out within their working days.
    if held:
        out.append(
            Want(
                "record_circulation",
                "",
                working_days_after(d.held_on, t.record_circulation_working_days),
                chair,
                ended=circulated,
            )
        )
        out.append(
            Want(
                "outcome_notification",
                "",
                working_days_after(d.held_on, t.outcome_notification_working_days),
                chair,
                ended=circulated,
            )
        )
    # S47 decided here: the conference and a further discussion; then the final discussion.
    if s47 and held:
        out.append(
            Want(
                "icpc",
                "",
                working_days_after(d.held_on, t.icpc_working_days),
                chair,
                ended=icpc_on is not None,
            )
        )
        if not d.is_final:
            due = working_days_after(d.held_on, t.further_discussion_working_days)
            out.append(Want("further_discussion", "", due, chair, ended=bool(successors)))
    if s47 and icpc_on is not None and not d.is_final:
        # The final discussion agrees the outcomes of the enquiry, which the conference acts on: so it
        # is due by the conference date.
        final_held = await _final_follows(session, d)
        out.append(Want("final_discussion", "", by_end_of(icpc_on), chair, ended=final_held))
    if decision is not None and decision.reconvene_on is not None:
        out.append(Want("reconvene", "", by_end_of(decision.reconvene_on), chair, ended=bool(successors)))
    # Each agreed action by its own date (they outlive the discussion's closing; cancelled ones drop).
    for a in actions:
        if a.status != "cancelled":
            out.append(Want("action", str(a.id), by_end_of(a.due_on), a.owner_id, ended=a.status == "done"))
    # Each circulated record or outcome is acknowledged within the time it had to be sent in.
    zone = ZoneInfo(tz)
    for c in circulations:
        n = (
            t.outcome_notification_working_days
            if c.kind == "outcome_notification"
            else t.record_circulation_working_days
        )
        due = working_days_after(c.sent_at.astimezone(zone).date(), n)
        out.append(Want("acknowledgement", str(c.id), due, c.person_id, ended=c.acknowledged_at is not None))
    return out


def _starts_s47(procedure: Procedure, outcome: str) -> bool:
    try:
        return procedure.outcome(outcome).starts_s47
    except KeyError:  # an outcome a later procedure version dropped: no S47 deadlines from it
        return False


async def _final_follows(session: AsyncSession, d: Discussion) -> bool:
    """Whether a final discussion exists among the discussions reconvened after `d`."""
    frontier = [d.id]
    for _ in range(50):  # chains are a handful long; the bound only guards against a cycle
        later = await _all(session, select(Discussion).where(Discussion.previous_id.in_(frontier)))
        if not later:
            return False
        if any(x.is_final for x in later):
            return True
        frontier = [x.id for x in later]
    return False


async def _all(session: AsyncSession, query) -> list:
    return list((await session.execute(query)).scalars())


async def _first(session: AsyncSession, query):
    return (await session.execute(query)).scalars().first()


# --- reminder times ------------------------------------------------------------------------------


def _wall(naive: datetime, zone: ZoneInfo) -> datetime:
    """A local wall-clock time as UTC. A time in the spring-forward gap reads as the hour after it."""
    return naive.replace(tzinfo=zone).astimezone(UTC)


def plan(item: DueItem, due_at: datetime, reminders: Reminders, *, tz: str, now: datetime) -> None:
    """(Re)start an item's reminders for deadline `due_at`, as seen at `now`."""
    zone = ZoneInfo(tz)
    local_due = due_at.astimezone(zone)
    remind = _wall(local_due.replace(tzinfo=None) - timedelta(hours=reminders.lead_hours), zone)
    morning = _wall(datetime.combine(local_due.date(), reminders.morning_of_due_day), zone)
    item.due_at = due_at
    item.remind_at = remind if remind > now else None
    item.morning_at = morning if now < morning < due_at and morning != remind else None
    escalates = KINDS[item.kind].escalate is not None
    item.escalate_at = due_at + timedelta(hours=reminders.escalate_after_hours) if escalates else None
    item.stage = "pending"
    item.snoozed_until = None
    item.next_at = min(t for t, _ in events(item))
    item.updated_at = now


def events(item: DueItem) -> list[tuple[datetime, str]]:
    """The item's moments in the order they happen: (time, stage reached once it is handled)."""
    moments = [(item.remind_at, REMINDED), (item.morning_at, DUE_DAY), (item.due_at, OVERDUE)]
    moments.append((item.escalate_at, ESCALATED))
    return sorted(
        ((t, s) for t, s in moments if t is not None), key=lambda m: (m[0], _EVENT_ORDER.index(m[1]))
    )


def _remaining(item: DueItem) -> list[tuple[datetime, str]]:
    moments = events(item)
    stages = [s for _, s in moments]
    done = stages.index(item.stage) + 1 if item.stage in stages else 0
    return moments[done:]


def next_moment(item: DueItem) -> datetime | None:
    """When the item next needs the scheduler: its next moment, or the end of its snooze."""
    candidates = [t for t, _ in _remaining(item)]
    if item.snoozed_until is not None:
        candidates.append(item.snoozed_until)
    return min(candidates, default=None)


@dataclass(frozen=True)
class Step:
    """What handling an item at `now` sends, and where the item goes next."""

    send: tuple[tuple[datetime, str], ...]  # (when it was due, stage) for each message to send now
    repeat_at: datetime | None  # a snoozed reminder comes back: it was due at this time
    stage: str
    next_at: datetime | None
    snoozed_until: datetime | None


def step(item: DueItem, now: datetime) -> Step:
    """Handle everything of `item` that is due at `now`.

    After a pause (the process was down) only the latest reminder is sent, not each one missed, but a
    passed deadline and an escalation are always sent. Reminders that fall inside a snooze are held
    back and one reminder comes back when the snooze ends; a deadline and its escalation are not
    snoozed.
    """
    remaining = _remaining(item)
    passed = [m for m in remaining if m[0] <= now]
    snoozing = item.snoozed_until is not None and item.snoozed_until > now
    send: list[tuple[datetime, str]] = []
    reminders = [m for m in passed if m[1] in _REMINDERS]
    if reminders and not snoozing and not any(s == OVERDUE for _, s in passed):
        send.append(reminders[-1])
    send += [m for m in passed if m[1] not in _REMINDERS]
    repeat_at = item.snoozed_until if item.snoozed_until is not None and not snoozing and not send else None
    stage = passed[-1][1] if passed else item.stage
    snoozed_until = item.snoozed_until if snoozing else None
    future = [t for t, _ in remaining if t > now]
    if snoozed_until is not None:
        future.append(snoozed_until)
    return Step(tuple(send), repeat_at, stage, min(future, default=None), snoozed_until)
