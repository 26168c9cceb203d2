"""The initial child protection conference: the chair records it held, or not required and why.

Each child has their own (in their own series): siblings' conferences are recorded one by one.

That is the act that meets the series' ICPC deadline. Held after its due date, it is late, and the
reason is asked in the same form. "Not required", with the reason, meets it too (late if recorded
after the due date); the series keeps it for the census's ICPCnotRequired.
"""

from __future__ import annotations

from dialogs.clock import say_when as when
from dialogs.deadline_wants import End
from dialogs.deadlines import end_item, series_icpc
from dialogs.engine import Ctx
from dialogs.flows.registry import on
from dialogs.lifecycle import Act, DueState
from dialogs.model import Card, Form, Input, InputKind, Option, TurnKind
from dialogs.validate import DialogError, Fields, refill
from storage.models import Child, DueItem

HELD, NOT_REQUIRED = "held", "not_required"


async def icpc_child(ctx: Ctx) -> Child:
    """The child whose conference it is: the one named, or the only one with a conference open."""
    if ctx.child_named or len(await ctx.children()) == 1:
        return await ctx.child()
    for child in await ctx.children():
        item = await series_icpc(ctx.session, child.series_id)
        if item is not None and item.state == DueState.OPEN:
            return child
    raise DialogError(f"No conference is open for {ctx.d.case_ref}.")


async def icpc_item(ctx: Ctx, child: Child) -> DueItem:
    """The child's series' conference deadline, while it is open."""
    item = await series_icpc(ctx.session, child.series_id)
    ref = child.case_ref
    if item is None:
        raise DialogError(f"No conference is due for {ref}: no discussion has decided on S47 enquiries.")
    if item.state != DueState.OPEN:
        series = await ctx.series(child)
        if series.icpc_held_on:
            raise DialogError(f"The conference for {ref} was already held on {series.icpc_held_on:%d %b %Y}.")
        if series.icpc_not_required:
            raise DialogError(f"The conference for {ref} was already recorded as not required.")
        raise DialogError(f"The conference deadline for {ref} has already ended ({item.ended_by}).")
    return item


def icpc_form(ctx: Ctx, child: Child, item: DueItem) -> Form:
    due = when(item.due_at, ctx.dialogs.tz)
    return Form(
        "icpc",
        f"Conference: {child.case_ref}",
        (
            Input(
                "outcome",
                "The initial child protection conference",
                InputKind.CHOICE,
                required=True,
                options=(Option(HELD, "Was held"), Option(NOT_REQUIRED, "Is not required")),
            ),
            Input("held_on", "Date held", InputKind.DATE, value=ctx.today.isoformat(), hint=f"Due by {due}."),
            Input(
                "reason",
                "Reason (if not required, or if held after the due date)",
                InputKind.LONG_TEXT,
                max_length=1000,
            ),
        ),
        "Record",
        context=ctx.value(item.id, child=child),
    )


@on(TurnKind.BUTTON, "icpc", Act.RECORD_ICPC)
async def ask_icpc(ctx: Ctx) -> list[Card]:
    child = await icpc_child(ctx)
    return [ctx.reply("", form=icpc_form(ctx, child, await icpc_item(ctx, child)))]


@on(TurnKind.FORM, "icpc", Act.RECORD_ICPC)
async def record_icpc(ctx: Ctx) -> list[Card]:
    child = await icpc_child(ctx)
    item = await icpc_item(ctx, child)
    form = icpc_form(ctx, child, item)
    f = Fields(ctx.turn.fields)
    outcome = f.choice("outcome", {HELD, NOT_REQUIRED}, required=True)
    held_on = f.date("held_on", required=outcome == HELD)
    reason = f.text("reason", max_length=1000)
    due_day = item.due_at.astimezone(ctx.dialogs.zone).date()
    if held_on is not None and outcome == HELD and held_on > ctx.today:
        f.error("held_on", "That is in the future: record the conference once it has been held.")
    late = outcome == HELD and held_on is not None and held_on > due_day
    if (outcome == NOT_REQUIRED or late) and not reason:
        why = "why it is not required" if outcome == NOT_REQUIRED else f"why it was after {due_day:%d %b %Y}"
        f.error("reason", f"Please give the reason ({why}); it goes into the record.")
    if not f.ok:
        return [ctx.reply("", form=refill(form, ctx.turn.fields, f.errors))]
    series = await ctx.series(child)
    series.icpc_recorded_at, series.icpc_recorded_by_id = ctx.now, ctx.actor.person_id
    if outcome == HELD:
        series.icpc_held_on = held_on
        item.reason = reason if late else item.reason
    else:
        series.icpc_not_required = True
        end_item(item, End(ctx.now, "recorded as not required", reason=reason), ctx.now)
    await ctx.audit(
        "icpc.recorded",
        outcome=outcome,
        held_on=held_on.isoformat() if held_on else None,
        child_id=child.id,
    )
    whose = f" for {child.case_ref}" if len(await ctx.children()) > 1 else ""
    text = (
        f"Recorded: the conference{whose} was held on {held_on:%d %b %Y}."
        if held_on
        else f"Recorded: no conference{whose}."
    )
    return await ctx.changed() + [ctx.reply(text)]
