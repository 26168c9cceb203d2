"""Reminder, escalation and handover cards, and the turns that answer them (snooze, missed reason).

What a reminder may say: the case reference, what is due and the deadline; never the child or the
case (PROCEDURE.md, "Information-governance rules"). The same goes for `card.preview`.

Where reminders go:
- To the person who has to act, by DIRECT message. A surface that cannot message that person
  directly leaves it to the scheduler, which posts the same card in the discussion's THREAD.
- A passed statutory deadline also asks the chair for the reason (form `due.missed_reason`).
- An escalation goes to the chair's team manager (Person.manager_id) or the CHANNEL place "duty", per
  `reminders.escalate_to`; to "duty" as well when the chair has no team manager. Chasing an
  unanswered invitation or acknowledgement escalates to the chair, who can follow it up.
- Out of hours (office hours and bank holidays from the procedure): reminders still go to the person
  (a direct message waits for them), and a copy goes to the CHANNEL place "out_of_hours" when the
  deadline is counted in hours (the meeting, invitations, the quorum) or the discussion is an
  out-of-hours one: those are the out-of-hours team's job. Deadlines counted in working days are not,
  and appear in the next morning's handover instead. An escalation to "duty" goes to "out_of_hours"
  while the duty place is closed.
- At the start of each working day one handover card goes to "duty": the discussions held out of
  hours since the last handover and what each decided, what falls due that day, and how many are
  overdue (case references only).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs import deadlines
from dialogs.cards_json import card_to_dict
from dialogs.clock import end_of_day, is_working_day, localize
from dialogs.deadlines import DUE_DAY, ESCALATED, KINDS, OVERDUE, REMINDED, Kind
from dialogs.model import Button, Card, Form, Input, InputKind, Option, Target, TargetKind, Turn, TurnKind
from dialogs.procedure import Procedure
from dialogs.views import STATE_LABELS
from storage import audit, claims, outbox
from storage.models import Decision, Discussion, DueItem, Person, RecordVersion
from storage.refs import first_delivery

DUTY, OUT_OF_HOURS = "duty", "out_of_hours"
REPEAT = "repeat"  # a snoozed reminder coming back
HANDOVER = "handover"


# --- time as people read it ----------------------------------------------------------------------


def when(at: datetime, tz: str) -> str:
    """'end of Mon 30 Mar 2026' for an end-of-day deadline, else 'Mon 30 Mar 2026, 14:05' (local)."""
    local = at.astimezone(ZoneInfo(tz))
    if local.time().replace(microsecond=0) == time(23, 59, 59):
        return f"end of {local:%a %-d %b %Y}"
    return f"{local:%a %-d %b %Y, %H:%M}"


def recipient_key(target: Target) -> str:
    """The unit of ordering in the outbox: messages to one key are sent in the order queued."""
    match target.kind:
        case TargetKind.DIRECT:
            return f"person:{target.person_id}"
        case TargetKind.CHANNEL:
            return f"place:{target.place}"
        case TargetKind.MAIN_POST:
            return f"post:{target.discussion_id}"
        case _:
            return f"thread:{target.discussion_id}"


def _lower(label: str) -> str:
    return label[0].lower() + label[1:]


# --- reminder cards ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What a reminder may use about its discussion and the people involved."""

    discussion: Discussion
    people: dict[int, Person]
    procedure: Procedure
    tz: str
    nation: str
    now: datetime

    @property
    def chair_id(self) -> int:
        return self.discussion.chair_id

    def name(self, person_id: int | None) -> str:
        person = self.people.get(person_id) if person_id is not None else None
        return person.display_name if person else "someone"


def _direct(d: Discussion, person_id: int) -> Target:
    return Target(TargetKind.DIRECT, discussion_id=d.id, person_id=person_id)


def _place(d: Discussion, place: str) -> Target:
    return Target(TargetKind.CHANNEL, discussion_id=d.id, place=place)


def _open_button(d: Discussion, primary: bool = True) -> Button:
    return Button("discussion.open", "Open the discussion", str(d.id), "primary" if primary else None)


