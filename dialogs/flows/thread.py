"""The agenda as threaded prompts, and replies in the thread as attributed contributions.

In a discussion about siblings a contribution is about all of them unless it starts with case
references and a colon (dialogs/tags.py): then it goes on those children's records and no one else's.
The chair can change that with a correction.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import delete, select
from sqlmodel import col

from dialogs.children import children_input
from dialogs.engine import Ctx
from dialogs.flows.registry import not_recorded, on
from dialogs.lifecycle import Act, State
from dialogs.model import Button, Card, Form, Input, InputKind, Option, TurnKind
from dialogs.tags import looks_tagged, read_tags
from dialogs.validate import MAX_LONG, DialogError, Fields, Stale, refill
from storage.models import Child, Contribution, ContributionChild, Person


def stage_input(ctx: Ctx, value: str | None = None) -> Input:
    """A choice of the procedure's agenda stages, for placing a contribution."""
    return Input(
        "stage",
        "Stage",
        InputKind.CHOICE,
        options=tuple(Option(s.id, s.title) for s in ctx.procedure.agenda),
        value=value,
    )


def stage_card(ctx: Ctx, stage_id: str, extra: str = "") -> Card:
    """The prompt for one agenda stage, posted in the thread, with the chair's next step as buttons."""
    stages = ctx.procedure.agenda
    n = next(i for i, s in enumerate(stages) if s.id == stage_id)
    stage = stages[n]
    buttons = []
    if n == 0:
        buttons.append(Button("start", "Start the discussion (chair)", ctx.value(), "primary"))
    elif stage.id == "decision":
        buttons.append(Button("decide", "Record the decision (chair)", ctx.value(), "primary"))
    elif stage.id == "plan":
        buttons.append(Button("plan", "Plan the S47 enquiry (chair)", ctx.value(), "primary"))
    elif stage.id == "record":
        buttons.append(Button("review", "Review the record (chair)", ctx.value(), "primary"))
    if 0 < n < len(stages) - 1:
        # The value names the stage it moves to, so a second press (or an old card) moves nothing.
        buttons.append(Button("next_stage", f"Next: {stages[n + 1].title}", ctx.value(stages[n + 1].id)))
    text = stage.prompt + (f"\n\n{extra}" if extra else "")
    if stage.id == "plan":
        text += "\n\n" + ctx.procedure.cultural_context_prompt
    return ctx.thread(
        text,
        title=f"Stage {n + 1} of {len(stages)} - {stage.title}",
        buttons=tuple(buttons),
        key=f"stage:{ctx.did}:{stage.id}",
    )


@on(TurnKind.BUTTON, "start", Act.START)
async def start(ctx: Ctx) -> list[Card]:
    from dialogs.flows.further import final_agencies_missing

    missing = await final_agencies_missing(ctx)
    if missing:
        raise DialogError(
            f"This is the final discussion of {ctx.d.case_ref}: first invite someone from "
            f"{', '.join(missing)}, who took part in the first discussion."
        )
    d = ctx.d
    d.state, d.started_at, d.held_on = State.IN_PROGRESS, ctx.now, ctx.today
    d.stage = ctx.procedure.agenda[1].id
    await ctx.audit("discussion.started", held_on=ctx.today.isoformat())
    return await ctx.changed() + [stage_card(ctx, d.stage)]


@on(TurnKind.BUTTON, "next_stage", Act.NEXT_STAGE)
async def next_stage(ctx: Ctx) -> list[Card]:
    d = ctx.d
    ids = [s.id for s in ctx.procedure.agenda]
    n = ids.index(d.stage)
    target = ctx.subject or (ids[n + 1] if n + 1 < len(ids) else "")
    if target not in ids:
        raise DialogError("This is the last stage.")
    if ids.index(target) <= n:
        return [ctx.reply(f"The discussion is already at {ctx.procedure.agenda[n].title}.")]
    if target == "plan" and not await plan_needed(ctx):
        target = "record"  # nothing to plan for this outcome
    if ids.index(target) > ids.index("decision") and ctx.state == State.IN_PROGRESS:
        raise DialogError("Record the decision before moving on.")
    d.stage = target
    await ctx.audit("discussion.stage", stage=target)
    return await ctx.changed() + [stage_card(ctx, target)]


async def plan_needed(ctx: Ctx) -> bool:
    """Whether any child's decision's outcome requires a plan (its `requires` in the procedure)."""
    needs = {o.id for o in ctx.procedure.outcomes if "plan" in o.requires}
    return any(x.outcome in needs for x in (await ctx.decisions()).values())


async def tag(ctx: Ctx, c: Contribution, about: list[Child] | None, *, new: bool = True) -> None:
    """Records which children `c` is about (None or every child: all of them); `new`: it has no
    tags yet (a correction replaces them)."""
    assert c.id is not None
    c.for_all = about is None  # tagged with every child now: a sibling added later is not among them
    if not new:
        await ctx.session.execute(
            delete(ContributionChild).where(col(ContributionChild.contribution_id) == c.id)
        )
    if not c.for_all and about is not None:
        ctx.session.add_all(ContributionChild(contribution_id=c.id, child_id=x.id) for x in about if x.id)


async def tags(ctx: Ctx, c: Contribution) -> list[str]:
    """The ids (as strings) of the children `c` is about."""
    if c.for_all:
        return [str(x.id) for x in await ctx.children()]
    query = select(col(ContributionChild.child_id)).where(col(ContributionChild.contribution_id) == c.id)
    return [str(i) for i in (await ctx.session.execute(query)).scalars()]


