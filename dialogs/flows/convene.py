"""Convening a discussion: the case, the concern, the format advice and the 24-hour deadline."""

import re
from dataclasses import replace
from datetime import datetime, timedelta

from dialogs import clock
from dialogs.flows.registry import on
from dialogs.flows.thread import stage_card
from dialogs.model import Button, Card, Form, Input, InputKind, Option, Target, TargetKind, TurnKind
from dialogs.validate import Fields, refill
from storage.models import Discussion, Participant

CASE_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9/_.\-]{0,63}")
FORMATS = (
    Option("meeting", "Meeting (in person or video)"),
    Option("call", "Phone call"),
    Option("series_of_calls", "Series of phone calls"),
)
YES_NO = (Option("yes", "Yes"), Option("no", "No"))
# The case's circumstances that call for particular people (the procedure's `requirements`).
FLAGS = {
    "possible_injury": "Possible injury or harm?",
    "medical_implications": "Medical implications or paediatric examination?",
    "hospital_involvement": "Child receiving hospital services?",
    "inpatient": "Child is an in-patient?",
    "complex_case": "Complex case?",
}


def out_of_hours_now(ctx) -> bool:
    return ctx.procedure.out_of_hours_at(ctx.now, tz=ctx.dialogs.tz, nation=ctx.dialogs.nation)


