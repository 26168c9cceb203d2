"""The commands anyone may use: status and help (and "due", in flows/due.py)."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlmodel import col

from dialogs.engine import Ctx
from dialogs.flows.registry import on
from dialogs.lifecycle import OPEN_STATES, STATE_LABELS, Act, State
from dialogs.model import Button, Card, TurnKind
from dialogs.views import main_card
from storage.models import Child, Discussion, Participant

HELP = (
    "*Strategy discussions*\n"
    "- *convene*: start a strategy discussion (duty, team or out-of-hours managers)\n"
    "- *status* [case reference]: a discussion's state, quorum and deadlines\n"
    "  (without a reference: your open discussions)\n"
    "- *due*: what is due or overdue for you\n"
    "- *report*: this month's figures, and the figures as a file (team and district managers)\n"
    "- *help*: this message\n"
    "Reply in a discussion's thread to contribute; the chair moves the discussion on with the buttons."
)


@on(TurnKind.COMMAND, "help", None)
async def help_(ctx: Ctx) -> list[Card]:
    return [ctx.reply(HELP, title="Help")]


async def _visible(ctx: Ctx) -> list[Discussion]:
    """Open discussions the actor takes part in; managers who may convene see every open one."""
    query = (
        select(Discussion)
        .where(col(Discussion.state).in_([s.value for s in OPEN_STATES]))
        .order_by(col(Discussion.convened_at).desc())
    )
    if ctx.actor.role not in ctx.procedure.convener_roles():
        mine = select(col(Participant.discussion_id)).where(col(Participant.person_id) == ctx.actor.person_id)
        query = query.where(
            or_(col(Discussion.id).in_(mine), col(Discussion.chair_id) == ctx.actor.person_id)
        )
    return list((await ctx.session.execute(query.limit(20))).scalars())


@on(TurnKind.COMMAND, "status", None)
async def status(ctx: Ctx) -> list[Card]:
    wanted = ctx.turn.value.strip()
    visible = await _visible(ctx)
    if wanted:
        # Any child's own reference finds the discussion ("LL-2" of "LL-1, LL-2").
        named = select(col(Child.discussion_id)).where(
            col(Child.discussion_id).in_([d.id for d in visible]),
            func.lower(col(Child.case_ref)) == wanted.lower(),
            col(Child.removed_at).is_(None),
        )
        found = set((await ctx.session.execute(named)).scalars())
        matches = [d for d in visible if d.id in found or str(d.id) == wanted]
        if not matches:
            return [ctx.reply(f"I found no open discussion {wanted} that you take part in.")]
        cards = []
        for d in matches[:3]:
            ctx.switch(d)
            await ctx.audit("discussion.viewed")
            cards.append(await main_card(ctx, ctx.reply("").target))
        return cards
    if not visible:
        return [ctx.reply("You have no open strategy discussions.")]
    lines = [f"- {d.case_ref} (discussion {d.number}): {STATE_LABELS[State(d.state)]}" for d in visible]
    buttons = tuple(Button("status", d.case_ref, str(d.id)) for d in visible[:5])
    return [ctx.reply("\n".join(lines), title="Your open strategy discussions", buttons=buttons)]


@on(TurnKind.BUTTON, "status", Act.VIEW)
@on(TurnKind.BUTTON, "discussion.open", Act.VIEW)
async def status_button(ctx: Ctx) -> list[Card]:
    await ctx.audit("discussion.viewed")  # who saw it, as well as who changed it
    return [await main_card(ctx, ctx.reply("").target)]