def _do_buttons(item: DueItem, d: Discussion) -> tuple[Button, ...]:
    """The engine's own buttons that do what is due (dialogs/flows), for the person who must do it."""
    one = f"{d.id}:{item.subject}"
    match item.kind:
        case "meeting":
            return (Button("start", "Start the discussion", str(d.id), "primary"),)
        case "invitation":
            return (Button("accept", "Accept", one, "primary"), Button("decline", "Decline", one))
        case "quorum":
            return (Button("invite", "Invite people", str(d.id), "primary"),)
        case "record_circulation" | "outcome_notification":
            return (Button("review", "Review and sign off the record", str(d.id), "primary"),)
        case "icpc":
            return (Button("plan", "Record the conference date", str(d.id), "primary"),)
        case "further_discussion" | "reconvene" | "final_discussion":
            return (Button("reconvene", "Reconvene", str(d.id), "primary"),)
        case "action":
            return (Button("action_done", "Mark done", one, "primary"),)
        case "acknowledgement":
            return (Button("ack", "Acknowledge receipt", one, "primary"),)
    return ()


def _for_recipient(item: DueItem, d: Discussion, *more: Button) -> tuple[Button, ...]:
    do = _do_buttons(item, d)
    return (*do, *more, _open_button(d, primary=not do), _snooze_button(item))


def _snooze_button(item: DueItem) -> Button:
    return Button("due.snooze", "Snooze", f"{item.discussion_id}:{item.id}")


def _reason_button(item: DueItem) -> Button:
    return Button("due.missed_reason", "Give the reason", f"{item.discussion_id}:{item.id}", "primary")


def event_cards(
    item: DueItem, event: str, at: datetime, *, late: bool, ctx: Context
) -> list[tuple[str, Card]]:
    """The cards for one moment of `item` (due at `at`), as (audience, card) pairs."""
    d, kind = ctx.discussion, KINDS[item.kind]
    ref, deadline = d.case_ref, when(item.due_at, ctx.tz)
    recipient = item.recipient_id if item.recipient_id is not None else ctx.chair_id
    out: list[tuple[str, Card]] = []

    def card(target: Target, title: str, text: str, buttons: tuple[Button, ...], audience: str) -> None:
        if late:
            text += (
                f"\n_Sent late: this was due at {when(at, ctx.tz)}; the reminder service was not running._"
            )
        facts = (("Case", ref), ("Deadline", deadline))
        out.append(
            (
                audience,
                Card(
                    target=target,
                    title=title,
                    text=text,
                    facts=facts,
                    buttons=buttons,
                    key=f"due:{item.id}:{event}:{audience}:{at.astimezone(UTC):%Y%m%dT%H%M%S}",
                    preview=f"{ref}: {title} (deadline {deadline})",
                ),
            )
        )

    if event in (REMINDED, DUE_DAY, REPEAT):
        title = {REMINDED: "Reminder", DUE_DAY: "Due today", REPEAT: "Reminder again"}[event]
        card(
            _direct(d, recipient),
            f"{title}: {_lower(kind.label)}",
            f"Case {ref}: {_lower(kind.label)} by {deadline}.",
            _for_recipient(item, d),
            "recipient",
        )
    elif event == OVERDUE and not kind.statutory:
        title, text = _chase(item, ctx)
        card(_direct(d, recipient), title, text, _for_recipient(item, d), "recipient")
    elif event == OVERDUE:
        passed = f"Case {ref}: {_lower(kind.label)} was due by {deadline}."
        ask = "\nPlease record why the deadline was missed: the reason goes into the record."
        if recipient == ctx.chair_id:
            card(
                _direct(d, recipient),
                f"Deadline passed: {_lower(kind.label)}",
                passed + ask,
                (*_do_buttons(item, d), _reason_button(item), _open_button(d, primary=False)),
                "recipient",
            )
        else:
            card(
                _direct(d, recipient),
                f"Deadline passed: {_lower(kind.label)}",
                passed,
                (*_do_buttons(item, d), _open_button(d, primary=not _do_buttons(item, d))),
                "recipient",
            )
            card(
                _direct(d, ctx.chair_id),
                f"Deadline passed: {_lower(kind.label)}",
                passed + f" It was for {ctx.name(recipient)} to do." + ask,
                (_open_button(d), _reason_button(item)),
                "chair",
            )
    elif event == ESCALATED:
        card(*_escalation(item, kind, ctx), (_open_button(d),), "escalation")

    out_of_hours = ctx.procedure.out_of_hours_at(ctx.now, tz=ctx.tz, nation=ctx.nation)
    already = any(c.target.place == OUT_OF_HOURS for _, c in out)
    if out and out_of_hours and (kind.urgent or d.out_of_hours) and not already:
        first = out[0][1]
        card(
            _place(d, OUT_OF_HOURS),
            f"Out of hours: {first.title[0].lower()}{first.title[1:]}",
            first.text.split("\n_Sent late")[0]
            + "\nSent to the out-of-hours team as well because it falls outside office hours.",
            (_open_button(d),),
            "out_of_hours",
        )
    return out