@on(TurnKind.REPLY, "", Act.CONTRIBUTE)
async def reply(ctx: Ctx) -> list[Card]:
    """A participant's reply in the thread becomes their contribution to the current stage."""
    d = ctx.d
    part = await ctx.participant(ctx.actor.person_id)
    if part is None or part.status in ("declined", "absent"):
        # Nothing is stored: only professionals taking part may contribute.
        return [ctx.reply(not_recorded(d.case_ref))]
    text = ctx.turn.text.strip()
    if not text:
        return []
    if len(text) > MAX_LONG:
        return [
            ctx.reply(
                f"Your message is {len(text)} characters; the record holds up to {MAX_LONG} per "
                "contribution. Please split it into shorter replies. Here it is, so nothing is lost:\n\n"
                + text[:MAX_LONG]
            )
        ]
    about = None
    if looks_tagged(text):  # only then are the children needed (most replies are about all)
        children = await ctx.children()
        tags = read_tags(text, children)
        if problem := tags.problem(children):
            return [
                ctx.reply(
                    f"Your message was not recorded. {problem} Here it is, so nothing is lost:\n\n{text}"
                )
            ]
        about, text = tags.about, tags.text
    accepted = part.status == "invited"
    if accepted:  # taking part is accepting; once started, an audited correction
        part.status, part.how, part.responded_at = "accepted", "chat", ctx.now
        await ctx.audit("participant.accepted", person_id=part.person_id, by="replying in the thread")
        if ctx.state != State.CONVENED:
            why = "took part by replying in the thread"
            await ctx.audit(
                "attendance.corrected", person_id=part.person_id, before="invited", after="accepted", why=why
            )
    c = Contribution(
        discussion_id=ctx.did,
        person_id=ctx.actor.person_id,
        agency=part.agency,
        stage=d.stage,
        text=text,
        via="thread",
        created_at=ctx.now,
    )
    ctx.session.add(c)
    await ctx.session.flush()
    await tag(ctx, c, about)
    await ctx.audit(
        "contribution.added",
        contribution_id=c.id,
        stage=d.stage,
        agency=part.agency,
        child_ids=None if about is None else [x.id for x in about],
    )
    return await ctx.changed(due=accepted)  # what is due turns on who takes part, not on what they say


async def correct_form(ctx: Ctx) -> Form:
    rows = (
        await ctx.session.execute(
            select(Contribution, Person)
            .join(Person, col(Person.id) == col(Contribution.person_id))
            .where(col(Contribution.discussion_id) == ctx.did)
            .order_by(col(Contribution.id))
        )
    ).all()
    if not rows:
        raise DialogError("There are no contributions to correct yet.")
    # Each option carries the contribution's version, so a correction made meanwhile is not overwritten.
    options = tuple(
        Option(f"{c.id}.{c.version}", f"#{c.id} {p.display_name} ({c.stage}): {c.text[:40]}") for c, p in rows
    )
    inputs = [
        Input("contribution", "Contribution", InputKind.CHOICE, required=True, options=options),
        stage_input(ctx),
        Input("text", "Corrected text (leave empty to keep it)", InputKind.LONG_TEXT, max_length=MAX_LONG),
        Input("why", "Why", InputKind.SHORT_TEXT, required=True, max_length=200),
    ]
    children = await ctx.children()
    if len(children) > 1:
        about = children_input(children, "About which children (leave as it is to keep it)", value=[])
        inputs.append(replace(about, required=False))
    return Form(
        "correct",
        f"Move or correct a contribution: {ctx.d.case_ref}",
        tuple(inputs),
        "Save",
        context=ctx.value(),
    )


@on(TurnKind.BUTTON, "correct", Act.CORRECT)
async def ask_correct(ctx: Ctx) -> list[Card]:
    return [ctx.reply("", form=await correct_form(ctx))]


@on(TurnKind.FORM, "correct", Act.CORRECT)
async def correct(ctx: Ctx) -> list[Card]:
    form = await correct_form(ctx)
    f = Fields(ctx.turn.fields)
    picked = f.text("contribution", required=True) or ""
    cid, _, version = picked.partition(".")
    c = await ctx.session.get(Contribution, int(cid)) if cid.isdigit() else None
    if picked and (c is None or c.discussion_id != ctx.did):
        f.error("contribution", "Please choose one of the options.")
    stage = f.choice("stage", {s.id for s in ctx.procedure.agenda})
    text = f.text("text")
    why = f.text("why", required=True, max_length=200)
    children = await ctx.children()
    about_ids = f.choices("children", {str(x.id) for x in children}) if len(children) > 1 else []
    if not f.ok or c is None:
        return [ctx.reply("", form=refill(form, ctx.turn.fields, f.errors))]
    if version != str(c.version):
        raise Stale(form, ctx.turn.fields)
    before = {"stage": c.stage, "text": c.text, "children": await tags(ctx, c)}
    c.stage, c.text, c.edited_at = stage or c.stage, text or c.text, ctx.now
    if about_ids:
        await tag(ctx, c, [x for x in children if str(x.id) in about_ids], new=False)
    # The audit keeps the previous wording, so the change can always be seen and undone.
    await ctx.audit(
        "contribution.corrected",
        contribution_id=c.id,
        why=why,
        before=before,
        after={"stage": c.stage, "text": c.text, "children": about_ids or before["children"]},
    )
    return await ctx.changed() + [ctx.reply(f"Contribution #{c.id} updated.")]
