"""Convening: a first discussion opens a series for the case (further ones: flows/further.py).

Whether a discussion is out of hours follows the meeting's time (the council's hours, nation and bank
holidays), not the moment the form was sent; the chair may override it only with a reason.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from dialogs import children, clock
from dialogs.engine import Ctx
from dialogs.flows.circumstances import YES_NO, apply_answers, circumstance_inputs, read_answers
from dialogs.flows.registry import on
from dialogs.flows.thread import stage_card
from dialogs.lifecycle import STATE_LABELS, Act, State
from dialogs.model import Button, Card, Form, Input, InputKind, Option, Target, TargetKind, TurnKind
from dialogs.validate import DialogError, Fields, refill
from storage.models import Child, Discussion, Participant, Person, Series

AUTO, OOH, DAY = "auto", "yes", "no"
HOURS = (
    Option(AUTO, "Work it out from the meeting's time"),
    Option(OOH, "Out of hours"),
    Option(DAY, "Office hours"),
)


def _hours_inputs() -> list[Input]:
    return [
        Input(
            "out_of_hours",
            "Out of hours?",
            InputKind.CHOICE,
            options=HOURS,
            value=AUTO,
            hint="Worked out from the meeting's time, the council's office hours and bank holidays.",
        ),
        Input("hours_reason", "Reason, if you override that", InputKind.LONG_TEXT, max_length=1000),
    ]


def convene_form(ctx: Ctx, *, further_of: Discussion | None = None) -> Form:
    p = ctx.procedure
    soon = (ctx.local_now + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    deadline = ctx.local(
        clock.after_elapsed_hours(ctx.now, p.timescales.meeting_within_hours, ctx.dialogs.tz)
    )
    when = [
        Input(
            "format",
            "Format",
            InputKind.CHOICE,
            required=True,
            options=tuple(Option(f.id, f.label) for f in p.formats),
            value="meeting",
            hint=p.meeting_required_for(),
        ),
        Input("proposed_date", "Date", InputKind.DATE, required=True, value=soon.date().isoformat()),
    ]
    if further_of is not None:
        return Form(
            "reconvene",
            f"Further discussion: {further_of.case_ref}",
            (
                *when,
                Input("proposed_time", "Time", InputKind.TIME, required=True, value=soon.strftime("%H:%M")),
                *_hours_inputs(),
                Input(
                    "is_final",
                    "Is this the final discussion?",
                    InputKind.YES_NO,
                    options=YES_NO,
                    value="no",
                    hint="The final discussion involves every agency that took part in the first one.",
                ),
            ),
            "Convene",
            context=ctx.value(),
        )
    inputs = [
        Input(
            "case_ref",
            "Case reference(s)",
            InputKind.SHORT_TEXT,
            required=True,
            max_length=children.LABEL_LENGTH,
            hint="The case-management system's ID of each child; siblings separated by commas. "
            "Do not enter names.",
        ),
        Input(
            "category",
            "Category of concern",
            InputKind.CHOICE,
            required=True,
            options=tuple(Option(c.id, c.label) for c in p.categories),
        ),
        Input(
            "concern",
            "The concern",
            InputKind.LONG_TEXT,
            required=True,
            max_length=3000,
            hint="The nature of the allegation or suspicion of abuse or neglect.",
        ),
        Input(
            "immediate_risk", "Immediate risk to the child?", InputKind.YES_NO, required=True, options=YES_NO
        ),
        *circumstance_inputs(ctx, None),
        Input(
            "referring_agency",
            "Referring agency",
            InputKind.CHOICE,
            required=True,
            options=tuple(Option(a.id, a.label) for a in p.agencies),
        ),
        *when,
        Input(
            "proposed_time",
            "Time",
            InputKind.TIME,
            required=True,
            value=soon.strftime("%H:%M"),
            hint=f"Must be held within {p.timescales.meeting_within_hours} hours: "
            f"by {deadline:%a %d %b %H:%M}.",
        ),
        Input("late_reason", "Reason if later than that", InputKind.LONG_TEXT, max_length=1000),
        *_hours_inputs(),
    ]
    return Form("convene", "Convene a strategy discussion", tuple(inputs), "Convene")


def may_chair(ctx: Ctx, out_of_hours: bool) -> str | None:
    """Why the actor may not chair a meeting at those hours, if they may not."""
    role = ctx.procedure.role(ctx.actor.role)
    if role.id not in ctx.procedure.chair_roles():
        return f"A {role.label} may not chair a strategy discussion; please ask a team manager."
    if role.out_of_hours_only and not out_of_hours:
        return "That meeting falls in office hours: the day duty team chairs it."
    return None


@on(TurnKind.COMMAND, "convene", Act.CONVENE)
async def ask_convene(ctx: Ctx) -> list[Card]:
    role = ctx.procedure.role(ctx.actor.role)
    if role.id not in ctx.procedure.chair_roles():
        raise DialogError(f"A {role.label} may not chair a strategy discussion; please ask a team manager.")
    return [ctx.reply("", form=convene_form(ctx))]


def read_when(ctx: Ctx, f: Fields, *, first: bool = True) -> tuple[datetime | None, str | None]:
    """The proposed local date and time as aware UTC, checked against now and, for a first
    discussion, the 24-hour deadline (a further one is held on the date the chair sets)."""
    day, at = (
        f.date("proposed_date", required=True, not_before=ctx.today),
        f.time("proposed_time", required=True),
    )
    late_reason = f.text("late_reason", max_length=1000) if first else None
    if day is None or at is None:
        return None, late_reason
    try:
        proposed = clock.localize(datetime.combine(day, at), ctx.dialogs.tz)
    except ValueError:
        f.error(
            "proposed_time",
            "That time does not exist on that day (the clocks go forward); please pick another.",
        )
        return None, late_reason
    if proposed < ctx.now - timedelta(minutes=5):
        f.error("proposed_time", "That time has passed; please give a time from now on.")
    deadline = clock.after_elapsed_hours(
        ctx.now, ctx.procedure.timescales.meeting_within_hours, ctx.dialogs.tz
    )
    if first and proposed > deadline and not late_reason:
        f.error(
            "late_reason",
            f"This is after the deadline ({ctx.local(deadline):%a %d %b %H:%M}); "
            "please give the reason, which goes into the record.",
        )
    return proposed, late_reason


def read_hours(ctx: Ctx, f: Fields, proposed: datetime | None) -> tuple[bool, bool, str | None]:
    """(out of hours, as worked out from the meeting's time, the chair's reason for overriding it)."""
    detected = proposed is not None and ctx.procedure.out_of_hours_at(
        proposed, tz=ctx.dialogs.tz, nation=ctx.dialogs.nation
    )
    choice = f.choice("out_of_hours", {o.value for o in HOURS}) or AUTO
    reason = f.text("hours_reason", max_length=1000)
    if choice == AUTO or (choice == OOH) == detected:
        return detected, detected, None
    if not reason:
        worked_out = "out of hours" if detected else "in office hours"
        f.error("hours_reason", f"The meeting's time is {worked_out}; please say why you override that.")
    return choice == OOH, detected, reason


@on(TurnKind.FORM, "convene", Act.CONVENE)
async def convene(ctx: Ctx) -> list[Card]:
    p, f = ctx.procedure, Fields(ctx.turn.fields)
    refs = children.parse_refs(f.text("case_ref", required=True, max_length=children.LABEL_LENGTH) or "")
    if refs.problem:
        f.error("case_ref", refs.problem)
    category = f.choice("category", {c.id for c in p.categories}, required=True)
    concern = f.text("concern", required=True)
    immediate = f.yes_no("immediate_risk", required=True)
    referring = f.choice("referring_agency", {a.id for a in p.agencies}, required=True)
    fmt = f.choice("format", {x.id for x in p.formats}, required=True)
    proposed, late_reason = read_when(ctx, f)
    ooh, detected, hours_reason = read_hours(ctx, f, proposed)
    if proposed is not None and (why := may_chair(ctx, ooh)):
        f.error("proposed_time", why)
    d = Discussion(
        series_id=0,
        case_ref=children.label(list(refs.refs)),
        category=category or "",
        concern=concern or "",
        immediate_risk=bool(immediate),
        referring_agency=referring or "other",
        out_of_hours=ooh,
        out_of_hours_detected=detected,
        out_of_hours_reason=hours_reason,
        format=fmt or "meeting",
        convened_by_id=ctx.actor.person_id,
        chair_id=ctx.actor.person_id,
        convened_at=ctx.now,
        proposed_at=proposed or ctx.now,
        meeting_due_at=clock.after_elapsed_hours(ctx.now, p.timescales.meeting_within_hours, ctx.dialogs.tz),
        late_reason=late_reason,
        nation=ctx.dialogs.nation,
    )
    apply_answers(d, read_answers(ctx, f, d))
    if category and fmt and fmt != "meeting" and needs_meeting(ctx, [d]):
        f.error("format", "The procedure requires a meeting (not calls) for this kind of case.")
    existing = [
        s
        for r in refs.refs
        if f.ok and (s := await children.open_series(ctx.session, ctx.dialogs.council, r))
    ]
    if existing:
        f.error("case_ref", " ".join([await _already_open(ctx, s) for s in existing]))
    if not f.ok:
        cards = [ctx.reply("", form=refill(convene_form(ctx), ctx.turn.fields, f.errors))]
        cards += [await _offer_further(ctx, s) for s in existing]
        return cards

    opened = [Series(council=ctx.dialogs.council, case_ref=ref, opened_at=ctx.now) for ref in refs.refs]
    ctx.session.add_all(opened)
    await ctx.session.flush()
    series_ids = [s.id for s in opened if s.id is not None]
    d.series_id = series_ids[0]
    ctx.session.add(d)
    await ctx.session.flush()
    ctx.switch(d)
    for n, (ref, series_id) in enumerate(zip(refs.refs, series_ids, strict=True), 1):
        ctx.session.add(
            Child(
                discussion_id=ctx.did,
                series_id=series_id,
                case_ref=ref,
                position=n,
                added_at=ctx.now,
                added_by_id=ctx.actor.person_id,
            )
        )
    await ctx.session.flush()
    ctx.session.add(chair_of(ctx))
    await ctx.audit(
        "discussion.convened",
        case_ref=d.case_ref,
        children=len(refs.refs),
        series_id=series_ids[0],
        series_ids=series_ids,
        out_of_hours=ooh,
        out_of_hours_detected=detected,
        out_of_hours_overridden=hours_reason is not None,
        format=d.format,
    )
    cards = await ctx.changed()
    cards.append(stage_card(ctx, "concern", concern_text(ctx)))
    cards.append(
        ctx.reply(
            f"Convened {d.case_ref}. Meeting due by {ctx.local(d.meeting_due_at):%a %d %b %H:%M}. "
            "Next: invite police, health and the referring agency.",
            buttons=(Button("invite", "Invite people", ctx.value(), "primary"),),
        )
    )
    if ooh:
        cards.append(out_of_hours_notice(ctx))
    return cards


def chair_of(ctx: Ctx) -> Participant:
    """The convener, who chairs the discussion: taking part from the start."""
    a = ctx.actor
    return Participant(
        discussion_id=ctx.did,
        person_id=a.person_id,
        agency=a.agency,
        role=a.role,
        is_chair=True,
        status="accepted",
        how="chat",
        responded_at=ctx.now,
    )


def out_of_hours_notice(ctx: Ctx) -> Card:
    d = ctx.d
    return Card(
        target=Target(TargetKind.CHANNEL, place="out_of_hours", discussion_id=ctx.did),
        title=f"New out-of-hours strategy discussion: {d.case_ref}",
        text=f"Meeting at {ctx.local(d.proposed_at):%a %d %b %H:%M}; "
        f"due by {ctx.local(d.meeting_due_at):%a %d %b %H:%M}.",
        preview=f"{d.case_ref}: strategy discussion out of hours",
    )


def needs_meeting(ctx: Ctx, discussions: list[Discussion]) -> bool:
    """A meeting (not calls) is required if any discussion of the series needed one."""
    p = ctx.procedure
    return any(
        p.category(d.category).meeting_required or (bool(d.complex_case) and p.complex_case_requires_meeting)
        for d in discussions
    )


async def series_discussions(ctx: Ctx, series_id: int) -> list[Discussion]:
    """The discussions of a child's series, in order."""
    return [d for _, d in await children.series_children(ctx.session, series_id)]


async def _already_open(ctx: Ctx, series: Series) -> str:
    assert series.id is not None
    latest = (await series_discussions(ctx, series.id))[-1]
    chair = await ctx.session.get(Person, latest.chair_id)
    return (
        f"{series.case_ref} already has an open series of strategy discussions: discussion {latest.number} "
        f"is {STATE_LABELS[State(latest.state)]}, chaired by {chair.display_name if chair else 'someone'}. "
        "Hold a further discussion in that series instead, or close it first."
    )


async def _offer_further(ctx: Ctx, series: Series) -> Card:
    assert series.id is not None
    latest = (await series_discussions(ctx, series.id))[-1]
    buttons = [Button("discussion.open", "Open it", str(latest.id))]
    if latest.state == State.SIGNED_OFF and not latest.is_final:
        buttons.insert(0, Button("reconvene", "Further discussion", str(latest.id), "primary"))
    return ctx.reply(f"{series.case_ref} already has an open series.", buttons=tuple(buttons))


def concern_text(ctx: Ctx) -> str:
    d, p = ctx.d, ctx.procedure
    return f"*Category:* {p.category(d.category).label}\n*Concern:* {d.concern}"
