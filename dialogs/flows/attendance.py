"""Who takes part: invitations, answers, people who joined by phone, and apologies."""

from sqlalchemy import select

from dialogs.flows.registry import on
from dialogs.flows.thread import stage_input
from dialogs.model import Button, Card, Form, Input, InputKind, Option, TurnKind
from dialogs.validate import DialogError, Fields, refill
from storage.models import Contribution, Participant, Person


async def _directory_options(ctx, *, exclude: set[int]) -> tuple[Option, ...]:
    people = (
        await ctx.session.execute(select(Person).order_by(Person.agency, Person.display_name))
    ).scalars()
    return tuple(
        Option(str(p.id), f"{p.display_name} - {_role_label(ctx, p.role)}")
        for p in people
        if p.id not in exclude
    )


def _role_label(ctx, role: str) -> str:
    try:
        return ctx.procedure.role(role).label
    except KeyError:
        return role


async def _participant_options(ctx, statuses: set[str] | None = None) -> tuple[Option, ...]:
    people = await ctx.people()
    return tuple(
        Option(str(p.person_id), f"{people[p.person_id].display_name} - {_role_label(ctx, p.role)}")
        for p in await ctx.participants()
        if not p.is_chair and (statuses is None or p.status in statuses)
    )


async def invite_form(ctx) -> Form:
    taken = {p.person_id for p in await ctx.participants()}
    options = await _directory_options(ctx, exclude=taken)
    return Form(
        "invite",
        f"Invite to {ctx.d.case_ref}",
        (
            Input(
                "people",
                "People to invite",
                InputKind.PEOPLE,
                required=True,
                options=options,
                hint="Police, health and the referring agency as a minimum.",
            ),
        ),
        "Send invitations",
        context=str(ctx.d.id),
    )


@on(TurnKind.BUTTON, "invite", who="chair")
async def ask_invite(ctx) -> list[Card]:
    return [ctx.reply("", form=await invite_form(ctx))]


async def invitation_card(ctx, part: Participant) -> Card:
    d = ctx.d
    when = ctx.local(d.proposed_at)
    return ctx.direct(
        part.person_id,
        f"You are invited to a strategy discussion about case *{d.case_ref}* on {when:%a %d %b at %H:%M} "
        f"({d.format.replace('_', ' ')}). Parents and carers are not invited: please bring all your agency's "
        "information.",
        title=f"Strategy discussion invitation: {d.case_ref}",
        buttons=(
            Button("accept", "Accept", f"{d.id}:{part.id}", "primary"),
            Button("decline", "Decline", f"{d.id}:{part.id}"),
        ),
        key=f"invitation:{part.id}",
        preview=f"Strategy discussion {d.case_ref} at {when:%H:%M %d %b}",
    )


@on(TurnKind.FORM, "invite", who="chair")
async def invite(ctx) -> list[Card]:
    f = Fields(ctx.turn.fields)
    form = await invite_form(ctx)
    ids = f.choices("people", {o.value for o in form.inputs[0].options}, required=True)
    if not f.ok:
        return [ctx.reply("", form=refill(form, ctx.turn.fields, f.errors))]
    cards = []
    for pid in ids:
        person = await ctx.session.get(Person, int(pid))
        part = Participant(
            discussion_id=ctx.d.id,
            person_id=person.id,
            agency=person.agency,
            role=person.role,
            invited_at=ctx.now,
        )
        ctx.session.add(part)
        await ctx.session.flush()
        cards.append(await invitation_card(ctx, part))
        await ctx.audit("participant.invited", person_id=person.id, agency=person.agency, role=person.role)
    return (
        await ctx.changed()
        + cards
        + [ctx.reply(f"Invited {len(ids)} {'person' if len(ids) == 1 else 'people'}.")]
    )


async def _own_invitation(ctx) -> Participant:
    part = await ctx.session.get(Participant, int(ctx.subject)) if ctx.subject.isdigit() else None
    if part is None or part.discussion_id != ctx.d.id or part.person_id != ctx.actor.person_id:
        raise DialogError("That invitation is not yours to answer.")
    return part


@on(TurnKind.BUTTON, "accept", who="participant")
async def accept(ctx) -> list[Card]:
    part = await _own_invitation(ctx)
    part.status, part.how, part.responded_at, part.reason = "accepted", "chat", ctx.now, None
    await ctx.audit("participant.accepted", person_id=part.person_id)
    return await ctx.changed() + [
        ctx.reply(
            f"Thank you: you have accepted {ctx.d.case_ref}. Reply in the discussion's thread to contribute."
        )
    ]


def decline_form(ctx, part: Participant) -> Form:
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
        "decline", f"Decline {ctx.d.case_ref}", tuple(inputs), "Decline", context=f"{ctx.d.id}:{part.id}"
    )


def _needs_directions(ctx, part: Participant) -> bool:
    flags = {
        "possible_injury": ctx.d.possible_injury,
        "medical_implications": ctx.d.medical_implications,
        "hospital_involvement": ctx.d.hospital_involvement,
        "inpatient": ctx.d.inpatient,
        "complex": ctx.d.complex_case,
    }
    return any(
        r.role == part.role and r.if_absent == "directions_and_reason" and flags[r.when]
        for r in ctx.procedure.requirements
    )


