"""The agenda as threaded prompts, and replies in the thread as attributed contributions."""

from sqlalchemy import select

from dialogs.flows.registry import on
from dialogs.model import Button, Card, Form, Input, InputKind, Option, TurnKind
from dialogs.validate import MAX_LONG, DialogError, Fields, refill
from storage.models import Contribution, Person

OPEN_STATES = {"convened", "in_discussion", "decided", "planned"}


def stage_input(ctx, value: str | None = None) -> Input:
    """A choice of the procedure's agenda stages, for placing a contribution."""
    return Input(
        "stage",
        "Stage",
        InputKind.CHOICE,
        options=tuple(Option(s.id, s.title) for s in ctx.procedure.agenda),
        value=value,
    )


def stage_card(ctx, stage_id: str, extra: str = "") -> Card:
    """The prompt for one agenda stage, posted in the thread, with the chair's next step as buttons."""
    stages = ctx.procedure.agenda
    n = next(i for i, s in enumerate(stages) if s.id == stage_id)
    stage = stages[n]
    buttons = []
    if n == 0:
        buttons.append(Button("start", "Start the discussion (chair)", str(ctx.d.id), "primary"))
    elif stage.id == "decision":
        buttons.append(Button("decide", "Record the decision (chair)", str(ctx.d.id), "primary"))
    elif stage.id == "plan":
        buttons.append(Button("plan", "Plan the S47 enquiry (chair)", str(ctx.d.id), "primary"))
    elif stage.id == "record":
        buttons.append(Button("review", "Review the record (chair)", str(ctx.d.id), "primary"))
    if 0 < n < len(stages) - 1:
        buttons.append(Button("next_stage", f"Next: {stages[n + 1].title}", str(ctx.d.id)))
    text = stage.prompt + (f"\n\n{extra}" if extra else "")
    if stage.id == "plan":
        text += "\n\n" + ctx.procedure.cultural_context_prompt
    return ctx.thread(
        text,
        title=f"Stage {n + 1} of {len(stages)} - {stage.title}",
        buttons=tuple(buttons),
        key=f"stage:{ctx.d.id}:{stage.id}",
    )


@on(TurnKind.BUTTON, "start", who="chair")
async def start(ctx) -> list[Card]:
    d = ctx.d
    if d.state != "convened":
        raise DialogError("This discussion has already started.")
    d.state, d.held_on = "in_discussion", ctx.today
    d.stage = ctx.procedure.agenda[1].id
    await ctx.audit("discussion.started", held_on=d.held_on.isoformat())
    return await ctx.changed() + [stage_card(ctx, d.stage)]


@on(TurnKind.BUTTON, "next_stage", who="chair")
async def next_stage(ctx) -> list[Card]:
    d = ctx.d
    if d.state == "convened":
        raise DialogError("Start the discussion first (the Start button on its post).")
    ids = [s.id for s in ctx.procedure.agenda]
    n = ids.index(d.stage)
    if n + 1 >= len(ids):
        raise DialogError("This is the last stage.")
    if ids[n + 1] == "plan" and not await _decision_starts_s47(ctx):
        target = "record"  # no S47 enquiry: nothing to plan
    else:
        target = ids[n + 1]
    if ids.index(target) > ids.index("decision") and d.state == "in_discussion":
        raise DialogError("Record the decision before moving on.")
    d.stage = target
    await ctx.audit("discussion.stage", stage=target)
    return await ctx.changed() + [stage_card(ctx, target)]


async def _decision_starts_s47(ctx) -> bool:
    decision = await ctx.decision()
    return bool(decision and ctx.procedure.outcome(decision.outcome).starts_s47)


@on(TurnKind.REPLY, "")
async def reply(ctx) -> list[Card]:
    """A participant's reply in the thread becomes their contribution to the current stage."""
    d = ctx.d
    part = await ctx.participant(ctx.actor.person_id)
    if part is None or part.status in ("declined", "absent"):
        # Nothing is stored: only invited professionals may contribute.
        return [
            ctx.reply(
                f"Your message in the {d.case_ref} thread was not recorded: only people taking part in "
                "this strategy discussion can contribute. If you should be, ask the chair to invite you."
            )
        ]
    if d.state not in OPEN_STATES:
        return [
            ctx.reply(
                f"The record of {d.case_ref} has been signed off, so your message was not added to it. "
                "Please send further information to the chair."
            )
        ]
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
    if part.status == "invited":
        part.status, part.how, part.responded_at = "accepted", "chat", ctx.now  # taking part is accepting
    c = Contribution(
        discussion_id=d.id,
        person_id=ctx.actor.person_id,
        agency=part.agency,
        stage=d.stage,
        text=text,
        via="thread",
        created_at=ctx.now,
    )
    ctx.session.add(c)
    await ctx.session.flush()
    await ctx.audit("contribution.added", contribution_id=c.id, stage=d.stage, agency=part.agency)
    return await ctx.changed()


async def correct_form(ctx) -> Form:
    rows = (
        await ctx.session.execute(
            select(Contribution, Person)
            .join(Person, Person.id == Contribution.person_id)
            .where(Contribution.discussion_id == ctx.d.id)
            .order_by(Contribution.id)
        )
    ).all()
    if not rows:
        raise DialogError("There are no contributions to correct yet.")
    options = tuple(
        Option(str(c.id), f"#{c.id} {p.display_name} ({c.stage}): {c.text[:40]}") for c, p in rows
    )
    return Form(
        "correct",
        f"Move or correct a contribution: {ctx.d.case_ref}",
        (
            Input("contribution", "Contribution", InputKind.CHOICE, required=True, options=options),
            stage_input(ctx),
            Input(
                "text", "Corrected text (leave empty to keep it)", InputKind.LONG_TEXT, max_length=MAX_LONG
            ),
            Input("why", "Why", InputKind.SHORT_TEXT, required=True, max_length=200),
        ),
        "Save",
        context=str(ctx.d.id),
    )


@on(TurnKind.BUTTON, "correct", who="chair")
async def ask_correct(ctx) -> list[Card]:
    return [ctx.reply("", form=await correct_form(ctx))]


@on(TurnKind.FORM, "correct", who="chair")
async def correct(ctx) -> list[Card]:
    form = await correct_form(ctx)
    f = Fields(ctx.turn.fields)
    cid = f.choice("contribution", {o.value for o in form.inputs[0].options}, required=True)
    stage = f.choice("stage", {s.id for s in ctx.procedure.agenda})
    text = f.text("text")
    why = f.text("why", required=True, max_length=200)
    if ctx.d.state not in OPEN_STATES:
        raise DialogError("The record has been signed off; contributions can no longer be changed.")
    if not f.ok:
        return [ctx.reply("", form=refill(form, ctx.turn.fields, f.errors))]
    c = await ctx.session.get(Contribution, int(cid))
    before = {"stage": c.stage, "text": c.text}
    c.stage, c.text, c.edited_at = stage or c.stage, text or c.text, ctx.now
    # The audit keeps the previous wording, so the change can always be seen and undone.
    await ctx.audit(
        "contribution.corrected",
        contribution_id=c.id,
        why=why,
        before=before,
        after={"stage": c.stage, "text": c.text},
    )
    return await ctx.changed() + [ctx.reply(f"Contribution #{c.id} updated.")]
