"""Who takes part: invitations, answers, people who joined by phone, and apologies.

Attendance is frozen once the discussion has started: a change after that (a late invitation, someone
joining by phone, apologies) asks why, and is audited as a correction with the state before and after.
After sign-off it cannot change at all.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import col

from dialogs.engine import Ctx
from dialogs.flows.registry import on
from dialogs.flows.thread import stage_input
from dialogs.lifecycle import Act, State
from dialogs.model import Button, Card, Form, Input, InputKind, Option, TurnKind
from dialogs.quorum import circumstances
from dialogs.tags import looks_tagged, read_tags
from dialogs.validate import DialogError, Fields, Stale, refill
from storage.models import Contribution, Participant, Person


async def _directory_options(ctx: Ctx, *, exclude: set[int]) -> tuple[Option, ...]:
    people = (
        await ctx.session.execute(select(Person).order_by(col(Person.agency), col(Person.display_name)))
    ).scalars()
    return tuple(
        Option(str(p.id), f"{p.display_name} - {role_label(ctx, p.role)}")
        for p in people
        if p.id not in exclude
    )


def role_label(ctx: Ctx, role: str) -> str:
    try:
        return ctx.procedure.role(role).label
    except KeyError:
        return role


async def participant_options(ctx: Ctx, statuses: set[str] | None = None) -> tuple[Option, ...]:
    """The participants (not the chair) as options, each value "<person id>.<row version>"."""
    people = await ctx.people()
    return tuple(
        Option(
            f"{p.person_id}.{p.version}", f"{people[p.person_id].display_name} - {role_label(ctx, p.role)}"
        )
        for p in await ctx.participants()
        if not p.is_chair and (statuses is None or p.status in statuses)
    )


def _why_input() -> Input:
    return Input(
        "why",
        "Why is the attendance changing after the start?",
        InputKind.SHORT_TEXT,
        max_length=300,
        hint="Attendance is frozen once the discussion has started; a change is recorded with its reason.",
    )


def _started(ctx: Ctx) -> bool:
    return ctx.state != State.CONVENED


async def _picked(ctx: Ctx, f: Fields, options: tuple[Option, ...], form: Form) -> Participant | None:
    """The participant chosen in `form`, refusing the form if they changed since it was shown."""
    picked = f.text("person", required=True) or ""
    pid, _, version = picked.partition(".")
    part = await ctx.participant(int(pid)) if pid.isdigit() else None
    if picked and (part is None or part.is_chair):
        f.error("person", "Please choose one of the options.")
        return None
    if part is not None and version != str(part.version):
        raise Stale(form, ctx.turn.fields)
    return part


async def _attendance_changed(ctx: Ctx, part: Participant, before: str, why: str | None) -> None:
    """After the start, a change of someone's attendance is an audited correction."""
    if _started(ctx) and part.status != before:
        await ctx.audit(
            "attendance.corrected", person_id=part.person_id, before=before, after=part.status, why=why
        )


async def invite_form(ctx: Ctx) -> Form:
    taken = {p.person_id for p in await ctx.participants()}
    options = await _directory_options(ctx, exclude=taken)
    inputs = [
        Input(
            "people",
            "People to invite",
            InputKind.PEOPLE,
            required=True,
            options=options,
            hint="Police, health and the referring agency as a minimum.",
        )
    ]
    if _started(ctx):
        inputs.append(_why_input())
    return Form(
        "invite", f"Invite to {ctx.d.case_ref}", tuple(inputs), "Send invitations", context=ctx.value()
    )


@on(TurnKind.BUTTON, "invite", Act.INVITE)
async def ask_invite(ctx: Ctx) -> list[Card]:
    return [ctx.reply("", form=await invite_form(ctx))]


async def invitation_card(ctx: Ctx, part: Participant) -> Card:
    d = ctx.d
    when = ctx.local(d.proposed_at)
    return ctx.direct(
        part.person_id,
        f"You are invited to a strategy discussion about case *{d.case_ref}* on {when:%a %d %b at %H:%M} "
        f"({ctx.procedure.format_label(d.format).lower()}). Parents and carers are not invited: please bring "
        "all your agency's information.",
        title=f"Strategy discussion invitation: {d.case_ref}",
        buttons=(
            Button("accept", "Accept", ctx.value(part.id), "primary"),
            Button("decline", "Decline", ctx.value(part.id)),
        ),
        key=f"invitation:{part.id}",
        preview=f"Strategy discussion {d.case_ref} at {when:%H:%M %d %b}",
    )


async def invite_one(ctx: Ctx, person_id: int, agency: str, role: str) -> Card:
    """Add someone to the discussion as invited; their invitation, to send."""
    part = Participant(
        discussion_id=ctx.did, person_id=person_id, agency=agency, role=role, invited_at=ctx.now
    )
    ctx.session.add(part)
    await ctx.session.flush()
    return await invitation_card(ctx, part)