@on(TurnKind.BUTTON, "decline", who="participant")
async def ask_decline(ctx) -> list[Card]:
    return [ctx.reply("", form=decline_form(ctx, await _own_invitation(ctx)))]


@on(TurnKind.FORM, "decline", who="participant")
async def decline(ctx) -> list[Card]:
    part = await _own_invitation(ctx)
    f = Fields(ctx.turn.fields)
    reason = f.text("reason", required=True, max_length=1000)
    directions = f.text("directions", required=_needs_directions(ctx, part))
    if not f.ok:
        return [ctx.reply("", form=refill(decline_form(ctx, part), ctx.turn.fields, f.errors))]
    part.status, part.responded_at, part.reason, part.directions = "declined", ctx.now, reason, directions
    await ctx.audit("participant.declined", person_id=part.person_id, directions_given=bool(directions))
    return await ctx.changed() + [
        ctx.reply(f"Recorded: you will not attend {ctx.d.case_ref}. The chair can see your reason.")
    ]


def phone_form(ctx, options) -> Form:
    return Form(
        "phone",
        f"Took part by phone: {ctx.d.case_ref}",
        (
            Input("person", "Who", InputKind.CHOICE, required=True, options=options),
            stage_input(ctx, ctx.d.stage),
            Input(
                "text",
                "Their contribution (optional)",
                InputKind.LONG_TEXT,
                max_length=3000,
                hint='Recorded as "by phone, entered by the chair".',
            ),
        ),
        "Record",
        context=str(ctx.d.id),
    )


@on(TurnKind.BUTTON, "phone", who="chair")
async def ask_phone(ctx) -> list[Card]:
    options = await _participant_options(ctx)
    if not options:
        raise DialogError("Invite the person first, then record that they took part by phone.")
    return [ctx.reply("", form=phone_form(ctx, options))]


@on(TurnKind.FORM, "phone", who="chair")
async def phone(ctx) -> list[Card]:
    options = await _participant_options(ctx)
    f = Fields(ctx.turn.fields)
    pid = f.choice("person", {o.value for o in options}, required=True)
    stage = f.choice("stage", {s.id for s in ctx.procedure.agenda}) or ctx.d.stage
    text = f.text("text")
    if not f.ok:
        return [ctx.reply("", form=refill(phone_form(ctx, options), ctx.turn.fields, f.errors))]
    part = await ctx.participant(int(pid))
    part.status, part.how, part.responded_at = "by_phone", "phone", part.responded_at or ctx.now
    cards = []
    if text:
        ctx.session.add(
            Contribution(
                discussion_id=ctx.d.id,
                person_id=part.person_id,
                agency=part.agency,
                stage=stage,
                text=text,
                via="phone_entered_by_chair",
                entered_by_id=ctx.actor.person_id,
                created_at=ctx.now,
            )
        )
        person = await ctx.session.get(Person, part.person_id)
        cards.append(
            ctx.thread(f"*{person.display_name}* ({part.agency}, by phone, entered by the chair): {text}")
        )
    await ctx.audit("participant.by_phone", person_id=part.person_id, contribution=bool(text), stage=stage)
    return await ctx.changed() + cards + [ctx.reply("Recorded.")]


def absent_form(ctx, options) -> Form:
    return Form(
        "absent",
        f"Apologies / absent: {ctx.d.case_ref}",
        (
            Input("person", "Who", InputKind.CHOICE, required=True, options=options),
            Input("reason", "Reason", InputKind.LONG_TEXT, required=True, max_length=1000),
            Input(
                "directions",
                "Directions given (police safeguarding manager)",
                InputKind.LONG_TEXT,
                max_length=3000,
            ),
        ),
        "Record",
        context=str(ctx.d.id),
    )


@on(TurnKind.BUTTON, "absent", who="chair")
async def ask_absent(ctx) -> list[Card]:
    options = await _participant_options(ctx, {"invited", "accepted", "declined"})
    if not options:
        raise DialogError("There is nobody invited who could be marked absent.")
    return [ctx.reply("", form=absent_form(ctx, options))]


@on(TurnKind.FORM, "absent", who="chair")
async def absent(ctx) -> list[Card]:
    options = await _participant_options(ctx, {"invited", "accepted", "declined"})
    f = Fields(ctx.turn.fields)
    pid = f.choice("person", {o.value for o in options}, required=True)
    reason = f.text("reason", required=True, max_length=1000)
    directions = f.text("directions")
    part = await ctx.participant(int(pid)) if pid else None
    if part is not None and _needs_directions(ctx, part) and not directions:
        f.error(
            "directions",
            "The procedure requires the police safeguarding manager's directions when they are absent.",
        )
    if not f.ok:
        return [ctx.reply("", form=refill(absent_form(ctx, options), ctx.turn.fields, f.errors))]
    part.status, part.reason, part.directions = "absent", reason, directions or part.directions
    await ctx.audit("participant.absent", person_id=part.person_id, directions_given=bool(part.directions))
    return await ctx.changed() + [ctx.reply("Recorded.")]