def _chase(item: DueItem, ctx: Context) -> tuple[str, str]:
    ref = ctx.discussion.case_ref
    if item.kind == "invitation":
        return (
            "Please answer the invitation",
            f"Case {ref}: you are invited to a strategy discussion due to start at "
            f"{when(ctx.discussion.proposed_at, ctx.tz)}. Please say whether you can take part.",
        )
    if item.kind == "quorum":
        return (
            "Quorum not confirmed",
            f"Case {ref}: not every agency needed for the quorum has accepted yet, and the discussion is "
            f"due to start at {when(ctx.discussion.proposed_at, ctx.tz)}.",
        )
    return (
        "Please acknowledge the record",
        f"Case {ref}: please confirm you have received it (due by {when(item.due_at, ctx.tz)}).",
    )


def _escalation(item: DueItem, kind: Kind, ctx: Context) -> tuple[Target, str, str]:
    d, ref = ctx.discussion, ctx.discussion.case_ref
    if kind.escalate == "chair":
        what = "answered the invitation" if item.kind == "invitation" else "acknowledged the record"
        text = (
            f"Case {ref}: {ctx.name(item.recipient_id)} has not {what} (due by {when(item.due_at, ctx.tz)})."
        )
        return _direct(d, ctx.chair_id), f"Still outstanding: {_lower(kind.label)}", text
    text = (
        f"Case {ref}: {_lower(kind.label)} was due by {when(item.due_at, ctx.tz)} and is still outstanding. "
        f"The chair, {ctx.name(ctx.chair_id)}, has been reminded."
    )
    title = f"Escalation: {_lower(kind.label)}"
    chair = ctx.people.get(ctx.chair_id)
    manager = chair.manager_id if chair else None
    if ctx.procedure.reminders.escalate_to == "team_manager" and manager is not None:
        return _direct(d, manager), title, text
    out_of_hours = ctx.procedure.out_of_hours_at(ctx.now, tz=ctx.tz, nation=ctx.nation)
    return _place(d, OUT_OF_HOURS if out_of_hours else DUTY), title, text


# --- the sweep: claimed due items -> outbox ------------------------------------------------------


