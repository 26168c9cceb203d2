"""The commands anyone may use: status, due and help."""

from sqlalchemy import or_, select

from dialogs.flows.registry import on
from dialogs.model import Button, Card, TurnKind
from dialogs.views import main_card
from storage.models import Action, Circulation, Discussion, DueItem, Participant, RecordVersion

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
            cards.append(await main_card(ctx, ctx.reply("").target))
        return cards
    if not visible:
        return [ctx.reply("You have no open strategy discussions.")]
    lines = [f"- {d.case_ref} (discussion {d.number}): {d.state.replace('_', ' ')}" for d in visible]
    buttons = tuple(Button("status", d.case_ref, str(d.id)) for d in visible[:5])
    return [ctx.reply("\n".join(lines), title="Your open strategy discussions", buttons=buttons)]


@on(TurnKind.BUTTON, "status", who="member")
async def status_button(ctx) -> list[Card]:
    return [await main_card(ctx, ctx.reply("").target)]


@on(TurnKind.BUTTON, "discussion.open", who="member")
async def open_discussion(ctx) -> list[Card]:
    return [await main_card(ctx, ctx.reply("").target)]


@on(TurnKind.COMMAND, "due")
async def due(ctx) -> list[Card]:
    """Everything waiting on the actor: as chair, as an action's owner, as a recipient of a record."""
    me, s = ctx.actor.person_id, ctx.session
    rows = []
    items = (
        await s.execute(
            select(DueItem, Discussion)
            .join(Discussion, Discussion.id == DueItem.discussion_id)
            .where(DueItem.state == "open", DueItem.recipient_id == me)
            .order_by(DueItem.due_at)
        )
    ).all()
    for item, d in items:
        late = " - OVERDUE" if item.due_at < ctx.now else ""
        rows.append(
            (
                item.due_at,
                f"- {d.case_ref}: {item.kind.replace('_', ' ')} by "
                f"{ctx.local(item.due_at):%a %d %b %H:%M}{late}",
            )
        )
    seen = {(d.id, "action", item.subject) for item, d in items if item.kind == "action"}
    actions = (
        await s.execute(
            select(Action, Discussion)
            .join(Discussion, Discussion.id == Action.discussion_id)
            .where(Action.owner_id == me, Action.status == "open")
        )
    ).all()
    for a, d in actions:
        if (d.id, "action", str(a.id)) not in seen:
            late = " - OVERDUE" if a.due_on < ctx.today else ""
            rows.append((None, f"- {d.case_ref}: action due {a.due_on:%a %d %b}{late}"))
    acks = (
        await s.execute(
            select(Circulation, RecordVersion, Discussion)
            .join(RecordVersion, RecordVersion.id == Circulation.record_id)
            .join(Discussion, Discussion.id == RecordVersion.discussion_id)
            .where(Circulation.person_id == me, Circulation.acknowledged_at.is_(None))
        )
    ).all()
    for _c, _r, d in acks:
        rows.append((None, f"- {d.case_ref}: record to acknowledge"))
    if not rows:
        return [ctx.reply("Nothing is due for you. Thank you.", title="Due")]
    return [ctx.reply("\n".join(text for _, text in rows), title="Due for you")]