def convene_form(ctx, *, reconvene_of: Discussion | None = None) -> Form:
    p = ctx.procedure
    detected = out_of_hours_now(ctx)
    soon = (ctx.local_now + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    deadline = ctx.local(
        clock.after_elapsed_hours(ctx.now, p.timescales.meeting_within_hours, ctx.dialogs.tz)
    )
    inputs = [
        Input(
            "case_ref",
            "Case reference",
            InputKind.SHORT_TEXT,
            required=True,
            max_length=64,
            hint="The case-management system's ID. Do not enter the child's name.",
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
        *(Input(flag, label, InputKind.YES_NO, options=YES_NO, value="no") for flag, label in FLAGS.items()),
        Input(
            "referring_agency",
            "Referring agency",
            InputKind.CHOICE,
            required=True,
            options=tuple(Option(a.id, a.label) for a in p.agencies),
        ),
        Input(
            "out_of_hours",
            f"Out of hours? (detected: {'yes' if detected else 'no'})",
            InputKind.YES_NO,
            options=YES_NO,
            value="yes" if detected else "no",
        ),
        Input(
            "format",
            "Format",
            InputKind.CHOICE,
            required=True,
            options=FORMATS,
            value="meeting",
            hint="A meeting is preferred unless the risk is immediate; it is required for neglect, "
            "allegations against professionals, fabricated or induced illness, unexpected death and "
            "complex cases.",
        ),
        Input("proposed_date", "Date", InputKind.DATE, required=True, value=soon.date().isoformat()),
        Input(
            "proposed_time",
            "Time",
            InputKind.TIME,
            required=True,
            value=soon.strftime("%H:%M"),
            hint=f"Must be held within {p.timescales.meeting_within_hours} hours: by "
            f"{deadline:%a %d %b %H:%M}.",
        ),
        Input("late_reason", "Reason if later than that", InputKind.LONG_TEXT, max_length=1000),
    ]
    if reconvene_of is not None:
        keep = {"proposed_date", "proposed_time", "format"}
        # Held on the date the chair sets (e.g. the end of a Single Assessment), not within 24 hours.
        inputs = [replace(i, hint=None) if i.id == "proposed_time" else i for i in inputs if i.id in keep]
        inputs.append(
            Input(
                "is_final",
                "Is this the final discussion?",
                InputKind.YES_NO,
                options=YES_NO,
                value="no",
                hint="The final discussion involves everyone from the first one.",
            )
        )
        return Form(
            "reconvene",
            f"Reconvene {reconvene_of.case_ref}",
            tuple(inputs),
            "Reconvene",
            context=str(reconvene_of.id),
        )
    return Form("convene", "Convene a strategy discussion", tuple(inputs), "Convene")


@on(TurnKind.COMMAND, "convene", who="convener")
async def ask_convene(ctx) -> list[Card]:
    _check_may_chair(ctx)
    return [ctx.reply("", form=convene_form(ctx))]


def _check_may_chair(ctx) -> None:
    """The convener chairs: their role must allow it, and out-of-hours roles only out of hours."""
    from dialogs.validate import DialogError

    role = ctx.procedure.role(ctx.actor.role)
    if role.id not in ctx.procedure.chair_roles():
        raise DialogError(f"A {role.label} may not chair a strategy discussion; please ask a team manager.")
    if role.out_of_hours_only and not out_of_hours_now(ctx):
        raise DialogError("It is office hours: the day duty team convenes strategy discussions now.")


def read_when(ctx, f: Fields, *, first: bool = True) -> tuple[datetime | None, str | None]:
    """The proposed local date and time as aware UTC, checked against now and, for a first
    discussion, the 24-hour deadline (a reconvened one is held on the date the chair sets)."""
    day, at = (
        f.date("proposed_date", required=True, not_before=ctx.today),
        f.time("proposed_time", required=True),
    )
    late_reason = f.text("late_reason", max_length=1000)
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


@on(TurnKind.FORM, "convene", who="convener")
async def convene(ctx) -> list[Card]:
    _check_may_chair(ctx)
    p, f = ctx.procedure, Fields(ctx.turn.fields)
    case_ref = f.text("case_ref", required=True, max_length=64)
    if case_ref and not CASE_REF.fullmatch(case_ref):
        f.error("case_ref", "Use the case-management ID: letters, digits and - / _ . only (no names).")
    category = f.choice("category", {c.id for c in p.categories}, required=True)
    concern = f.text("concern", required=True)
    flags = {k: f.yes_no(k, default=False) for k in FLAGS}
    immediate = f.yes_no("immediate_risk", required=True)
    referring = f.choice("referring_agency", {a.id for a in p.agencies}, required=True)
    detected = out_of_hours_now(ctx)
    ooh = f.yes_no("out_of_hours", default=detected)
    fmt = f.choice("format", {o.value for o in FORMATS}, required=True)
    proposed, late_reason = read_when(ctx, f)
    if category and fmt and fmt != "meeting":
        needs_meeting = p.category(category).meeting_required or (
            flags["complex_case"] and p.complex_case_requires_meeting
        )
        if needs_meeting:
            f.error("format", "The procedure requires a meeting (not calls) for this kind of case.")
    if flags["inpatient"]:
        flags["hospital_involvement"] = True
    if not f.ok:
        return [ctx.reply("", form=refill(convene_form(ctx), ctx.turn.fields, f.errors))]

    meeting_due = clock.after_elapsed_hours(ctx.now, p.timescales.meeting_within_hours, ctx.dialogs.tz)
    d = Discussion(
        case_ref=case_ref,
        category=category,
        concern=concern,
        immediate_risk=bool(immediate),
        referring_agency=referring,
        out_of_hours=bool(ooh),
        out_of_hours_detected=detected,
        format=fmt,
        convened_by_id=ctx.actor.person_id,
        chair_id=ctx.actor.person_id,
        convened_at=ctx.now,
        proposed_at=proposed,
        meeting_due_at=meeting_due,
        late_reason=late_reason,
        nation=ctx.dialogs.nation,
        **flags,
    )
    ctx.session.add(d)
    await ctx.session.flush()
    ctx.discussion = d
    ctx.session.add(
        Participant(
            discussion_id=d.id,
            person_id=ctx.actor.person_id,
            agency=ctx.actor.agency,
            role=ctx.actor.role,
            is_chair=True,
            status="accepted",
            how="chat",
            responded_at=ctx.now,
        )
    )
    await ctx.audit(
        "discussion.convened",
        case_ref=case_ref,
        out_of_hours=bool(ooh),
        out_of_hours_detected=detected,
        format=fmt,
    )
    cards = await ctx.changed()
    cards.append(stage_card(ctx, "concern", _concern_text(ctx)))
    cards.append(
        ctx.reply(
            f"Convened {case_ref}. Meeting due by {ctx.local(meeting_due):%a %d %b %H:%M}. "
            "Next: invite police, health and the referring agency.",
            buttons=(Button("invite", "Invite people", str(d.id), "primary"),),
        )
    )
    if ooh:
        cards.append(
            Card(
                target=Target(TargetKind.CHANNEL, place="out_of_hours", discussion_id=d.id),
                title=f"New out-of-hours strategy discussion: {case_ref}",
                text=f"Meeting due by {ctx.local(meeting_due):%a %d %b %H:%M}.",
                preview=f"{case_ref}: strategy discussion convened out of hours",
            )
        )
    return cards


def _concern_text(ctx) -> str:
    d, p = ctx.d, ctx.procedure
    return f"*Category:* {p.category(d.category).label}\n*Concern:* {d.concern}"


@on(TurnKind.BUTTON, "reconvene", who="chair")
async def ask_reconvene(ctx) -> list[Card]:
    return [ctx.reply("", form=convene_form(ctx, reconvene_of=ctx.d))]


@on(TurnKind.FORM, "reconvene", who="chair")
async def reconvene(ctx) -> list[Card]:
    """A further (or the final) discussion: same case and people, numbered on from this one."""
    from sqlalchemy import func, select

    previous, f = ctx.d, Fields(ctx.turn.fields)
    fmt = f.choice("format", {o.value for o in FORMATS}, required=True)
    is_final = bool(f.yes_no("is_final", default=False))
    proposed, late_reason = read_when(ctx, f, first=False)
    if not f.ok:
        return [
            ctx.reply("", form=refill(convene_form(ctx, reconvene_of=previous), ctx.turn.fields, f.errors))
        ]
    number = (
        await ctx.session.execute(
            select(func.max(Discussion.number)).where(Discussion.case_ref == previous.case_ref)
        )
    ).scalar() + 1
    meeting_due = proposed  # the date the chair set, not 24 hours from now
    copy = {
        k: getattr(previous, k)
        for k in ("case_ref", "category", "concern", "immediate_risk", *FLAGS, "referring_agency", "nation")
    }
    d = Discussion(
        **copy,
        number=number,
        is_final=is_final,
        previous_id=previous.id,
        format=fmt,
        out_of_hours=out_of_hours_now(ctx),
        out_of_hours_detected=out_of_hours_now(ctx),
        convened_by_id=ctx.actor.person_id,
        chair_id=ctx.actor.person_id,
        convened_at=ctx.now,
        proposed_at=proposed,
        meeting_due_at=meeting_due,
        late_reason=late_reason,
    )
    ctx.session.add(d)
    await ctx.session.flush()
    old_people = await ctx.participants()
    ctx.discussion = d
    ctx._participants = None
    from dialogs.flows.attendance import invitation_card

    invitations = []
    for old in old_people:
        chair = old.person_id == ctx.actor.person_id
        part = Participant(
            discussion_id=d.id,
            person_id=old.person_id,
            agency=old.agency,
            role=old.role,
            is_chair=chair,
            status="accepted" if chair else "invited",
            responded_at=ctx.now if chair else None,
            invited_at=ctx.now,
        )
        ctx.session.add(part)
        await ctx.session.flush()
        if not chair:
            invitations.append(await invitation_card(ctx, part))
    await ctx.audit("discussion.reconvened", previous_id=previous.id, number=number, final=is_final)
    cards = await ctx.changed() + invitations
    cards.append(stage_card(ctx, "concern", _concern_text(ctx)))
    cards.append(
        ctx.reply(
            f"Reconvened {d.case_ref} as discussion {number}{' (final)' if is_final else ''}; "
            f"{len(invitations)} people invited again."
        )
    )
    return cards