async def advance_due_items(
    session: AsyncSession,
    procedure: Procedure,
    ids: list[int],
    *,
    worker: str,
    now: datetime,
    tz: str,
    nation: str,
    late_after: timedelta,
) -> int:
    """Queue the messages of the claimed items `ids` and move each item to its next moment.

    Runs in one transaction: the messages are queued if and only if the items advance, so a process
    that dies half way leaves the items to be claimed again once its lease runs out, with nothing
    queued twice. Returns the number of messages queued.
    """
    await audit.lock(session)  # before any row lock, in the same order as the engine's turns
    items = await claims.claimed_due_items(session, ids, worker=worker)
    # Claimed rows that closed meanwhile (the engine marked them done) are simply let go.
    handled = {item.id for item in items}
    await claims.release_due_items(session, [i for i in ids if i not in handled], worker=worker)
    if not items:
        return 0
    discussions = await _by_id(session, Discussion, {i.discussion_id for i in items})
    person_ids = {d.chair_id for d in discussions.values()} | {
        i.recipient_id for i in items if i.recipient_id
    }
    people = await _by_id(session, Person, person_ids)
    messages: list[outbox.Message] = []
    # Missed statutory deadlines and escalations go into the audit trail: one entry per discussion and kind of
    # event in the batch (the trail serialises its writers, so an entry per item would be slow).
    missed: dict[tuple[int, str], list[dict]] = defaultdict(list)
    for item in items:
        d = discussions[item.discussion_id]
        ctx = Context(d, people, procedure, tz, nation, now)
        step = deadlines.step(item, now)
        moments = list(step.send) + ([(step.repeat_at, REPEAT)] if step.repeat_at else [])
        for at, event in moments:
            late = now - at > late_after
            for _audience, card in event_cards(item, event, at, late=late, ctx=ctx):
                messages.append(
                    outbox.Message(
                        card=card_to_dict(card),
                        recipient_key=recipient_key(card.target),
                        dedupe_key=card.key,
                        discussion_id=d.id,
                        due_item_id=item.id,
                        due_at=at,
                        late=late,
                    )
                )
            if event == ESCALATED or (event == OVERDUE and KINDS[item.kind].statutory):
                missed[(d.id, "due.missed" if event == OVERDUE else "due.escalated")].append(
                    {"due_item": item.id, "kind": item.kind, "due_at": item.due_at.isoformat(), "late": late}
                )
        item.stage, item.next_at, item.snoozed_until = step.stage, step.next_at, step.snoozed_until
        item.claimed_by, item.claim_expires_at, item.updated_at = None, None, now
    for (discussion_id, action), entries in missed.items():
        await audit.append(
            session,
            actor="system",
            channel="scheduler",
            action=action,
            discussion_id=discussion_id,
            detail={"items": entries},
        )
    await outbox.add(session, messages)
    await session.flush()
    return len(messages)


async def _by_id(session: AsyncSession, model, ids: set[int]) -> dict:
    if not ids:
        return {}
    rows = await session.execute(select(model).where(model.id.in_(ids)))
    return {row.id: row for row in rows.scalars()}


# --- the morning handover ------------------------------------------------------------------------

HANDOVER_LIST_LIMIT = 30


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
    return await outbox.add(session, [message]) == 1


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
            select(Discussion, Decision.outcome)
            .outerjoin(Decision, Decision.discussion_id == Discussion.id)
            .where(
                Discussion.out_of_hours.is_(True),
                Discussion.convened_at >= since,
                Discussion.convened_at < now,
            )
            .order_by(Discussion.convened_at)
        )
    ).all()
    due_today = (
        await session.execute(
            select(DueItem, Discussion.case_ref)
            .join(Discussion, Discussion.id == DueItem.discussion_id)
            .where(DueItem.state == "open", DueItem.due_at >= day_start, DueItem.due_at <= day_end)
            .order_by(DueItem.due_at, DueItem.id)
            .limit(HANDOVER_LIST_LIMIT + 1)
        )
    ).all()
    n_due_today = (
        await session.execute(
            select(func.count())
            .select_from(DueItem)
            .where(DueItem.state == "open", DueItem.due_at >= day_start, DueItem.due_at <= day_end)
        )
    ).scalar_one()
    overdue = (
        await session.execute(
            select(func.count())
            .select_from(DueItem)
            .where(DueItem.state == "open", DueItem.due_at < day_start)
        )
    ).scalar_one()

    lines = [f"*Held out of hours since {when(since, tz)}:*"]
    for d, outcome in held:
        lines.append(f"- {d.case_ref} (discussion {d.number}): {_what_happened(procedure, d, outcome)}")
    if not held:
        lines.append("- none")
    lines.append("*Due today:*")
    for item, ref in due_today[:HANDOVER_LIST_LIMIT]:
        lines.append(f"- {ref}: {_lower(KINDS[item.kind].label)}, by {when(item.due_at, tz)}")
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
        return STATE_LABELS.get(d.state, d.state)
    try:
        label = procedure.outcome(outcome).label
    except KeyError:
        label = outcome
    return f"decided: {label}"


