"""The commands anyone may use: status, due and help."""

from sqlalchemy import or_, select

from dialogs.flows.registry import on
from dialogs.model import Button, Card, TurnKind
from dialogs.views import main_card
from storage.models import Discussion, Participant

HELP = (
    "*Strategy discussions*\n"
    "- *convene*: start a strategy discussion (duty, team or out-of-hours managers)\n"
    "- *status* [case reference]: a discussion's state, quorum and deadlines\n"
    "  (without a reference: your open discussions)\n"
    "- *due*: what is due or overdue for you\n"
    "- *help*: this message\n"
    "Reply in a discussion's thread to contribute; the chair moves the discussion on with the buttons."
)


@on(TurnKind.COMMAND, "help")
async def help_(ctx) -> list[Card]:
    return [ctx.reply(HELP, title="Help")]


async def _visible(ctx):
    """Open discussions the actor takes part in; managers who may convene see every open one."""
    query = select(Discussion).where(Discussion.state != "closed").order_by(Discussion.convened_at.desc())
    if ctx.actor.role not in ctx.procedure.convener_roles():
        mine = select(Participant.discussion_id).where(Participant.person_id == ctx.actor.person_id)
        query = query.where(or_(Discussion.id.in_(mine), Discussion.chair_id == ctx.actor.person_id))
    return list((await ctx.session.execute(query.limit(20))).scalars())


@on(TurnKind.COMMAND, "status")
async def status(ctx) -> list[Card]:
    wanted = ctx.turn.value.strip()
    visible = await _visible(ctx)
    if wanted:
        matches = [d for d in visible if d.case_ref.lower() == wanted.lower() or str(d.id) == wanted]
        if not matches:
            return [ctx.reply(f"I found no open discussion {wanted} that you take part in.")]
        cards = []
        for d in matches[:3]:
            ctx.discussion, ctx._participants = d, None
            await ctx.audit("discussion.viewed")
            cards.append(await main_card(ctx, ctx.reply("").target))
        return cards
    if not visible:
        return [ctx.reply("You have no open strategy discussions.")]
    lines = [f"- {d.case_ref} (discussion {d.number}): {d.state.replace('_', ' ')}" for d in visible]
    buttons = tuple(Button("status", d.case_ref, str(d.id)) for d in visible[:5])
    return [ctx.reply("\n".join(lines), title="Your open strategy discussions", buttons=buttons)]


@on(TurnKind.BUTTON, "status", who="member")
@on(TurnKind.BUTTON, "discussion.open", who="member")
async def status_button(ctx) -> list[Card]:
    await ctx.audit("discussion.viewed")  # who saw it, as well as who changed it
    return [await main_card(ctx, ctx.reply("").target)]


@on(TurnKind.COMMAND, "due")
async def due(ctx) -> list[Card]:
    """Everything waiting on the actor (as chair, action owner, recipient): the open due items."""
    from dialogs import reminders

    return await reminders.handle_due_turn(ctx, ctx.turn)
