"""Closing a discussion: every deadline still open ends with the chair's reason for it.

A discussion closed with nothing open is simply closed; one closed with deadlines open is "closed with
reason". Chases (an unanswered invitation, the quorum check) end with the bot's reason; a record's
acknowledgements go on being chased, since the record was sent, and so does the team manager's review
of an override. The series closes with its last discussion.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import col

from dialogs.clock import say_when as when
from dialogs.deadline_wants import End
from dialogs.deadlines import end_item
from dialogs.engine import Ctx
from dialogs.flows.registry import on
from dialogs.lifecycle import DEADLINE, Act, DueKind, DueState, State
from dialogs.model import Card, Form, Input, InputKind, TurnKind
from dialogs.validate import Fields, Stale, refill
from storage.models import DueItem


async def _open_items(ctx: Ctx) -> list[DueItem]:
    query = (
        select(DueItem)
        .where(col(DueItem.discussion_id) == ctx.did, col(DueItem.state) == DueState.OPEN.value)
        .order_by(col(DueItem.due_at), col(DueItem.id))
    )
    return list((await ctx.session.execute(query)).scalars())


# What closing does not end: the record was sent, so its receipt is still chased; and the chair cannot
# close away the team manager's review of their own override.
GO_ON = frozenset({DueKind.ACKNOWLEDGEMENT, DueKind.OVERRIDE_REVIEW})


def _deadlines(items: list[DueItem]) -> list[DueItem]:
    """The open obligations, each needing the chair's reason (chases end by themselves)."""
    return [i for i in items if not DEADLINE[DueKind(i.kind)].chase and i.kind not in GO_ON]


async def close_form(ctx: Ctx) -> Form:
    items = _deadlines(await _open_items(ctx))
    inputs = [
        Input(
            "reason",
            "Why it is closed",
            InputKind.LONG_TEXT,
            required=True,
            max_length=1000,
            hint="e.g. enquiries complete, or convened in error.",
        )
    ]
    children = await ctx.children()
    refs = {c.id: c.case_ref for c in children} if len(children) > 1 else {}
    for item in items:
        label = ctx.procedure.deadline_label(item.kind)
        if item.child_id in refs:
            label += f" for {refs[item.child_id]}"
        inputs.append(
            Input(
                f"reason_{item.id}",
                f"Still open: {label} (due {when(item.due_at, ctx.dialogs.tz)}). Why is it closed undone?",
                InputKind.LONG_TEXT,
                required=True,
                max_length=1000,
            )
        )
    return Form(
        "close", f"Close {ctx.d.case_ref}", tuple(inputs), "Close", context=ctx.value("", _stamp(items))
    )


def _stamp(deadlines: list[DueItem]) -> str:
    """The open deadlines the form asks about: one opened or ended meanwhile makes it stale."""
    return ",".join(str(i.id) for i in deadlines) or "-"


@on(TurnKind.BUTTON, "close", Act.CLOSE)
async def ask_close(ctx: Ctx) -> list[Card]:
    return [ctx.reply("", form=await close_form(ctx))]


@on(TurnKind.FORM, "close", Act.CLOSE)
async def close(ctx: Ctx) -> list[Card]:
    form = await close_form(ctx)
    f = Fields(ctx.turn.fields)
    reason = f.text("reason", required=True, max_length=1000)
    items = await _open_items(ctx)
    deadlines = _deadlines(items)
    reasons = {i.id: f.text(f"reason_{i.id}", required=True, max_length=1000) for i in deadlines}
    if not f.ok or reason is None:
        return [ctx.reply("", form=refill(form, ctx.turn.fields, f.errors))]
    if ctx.stale(_stamp(deadlines)):
        raise Stale(form, ctx.turn.fields)
    for item in items:
        if item.kind in GO_ON:
            continue
        if item.id in reasons:
            end_item(
                item, End(ctx.now, "the discussion was closed", DueState.CLOSED, reasons[item.id]), ctx.now
            )
        else:
            end_item(item, End(ctx.now, "the discussion was closed", DueState.MISSED), ctx.now)
    previous = ctx.d.state
    ctx.d.state = State.CLOSED_WITH_REASON if deadlines else State.CLOSED
    ctx.d.closed_at, ctx.d.closed_reason = ctx.now, reason
    await ctx.audit(
        "discussion.closed",
        previous_state=previous,
        state=ctx.d.state,
        reason=reason,
        deadlines={str(i.id): {"kind": i.kind, "reason": reasons[i.id]} for i in deadlines},
    )
    return await ctx.changed() + [ctx.reply(f"{ctx.d.case_ref} is closed. Its reminders stop.")]