# --- what is due (the operators' `due` command and the chat `due` command) ----------------------


@dataclass(frozen=True)
class DueRow:
    due_item_id: int
    discussion_id: int
    case_ref: str
    kind: str
    due_at: datetime
    recipient_id: int | None
    status: str  # overdue | due today | reminder due | upcoming


async def due_listing(
    session: AsyncSession, *, at: datetime, tz: str, person_id: int | None = None, limit: int | None = None
) -> list[DueRow]:
    """Open items that are overdue, due today, or have a reminder due at `at`.

    With `person_id`: every open item that person must act on or chairs, upcoming ones included.
    """
    day_end = end_of_day(at.astimezone(ZoneInfo(tz)).date(), tz).astimezone(UTC)
    query = (
        select(DueItem, Discussion.case_ref, Discussion.chair_id)
        .join(Discussion, Discussion.id == DueItem.discussion_id)
        .where(DueItem.state == "open")
        .order_by(DueItem.due_at, DueItem.id)
    )
    if person_id is not None:
        query = query.where(or_(DueItem.recipient_id == person_id, Discussion.chair_id == person_id))
    else:
        query = query.where(or_(DueItem.due_at <= day_end, DueItem.next_at <= at))
    if limit is not None:
        query = query.limit(limit)
    out = []
    for item, ref, chair_id in (await session.execute(query)).all():
        if item.due_at < at:
            status = "overdue"
        elif item.due_at <= day_end:
            status = "due today"
        elif item.next_at is not None and item.next_at <= at:
            status = "reminder due"
        else:
            status = "upcoming"
        recipient = item.recipient_id if item.recipient_id is not None else chair_id
        out.append(DueRow(item.id, item.discussion_id, ref, item.kind, item.due_at, recipient, status))
    return out


# --- turns: due.snooze, due.missed_reason, and the "due" command ---------------------------------

SNOOZE_FORM, REASON_FORM = "due.snooze", "due.missed_reason"
TOMORROW = "tomorrow"


def _notice(turn: Turn, title: str, text: str = "") -> Card:
    target = Target(TargetKind.EPHEMERAL, discussion_id=turn.discussion_id, person_id=turn.actor.person_id)
    return Card(target=target, title=title, text=text)


def snooze_form(
    procedure: Procedure, item: DueItem, *, ref: str, until: str = "", reason: str = "", errors=None
) -> Card:
    errors = errors or {}
    options = tuple(Option(str(m), _minutes(m)) for m in procedure.reminders.snooze_options)
    options += (Option(TOMORROW, f"Tomorrow {procedure.office_hours.start:%H:%M}"),)
    return Card(
        target=Target(TargetKind.EPHEMERAL, discussion_id=item.discussion_id),
        title=f"Snooze the reminder for case {ref}",
        text="The deadline itself does not move; you are reminded again at the time you choose.",
        form=Form(
            id=SNOOZE_FORM,
            title="Snooze reminder",
            inputs=(
                Input(
                    "until",
                    "Remind me again",
                    InputKind.CHOICE,
                    required=True,
                    options=options,
                    value=until or None,
                    error=errors.get("until"),
                ),
                Input(
                    "reason",
                    "Why snooze it?",
                    InputKind.LONG_TEXT,
                    required=True,
                    value=reason or None,
                    max_length=500,
                    error=errors.get("reason"),
                ),
            ),
            submit_label="Snooze",
            context=f"{item.discussion_id}:{item.id}",
            error="Please correct the fields marked." if errors else None,
        ),
    )


def _minutes(m: int) -> str:
    if m % 60 == 0:
        hours = m // 60
        return f"In {hours} hour{'s' if hours != 1 else ''}"
    return f"In {m} minutes"