@on(TurnKind.FORM, "invite", Act.INVITE)
async def invite(ctx: Ctx) -> list[Card]:
    f = Fields(ctx.turn.fields)
    everyone = {o.value for o in await _directory_options(ctx, exclude=set())}
    ids = f.choices("people", everyone, required=True)
    why = f.text("why", required=_started(ctx), max_length=300)
    if not f.ok:
        return [ctx.reply("", form=refill(await invite_form(ctx), ctx.turn.fields, f.errors))]
    taken = {p.person_id for p in await ctx.participants()}
    fresh = [int(pid) for pid in ids if int(pid) not in taken]  # invited meanwhile (another tab): once only
    cards = []
    for pid in fresh:
        person = await ctx.session.get(Person, pid)
        assert person is not None and person.id is not None
        cards.append(await invite_one(ctx, person.id, person.agency, person.role))
        await ctx.audit("participant.invited", person_id=person.id, agency=person.agency, role=person.role)
        if _started(ctx):
            await ctx.audit(
                "attendance.corrected", person_id=person.id, before=None, after="invited", why=why
            )
    note = f"Invited {len(fresh)} {'person' if len(fresh) == 1 else 'people'}."
    if len(fresh) < len(ids):
        note += f" {len(ids) - len(fresh)} had already been invited."
    if not fresh:
        return [ctx.reply(note)]
    return await ctx.changed() + cards + [ctx.reply(note)]


async def _own_invitation(ctx: Ctx) -> Participant:
    part = await ctx.session.get(Participant, int(ctx.subject)) if ctx.subject.isdigit() else None
    if part is None or part.discussion_id != ctx.did or part.person_id != ctx.actor.person_id:
        raise DialogError("That invitation is not yours to answer.")
    return part


@on(TurnKind.BUTTON, "accept", Act.ANSWER)
async def accept(ctx: Ctx) -> list[Card]:
    part = await _own_invitation(ctx)
    if part.status == "accepted":
        return [ctx.reply(f"You have already accepted {ctx.d.case_ref}.")]
    before = part.status
    part.status, part.how, part.responded_at, part.reason = "accepted", "chat", ctx.now, None
    await ctx.audit("participant.accepted", person_id=part.person_id)
    await _attendance_changed(ctx, part, before, "accepted their invitation")
    return await ctx.changed() + [
        ctx.reply(
            f"Thank you: you have accepted {ctx.d.case_ref}. Reply in the discussion's thread to contribute."
        )
    ]


def decline_form(ctx: Ctx, part: Participant) -> Form:
    inputs = [
        Input("reason", "Reason for not attending", InputKind.LONG_TEXT, required=True, max_length=1000)
    ]
    if _needs_directions(ctx, part):
        inputs.append(
            Input(
                "directions",
                "Your directions to the attending police officer",
                InputKind.LONG_TEXT,
                required=True,
                max_length=3000,
                hint="Required: a police safeguarding manager must be involved in every case of "
                "possible injury or harm.",
            )
        )
    return Form(
        "decline",
        f"Decline {ctx.d.case_ref}",
        tuple(inputs),
        "Decline",
        context=ctx.value(part.id, part.version),
    )


def _needs_directions(ctx: Ctx, part: Participant) -> bool:
    answers = circumstances(ctx.d)
    return any(
        r.role == part.role and r.if_absent == "directions_and_reason" and answers[r.when]
        for r in ctx.procedure.requirements
    )


@on(TurnKind.BUTTON, "decline", Act.ANSWER)
async def ask_decline(ctx: Ctx) -> list[Card]:
    return [ctx.reply("", form=decline_form(ctx, await _own_invitation(ctx)))]


@on(TurnKind.FORM, "decline", Act.ANSWER)
async def decline(ctx: Ctx) -> list[Card]:
    part = await _own_invitation(ctx)
    f = Fields(ctx.turn.fields)
    reason = f.text("reason", required=True, max_length=1000)
    directions = f.text("directions", required=_needs_directions(ctx, part))
    if not f.ok:
        return [ctx.reply("", form=refill(decline_form(ctx, part), ctx.turn.fields, f.errors))]
    if ctx.stale(part.version):
        raise Stale(decline_form(ctx, part), ctx.turn.fields)
    before = part.status
    part.status, part.responded_at, part.reason, part.directions = "declined", ctx.now, reason, directions
    await ctx.audit("participant.declined", person_id=part.person_id, directions_given=bool(directions))
    await _attendance_changed(ctx, part, before, "declined their invitation")
    return await ctx.changed() + [
        ctx.reply(f"Recorded: you will not attend {ctx.d.case_ref}. The chair can see your reason.")
    ]


def phone_form(ctx: Ctx, options: tuple[Option, ...]) -> Form:
    inputs = [
        Input("person", "Who", InputKind.CHOICE, required=True, options=options),
        stage_input(ctx, ctx.d.stage),
        Input(
            "text",
            "Their contribution (optional)",
            InputKind.LONG_TEXT,
            max_length=3000,
            hint='Recorded as "by phone, entered by the chair". About some siblings only: start with '
            'their case references and a colon ("LL-2: ...").',
        ),
    ]
    if _started(ctx):
        inputs.append(_why_input())
    return Form(
        "phone", f"Took part by phone: {ctx.d.case_ref}", tuple(inputs), "Record", context=ctx.value()
    )


