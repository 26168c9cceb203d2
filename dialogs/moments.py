"""When to remind about a due item: its moments in the council's time zone, and what a sweep sends.

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
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dialogs.lifecycle import DEADLINE, DueKind
from dialogs.procedure import Reminders
from storage.models import DueItem

# The moments of an item, in the order they are handled when two fall at the same time.
REMINDED, DUE_DAY, OVERDUE, ESCALATED = "reminded", "due_day", "overdue", "escalated"
_EVENT_ORDER = (REMINDED, DUE_DAY, OVERDUE, ESCALATED)
_REMINDERS = (REMINDED, DUE_DAY)


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
    escalates = DEADLINE[DueKind(item.kind)].escalate is not None
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