def reason_form(item: DueItem, *, ref: str, tz: str, reason: str = "", error: str | None = None) -> Card:
    label = KINDS[item.kind].label
    return Card(
        target=Target(TargetKind.EPHEMERAL, discussion_id=item.discussion_id),
        title=f"Case {ref}: why was the deadline missed?",
        text=f"{label} was due by {when(item.due_at, tz)}. The reason goes into the record.",
        form=Form(
            id=REASON_FORM,
            title="Missed deadline",
            inputs=(
                Input(
                    "reason",
                    "Reason",
                    InputKind.LONG_TEXT,
                    required=True,
                    max_length=2000,
                    value=reason or item.missed_reason,
                    error=error,
                ),
            ),
            submit_label="Record the reason",
            context=f"{item.discussion_id}:{item.id}",
            error="Please give the reason." if error else None,
        ),
    )


@dataclass(frozen=True)
class _Env:
    procedure: Procedure
    tz: str
    nation: str
    now: datetime


def _item_id(value: str) -> int | None:
    """Button values and form contexts are "<discussion id>:<due item id>" (the engine's convention)."""
    tail = value.rpartition(":")[2]
    return int(tail) if tail.isdigit() else None


async def handle_due_turn(dialogs, turn: Turn) -> list[Card]:
    """Answer a turn whose name starts with "due." (or the "due" command).

    `dialogs` is either the engine's per-turn context (it has the open `session`, `now` and `dialogs`):
    then the answer joins the engine's transaction, which has already de-duplicated the event; or the
    engine itself (dialogs.engine.Dialogs: db, procedure, tz, nation, now()): then it runs in a
    transaction of its own. Only the item's recipient or the discussion's chair may act on it.
    """
    session = getattr(dialogs, "session", None)
    if session is not None:
        engine = dialogs.dialogs
        return await _answer(session, _Env(engine.procedure, engine.tz, engine.nation, dialogs.now), turn)
    env = _Env(dialogs.procedure, dialogs.tz, dialogs.nation, dialogs.now())
    async with dialogs.db.session() as session:
        # A namespace of our own, so the engine's own record of the same event id does not clash.
        if turn.event_id and not await first_delivery(session, f"{turn.channel}:due"[:20], turn.event_id):
            return []
        return await _answer(session, env, turn)


async def _answer(session: AsyncSession, env: _Env, turn: Turn) -> list[Card]:
    if turn.kind == TurnKind.COMMAND and turn.name == "due":
        return [await _my_due(session, env, turn)]
    item_id = _item_id(turn.value)
    # Locked: the scheduler may be advancing the same item right now.
    item = await session.get(DueItem, item_id, with_for_update=True) if item_id is not None else None
    discussion = await session.get(Discussion, item.discussion_id) if item is not None else None
    if item is None or discussion is None:
        return [_notice(turn, "That reminder no longer exists", "It may have been replaced by a newer one.")]
    if turn.actor.person_id not in (item.recipient_id, discussion.chair_id):
        return [
            _notice(
                turn,
                "This reminder is for someone else",
                "Only the person it was sent to, or the discussion's chair, can act on it.",
            )
        ]
    ref = discussion.case_ref
    if turn.name == SNOOZE_FORM and turn.kind == TurnKind.BUTTON:
        if item.state != "open":
            return [
                _notice(turn, f"Case {ref}: nothing to snooze", "This deadline has already been dealt with.")
            ]
        return [snooze_form(env.procedure, item, ref=ref)]
    if turn.name == SNOOZE_FORM and turn.kind == TurnKind.FORM:
        return [await _snooze(session, env, turn, item, ref)]
    if turn.name == REASON_FORM and turn.actor.person_id != discussion.chair_id:
        # PROCEDURE.md: where a timescale is not met, the chair records the reason.
        return [
            _notice(turn, f"Case {ref}: for the chair", "Only the chair records why a deadline was missed.")
        ]
    if turn.name == REASON_FORM and turn.kind == TurnKind.BUTTON:
        return [reason_form(item, ref=ref, tz=env.tz)]
    if turn.name == REASON_FORM and turn.kind == TurnKind.FORM:
        return [await _record_reason(session, env, turn, item, ref)]
    return [_notice(turn, "Sorry, I did not understand that", "Use the buttons on the reminder.")]