@on(TurnKind.BUTTON, "phone", Act.BY_PHONE)
async def ask_phone(ctx: Ctx) -> list[Card]:
    options = await participant_options(ctx)
    if not options:
        raise DialogError("Invite the person first, then record that they took part by phone.")
    return [ctx.reply("", form=phone_form(ctx, options))]


@on(TurnKind.FORM, "phone", Act.BY_PHONE)
async def phone(ctx: Ctx) -> list[Card]:
    options = await participant_options(ctx)
    form = phone_form(ctx, options)
    f = Fields(ctx.turn.fields)
    part = await _picked(ctx, f, options, form)
    stage = f.choice("stage", {s.id for s in ctx.procedure.agenda}) or ctx.d.stage
    text = f.text("text")
    why = f.text("why", max_length=300)
    tags = read_tags(text, await ctx.children()) if text and looks_tagged(text) else None
    if tags is not None and (problem := tags.problem(await ctx.children())):
        f.error("text", problem)
    if part is not None and _started(ctx) and part.status not in ("by_phone",) and not why:
        f.error("why", "They were not recorded as taking part by phone: please say why this changes now.")
    if not f.ok or part is None:
        return [ctx.reply("", form=refill(form, ctx.turn.fields, f.errors))]
    before = part.status
    part.status, part.how, part.responded_at = "by_phone", "phone", part.responded_at or ctx.now
    cards = []
    if text:
        from dialogs.flows.thread import tag

        about, text = (tags.about, tags.text) if tags is not None else (None, text)  # "LL-2: ..."
        c = Contribution(
            discussion_id=ctx.did,
            person_id=part.person_id,
            agency=part.agency,
            stage=stage,
            text=text,
            via="phone_entered_by_chair",
            entered_by_id=ctx.actor.person_id,
            created_at=ctx.now,
        )
        ctx.session.add(c)
        await ctx.session.flush()
        await tag(ctx, c, about)
        person = await ctx.session.get(Person, part.person_id)
        name = person.display_name if person else "someone"
        cards.append(ctx.thread(f"*{name}* ({part.agency}, by phone, entered by the chair): {text}"))
    await ctx.audit("participant.by_phone", person_id=part.person_id, contribution=bool(text), stage=stage)
    await _attendance_changed(ctx, part, before, why)
    return await ctx.changed() + cards + [ctx.reply("Recorded.")]


def absent_form(ctx: Ctx, options: tuple[Option, ...]) -> Form:
    inputs = [
        Input("person", "Who", InputKind.CHOICE, required=True, options=options),
        Input("reason", "Reason", InputKind.LONG_TEXT, required=True, max_length=1000),
        Input(
            "directions",
            "Directions given (police safeguarding manager)",
            InputKind.LONG_TEXT,
            max_length=3000,
        ),
    ]
    if _started(ctx):
        inputs.append(_why_input())
    return Form(
        "absent", f"Apologies / absent: {ctx.d.case_ref}", tuple(inputs), "Record", context=ctx.value()
    )


ABSENTABLE = {"invited", "accepted", "declined"}


@on(TurnKind.BUTTON, "absent", Act.ABSENT)
async def ask_absent(ctx: Ctx) -> list[Card]:
    options = await participant_options(ctx, ABSENTABLE)
    if not options:
        raise DialogError("There is nobody invited who could be marked absent.")
    return [ctx.reply("", form=absent_form(ctx, options))]


@on(TurnKind.FORM, "absent", Act.ABSENT)
async def absent(ctx: Ctx) -> list[Card]:
    options = await participant_options(ctx, ABSENTABLE)
    form = absent_form(ctx, options)
    f = Fields(ctx.turn.fields)
    part = await _picked(ctx, f, options, form)
    reason = f.text("reason", required=True, max_length=1000)
    directions = f.text("directions")
    why = f.text("why", required=_started(ctx), max_length=300)
    if part is not None and part.status not in ABSENTABLE:
        f.error("person", "They took part by phone; that cannot be changed to absent.")
    if part is not None and _needs_directions(ctx, part) and not (directions or part.directions):
        f.error(
            "directions",
            "The procedure requires the police safeguarding manager's directions when they are absent.",
        )
    if not f.ok or part is None:
        return [ctx.reply("", form=refill(form, ctx.turn.fields, f.errors))]
    before = part.status
    part.status, part.reason, part.directions = "absent", reason, directions or part.directions
    await ctx.audit("participant.absent", person_id=part.person_id, directions_given=bool(part.directions))
    await _attendance_changed(ctx, part, before, why)
    return await ctx.changed() + [ctx.reply("Recorded.")]
