"""The turns that answer reminders: snooze (a new reminder time with a reason, never an end), the
chair's reason for a late or missed deadline, and the "due" command.

A reason given while a deadline is still open either explains a delay (the deadline stays open and,
when its act comes late, needs no second reason) or says it will not happen (it ends MISSED). A
reason given after the record was signed off joins it as a new, signed version.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlmodel import col

from dialogs.clock import say_when as when
from dialogs.deadline_wants import End
from dialogs.deadlines import end_item
from dialogs.due_list import DueStatus, due_listing
from dialogs.engine import Ctx
from dialogs.flows.registry import on
from dialogs.lifecycle import DEADLINE, Act, DueKind, DueState
from dialogs.model import Card, Form, Input, InputKind, Option, TurnKind
from dialogs.moments import next_moment
from dialogs.record_export import export_cards, seal
from dialogs.record_text import inert
from dialogs.validate import DialogError, Fields, refill
from storage.models import ActionChild, Child, DueItem, RecordVersion

SNOOZE, REASON = "due.snooze", "due.missed_reason"
TOMORROW = "tomorrow"
STILL, NOT = "still", "not"


async def _item(ctx: Ctx) -> DueItem:
    # Locked: the scheduler may be advancing the same item right now.
    item_id = int(ctx.subject) if ctx.subject.isdigit() else None
    item = await ctx.session.get(DueItem, item_id, with_for_update=True) if item_id is not None else None
    if item is None or item.discussion_id != ctx.did:
        raise DialogError("That reminder no longer exists. It may have been replaced by a newer one.")
    return item


def _label(ctx: Ctx, item: DueItem) -> str:
    return ctx.procedure.deadline_label(item.kind)


# --- snooze ------------------------------------------------------------------------------------------


def snooze_form(ctx: Ctx, item: DueItem) -> Form:
    p = ctx.procedure
    options = tuple(Option(str(m), _minutes(m)) for m in p.reminders.snooze_options)
    options += (Option(TOMORROW, f"Tomorrow {p.office_hours.start:%H:%M}"),)
    return Form(
        SNOOZE,
        f"Snooze: {ctx.d.case_ref}",
        (
            Input("until", "Remind me again", InputKind.CHOICE, required=True, options=options),
            Input("reason", "Why snooze it?", InputKind.LONG_TEXT, required=True, max_length=500),
        ),
        "Snooze",
        context=ctx.value(item.id),
    )


def _minutes(m: int) -> str:
    if m % 60 == 0:
        hours = m // 60
        return f"In {hours} hour{'s' if hours != 1 else ''}"
    return f"In {m} minutes"


async def _snoozable(ctx: Ctx) -> DueItem:
    item = await _item(ctx)
    if ctx.actor.person_id not in (item.recipient_id, ctx.d.chair_id):
        raise DialogError("This reminder is for someone else: only its recipient or the chair can snooze it.")
    if item.state != DueState.OPEN:
        raise DialogError(f"Case {ctx.d.case_ref}: nothing to snooze, this deadline has already ended.")
    return item


@on(TurnKind.BUTTON, SNOOZE, Act.SNOOZE)
async def ask_snooze(ctx: Ctx) -> list[Card]:
    item = await _snoozable(ctx)
    text = "The deadline itself does not move; you are reminded again at the time you choose."
    return [
        ctx.reply(text, title=f"Snooze the reminder for case {ctx.d.case_ref}", form=snooze_form(ctx, item))
    ]


@on(TurnKind.FORM, SNOOZE, Act.SNOOZE)
async def snooze(ctx: Ctx) -> list[Card]:
    item = await _snoozable(ctx)
    p, f = ctx.procedure, Fields(ctx.turn.fields)
    until = f.choice("until", {str(m) for m in p.reminders.snooze_options} | {TOMORROW}, required=True)
    reason = f.text("reason", required=True, max_length=500)
    if not f.ok or until is None:
        return [ctx.reply("", form=refill(snooze_form(ctx, item), ctx.turn.fields, f.errors))]
    if until == TOMORROW:
        naive = datetime.combine(ctx.today + timedelta(days=1), p.office_hours.start)
        at = naive.replace(tzinfo=ctx.dialogs.zone).astimezone(UTC)
    else:
        at = ctx.now + timedelta(minutes=int(until))
    item.snoozed_until = at
    item.next_at = next_moment(item)
    item.updated_at = ctx.now
    ctx.did_change = True
    await ctx.audit("due.snoozed", due_item=item.id, kind=item.kind, until=at.isoformat(), reason=reason)
    return [
        ctx.reply(
            f"You will be reminded again at {when(at, ctx.dialogs.tz)}. "
            f"The deadline is still {when(item.due_at, ctx.dialogs.tz)}.",
            title=f"Case {ctx.d.case_ref}: reminder snoozed",
        )
    ]


# --- the chair's reason --------------------------------------------------------------------------


def reason_form(ctx: Ctx, item: DueItem) -> Form:
    inputs = []
    if item.state == DueState.OPEN:
        inputs.append(
            Input(
                "will",
                "Will it still be done?",
                InputKind.CHOICE,
                required=True,
                options=(
                    Option(STILL, "Yes, late: this is why"),
                    Option(NOT, "No, it will not happen: this is why"),
                ),
            )
        )
    inputs.append(
        Input("reason", "Reason", InputKind.LONG_TEXT, required=True, max_length=2000, value=item.reason)
    )
    return Form(REASON, "Deadline not met", tuple(inputs), "Record the reason", context=ctx.value(item.id))


async def _reasonable(ctx: Ctx) -> DueItem:
    item = await _item(ctx)
    if not DEADLINE[DueKind(item.kind)].statutory:
        raise DialogError("That reminder needs no reason.")
    if item.state in (DueState.MET, DueState.CLOSED, DueState.WITHDRAWN):
        raise DialogError(
            f"Case {ctx.d.case_ref}: that deadline has ended ({item.ended_by}); no reason is needed."
        )
    return item


@on(TurnKind.BUTTON, REASON, Act.GIVE_REASON)
async def ask_reason(ctx: Ctx) -> list[Card]:
    item = await _reasonable(ctx)
    text = (
        f"{_label(ctx, item)}: due by {when(item.due_at, ctx.dialogs.tz)}. The reason goes into the record."
    )
    return [
        ctx.reply(
            text, title=f"Case {ctx.d.case_ref}: why was the deadline not met?", form=reason_form(ctx, item)
        )
    ]


@on(TurnKind.FORM, REASON, Act.GIVE_REASON)
async def give_reason(ctx: Ctx) -> list[Card]:
    item = await _reasonable(ctx)
    f = Fields(ctx.turn.fields)
    will = f.choice("will", {STILL, NOT}, required=item.state == DueState.OPEN)
    reason = f.text("reason", required=True, max_length=2000)
    if not f.ok or reason is None:
        return [ctx.reply("", form=refill(reason_form(ctx, item), ctx.turn.fields, f.errors))]
    item.reason, item.updated_at = reason, ctx.now
    if will == NOT:
        end_item(item, End(ctx.now, "the chair said it will not happen", DueState.MISSED, reason), ctx.now)
    await ctx.audit("due.reason", due_item=item.id, kind=item.kind, state=item.state, reason=reason)
    amended = await _add_to_signed_record(ctx, item, reason)
    cards = await ctx.changed() + export_cards(ctx.dialogs, amended)
    if will == STILL:
        return cards + [
            ctx.reply("Recorded. The deadline stays open until it is done; the reason is in the record.")
        ]
    return cards + [ctx.reply("Recorded: the reason is in the record.")]


async def _add_to_signed_record(ctx: Ctx, item: DueItem, reason: str) -> list[RecordVersion]:
    """A record already signed off gets a new version with the reason as an addendum, signed by the
    chair who gave it, so the circulated record is never silently different from the stored one: the
    record of the child whose deadline it is, of the children an action is for, or every child's for
    a deadline of the meeting."""
    query = (
        select(RecordVersion)
        .where(
            col(RecordVersion.discussion_id) == item.discussion_id,
            col(RecordVersion.signed_off_at).is_not(None),
        )
        .order_by(col(RecordVersion.version))
    )
    latest = {r.child_id: r for r in (await ctx.session.execute(query)).scalars()}
    whose: set[int] | None = {item.child_id} if item.child_id is not None else None
    if item.kind == DueKind.ACTION and item.subject.isdigit():  # only the records the action is on
        for_action = select(col(ActionChild.child_id)).where(col(ActionChild.action_id) == int(item.subject))
        whose = set((await ctx.session.execute(for_action)).scalars())
    what = ctx.procedure.deadline_label(item.kind, in_sentence=True)
    change = f"Addendum {when(ctx.now, ctx.dialogs.tz)}: timescale not met: {what}: {reason}"
    addendum = f"\n\n*Addendum {when(ctx.now, ctx.dialogs.tz)}: timescale not met*\n- {what}: {inert(reason)}"
    amended = []
    for child_id, record in latest.items():  # none yet: the record, assembled later, shows the reason
        if whose is not None and child_id not in whose:
            continue
        amended.append(
            RecordVersion(
                discussion_id=item.discussion_id,
                child_id=child_id,
                version=record.version + 1,
                body=record.body + addendum,
                created_at=ctx.now,
                signed_off_by_id=ctx.actor.person_id,
                signed_off_at=ctx.now,
            )
        )
    ctx.session.add_all(amended)
    if amended:
        await ctx.session.flush()  # their ids, for the export folder's cards
    for version in amended:
        child = await ctx.session.get(Child, version.child_id)
        assert child is not None  # a foreign key
        await seal(ctx, child, version, change)  # the new version as the chair signs it now
    return amended


# --- the "due" command -------------------------------------------------------------------------------


@on(TurnKind.COMMAND, "due", None)
async def my_due(ctx: Ctx) -> list[Card]:
    """Everything waiting on the actor (as chair, action owner, recipient)."""
    rows = await due_listing(
        ctx.session, at=ctx.now, tz=ctx.dialogs.tz, person_id=ctx.actor.person_id, limit=21
    )
    lines = []
    for r in rows[:20]:
        label = ctx.procedure.deadline_label(r.kind, in_sentence=True)
        line = f"- {r.case_ref}: {label}, by {when(r.due_at, ctx.dialogs.tz)}"
        if r.status in (DueStatus.OVERDUE, DueStatus.REASON_NEEDED):
            line += f" *({'overdue' if r.status == DueStatus.OVERDUE else 'not met: your reason is needed'})*"
        lines.append(line)
    if len(rows) > 20:
        lines.append("- and more")
    return [ctx.reply("\n".join(lines) if lines else "Nothing is due for you.", title="What is due")]