async def _snooze(session: AsyncSession, env: _Env, turn: Turn, item: DueItem, ref: str) -> Card:
    procedure, now = env.procedure, env.now
    until = str(turn.fields.get("until") or "").strip()
    reason = str(turn.fields.get("reason") or "").strip()
    allowed = {str(m) for m in procedure.reminders.snooze_options} | {TOMORROW}
    errors = {}
    if until not in allowed:
        errors["until"] = "Choose when to be reminded again."
    if not reason:
        errors["reason"] = "Please say why: snoozing is recorded in the audit trail."
    if errors:
        return snooze_form(procedure, item, ref=ref, until=until, reason=reason, errors=errors)
    if item.state != "open":
        return _notice(turn, f"Case {ref}: nothing to snooze", "This deadline has already been dealt with.")
    if until == TOMORROW:
        tomorrow = now.astimezone(ZoneInfo(env.tz)).date() + timedelta(days=1)
        naive = datetime.combine(tomorrow, procedure.office_hours.start)
        at = naive.replace(tzinfo=ZoneInfo(env.tz)).astimezone(UTC)
    else:
        at = now + timedelta(minutes=int(until))
    item.snoozed_until = at
    item.next_at = deadlines.next_moment(item)
    item.updated_at = now
    await audit.append(
        session,
        actor=f"person:{turn.actor.person_id}",
        channel=turn.channel,
        action="due.snoozed",
        discussion_id=item.discussion_id,
        detail={"due_item": item.id, "kind": item.kind, "until": at.isoformat(), "reason": reason},
    )
    return _notice(
        turn,
        f"Case {ref}: reminder snoozed",
        f"You will be reminded again at {when(at, env.tz)}. "
        f"The deadline is still {when(item.due_at, env.tz)}.",
    )


async def _record_reason(session: AsyncSession, env: _Env, turn: Turn, item: DueItem, ref: str) -> Card:
    reason = str(turn.fields.get("reason") or "").strip()
    if not reason:
        return reason_form(item, ref=ref, tz=env.tz, error="Please give the reason.")
    item.missed_reason = reason
    item.updated_at = env.now
    await audit.append(
        session,
        actor=f"person:{turn.actor.person_id}",
        channel=turn.channel,
        action="due.missed_reason",
        discussion_id=item.discussion_id,
        detail={"due_item": item.id, "kind": item.kind, "reason": reason},
    )
    await _add_to_signed_record(session, env, turn, item, reason)
    return _notice(turn, f"Case {ref}: reason recorded", "It is in the record of the discussion.")


async def _add_to_signed_record(
    session: AsyncSession, env: _Env, turn: Turn, item: DueItem, reason: str
) -> None:
    """A record already signed off gets a new version with the reason as an addendum, signed by the
    chair who gave it, so the circulated record is never silently different from the stored one."""
    latest = (
        (
            await session.execute(
                select(RecordVersion)
                .where(
                    RecordVersion.discussion_id == item.discussion_id,
                    RecordVersion.signed_off_at.is_not(None),
                )
                .order_by(RecordVersion.version.desc())
            )
        )
        .scalars()
        .first()
    )
    if latest is None:
        return  # not signed off yet: the record is assembled later and shows the reason itself
    what = _lower(KINDS[item.kind].label)
    addendum = f"\n\n*Addendum {when(env.now, env.tz)}: timescale not met*\n- {what}: {reason}"
    session.add(
        RecordVersion(
            discussion_id=item.discussion_id,
            version=latest.version + 1,
            body=latest.body + addendum,
            created_at=env.now,
            signed_off_by_id=turn.actor.person_id,
            signed_off_at=env.now,
        )
    )


async def _my_due(session: AsyncSession, env: _Env, turn: Turn) -> Card:
    rows = await due_listing(session, at=env.now, tz=env.tz, person_id=turn.actor.person_id, limit=21)
    lines = [
        f"- {r.case_ref}: {_lower(KINDS[r.kind].label)}, by {when(r.due_at, env.tz)}"
        + (" *(overdue)*" if r.status == "overdue" else "")
        for r in rows[:20]
    ]
    if len(rows) > 20:
        lines.append("- and more")
    return _notice(turn, "What is due", "\n".join(lines) if lines else "Nothing is due for you.")
