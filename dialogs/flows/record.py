"""The record: review, the chair's sign-off, circulation, and each recipient's acknowledgement."""

from sqlalchemy import func, select

from dialogs.flows.registry import on
from dialogs.model import Button, Card, Form, Input, InputKind, TurnKind
from dialogs.quorum import PRESENT, quorum_agencies, required_attendees
from dialogs.record_text import assemble
from dialogs.validate import DialogError, Fields, refill
from storage.models import Circulation, RecordVersion

SIGNABLE = {"decided", "planned"}


async def _gaps(ctx) -> tuple[list[str], list[str]]:
    """What the procedure asked for that did not happen, and agencies nobody from which was invited."""
    parts = await ctx.participants()
    unmet = [n.label for n in required_attendees(ctx.procedure, ctx.d, parts) if not n.met]
    invited = {p.agency for p in parts}
    wanted = [ctx.d.referring_agency, *quorum_agencies(ctx.procedure, ctx.d)]
    uninvited = [a.label for a in ctx.procedure.agencies if a.id in wanted and a.id not in invited]
    return unmet, uninvited


async def signoff_form(ctx) -> Form:
    inputs = [
        Input(
            "monitoring",
            "Who monitors progress, and how",
            InputKind.LONG_TEXT,
            required=True,
            max_length=1000,
            value=ctx.d.monitoring,
        )
    ]
    unmet, uninvited = await _gaps(ctx)
    if unmet:
        inputs.append(
            Input(
                "unmet_reason",
                "Not met: " + "; ".join(unmet) + ". Why the discussion went ahead",
                InputKind.LONG_TEXT,
                required=True,
                max_length=1000,
            )
        )
    if uninvited:
        inputs.append(
            Input(
                "notify_others",
                "Not invited: " + ", ".join(uninvited) + ". How and when they will be told the outcome",
                InputKind.LONG_TEXT,
                required=True,
                max_length=1000,
                hint="The referrer and agencies that did not attend must be told within 1 working day.",
            )
        )
    return Form(
        "signoff",
        f"Sign off: {ctx.d.case_ref}",
        tuple(inputs),
        "Sign off and circulate",
        context=str(ctx.d.id),
    )


async def _check_signable(ctx) -> None:
    d = ctx.d
    decision = await ctx.decision()
    if decision is None:
        raise DialogError("Record the decision before signing off the record.")
    if ctx.procedure.outcome(decision.outcome).starts_s47 and d.state != "planned":
        raise DialogError(
            "Complete the S47 plan (every checklist item answered or marked N/A) before signing off."
        )
    if d.state not in SIGNABLE:
        raise DialogError("This record has already been signed off.")


@on(TurnKind.BUTTON, "review", who="chair")
async def review(ctx) -> list[Card]:
    await _check_signable(ctx)
    await ctx.audit("record.viewed")  # who saw the record, as well as who changed it
    return [
        ctx.reply(await assemble(ctx), title=f"Draft record: {ctx.d.case_ref}", form=await signoff_form(ctx))
    ]


@on(TurnKind.FORM, "signoff", who="chair")
async def sign_off(ctx) -> list[Card]:
    await _check_signable(ctx)
    d, f = ctx.d, Fields(ctx.turn.fields)
    monitoring = f.text("monitoring", required=True, max_length=1000)
    form = await signoff_form(ctx)
    asked = {i.id for i in form.inputs}
    unmet_reason = f.text("unmet_reason", required="unmet_reason" in asked, max_length=1000)
    notify_others = f.text("notify_others", required="notify_others" in asked, max_length=1000)
    if not f.ok:
        return [
            ctx.reply(
                await assemble(ctx),
                title=f"Draft record: {d.case_ref}",
                form=refill(form, ctx.turn.fields, f.errors),
            )
        ]
    unmet, uninvited = await _gaps(ctx)
    d.monitoring = monitoring
    if unmet_reason:
        d.monitoring += f"\nNot met ({'; '.join(unmet)}); went ahead because: {unmet_reason}"
    if notify_others:
        d.monitoring += f"\nOutcome to {', '.join(uninvited)}: {notify_others}"
    version = (
        await ctx.session.execute(
            select(func.coalesce(func.max(RecordVersion.version), 0)).where(
                RecordVersion.discussion_id == d.id
            )
        )
    ).scalar() + 1
    record = RecordVersion(
        discussion_id=d.id,
        version=version,
        body=await assemble(ctx),
        created_at=ctx.now,
        signed_off_by_id=ctx.actor.person_id,
        signed_off_at=ctx.now,
    )
    ctx.session.add(record)
    d.state, d.stage = "signed_off", "record"
    await ctx.session.flush()
    await ctx.audit("record.signed_off", record_id=record.id, version=version)
    cards = await _circulate(ctx, record)
    d.state = "circulated"
    await ctx.audit("record.circulated", record_id=record.id, recipients=len(cards))
    return (
        await ctx.changed()
        + cards
        + [
            ctx.reply(
                f"Signed off and circulated to {len(cards)} {'person' if len(cards) == 1 else 'people'}. "
                "The discussion's post shows who has acknowledged it."
            )
        ]
    )


async def _circulate(ctx, record: RecordVersion) -> list[Card]:
    """The record to those who took part; the outcome to the referrer and agencies that did not attend."""
    d = ctx.d
    parts = await ctx.participants(fresh=True)
    present_agencies = {p.agency for p in parts if p.status in PRESENT}
    cards = []
    for part in parts:
        if part.is_chair:
            continue
        took_part = part.status in PRESENT
        referrer = part.role == "referrer" or part.agency == d.referring_agency
        if not took_part and not (referrer or part.agency not in present_agencies):
            continue  # their agency was represented: the attendee carries the record back
        kind = "record" if took_part else "outcome_notification"
        c = Circulation(record_id=record.id, person_id=part.person_id, kind=kind, sent_at=ctx.now)
        ctx.session.add(c)
        await ctx.session.flush()
        body = record.body if took_part else await _outcome_text(ctx)
        cards.append(
            ctx.direct(
                part.person_id,
                body,
                title=f"{'Record' if took_part else 'Outcome'} of strategy discussion: {d.case_ref}",
                buttons=(Button("ack", "Acknowledge receipt", f"{d.id}:{c.id}", "primary"),),
                key=f"circulation:{c.id}",
                preview=f"{d.case_ref}: {'record' if took_part else 'outcome'} to acknowledge",
            )
        )
    return cards


async def _outcome_text(ctx) -> str:
    decision = await ctx.decision()
    outcome = ctx.procedure.outcome(decision.outcome)
    return (
        f"The strategy discussion about case *{ctx.d.case_ref}* held on {ctx.d.held_on:%d %b %Y} decided: "
        f"*{outcome.label}*.\nReasons: {decision.reasons}\nPlease contact the chair for anything further."
    )


@on(TurnKind.BUTTON, "ack", who="participant")
async def acknowledge(ctx) -> list[Card]:
    c = await ctx.session.get(Circulation, int(ctx.subject)) if ctx.subject.isdigit() else None
    if c is None or c.person_id != ctx.actor.person_id:
        raise DialogError("That acknowledgement is not yours to give.")
    record = await ctx.session.get(RecordVersion, c.record_id)
    if record.discussion_id != ctx.d.id:
        raise DialogError("That acknowledgement belongs to another discussion.")
    if c.acknowledged_at is not None:
        return [ctx.reply("You have already acknowledged it. Thank you.")]
    c.acknowledged_at = ctx.now
    await ctx.audit("record.acknowledged", circulation_id=c.id, person_id=c.person_id)
    return await ctx.changed() + [ctx.reply(f"Acknowledged: {ctx.d.case_ref}. Thank you.")]


CLOSABLE = {"convened", "in_discussion", "decided", "planned", "signed_off", "circulated"}


def close_form(ctx) -> Form:
    reason = Input(
        "reason",
        "Why it is closed",
        InputKind.LONG_TEXT,
        required=True,
        max_length=1000,
        hint="e.g. enquiries complete, or convened in error. Its open deadlines stop.",
    )
    return Form("close", f"Close {ctx.d.case_ref}", (reason,), "Close", context=str(ctx.d.id))


@on(TurnKind.BUTTON, "close", who="chair")
async def ask_close(ctx) -> list[Card]:
    if ctx.d.state not in CLOSABLE:
        raise DialogError("This discussion is already closed.")
    return [ctx.reply("", form=close_form(ctx))]


@on(TurnKind.FORM, "close", who="chair")
async def close(ctx) -> list[Card]:
    if ctx.d.state not in CLOSABLE:
        raise DialogError("This discussion is already closed.")
    f = Fields(ctx.turn.fields)
    reason = f.text("reason", required=True, max_length=1000)
    if not f.ok:
        return [ctx.reply("", form=refill(close_form(ctx), ctx.turn.fields, f.errors))]
    previous = ctx.d.state
    ctx.d.state = "closed"
    ctx.d.monitoring = (ctx.d.monitoring + "\n" if ctx.d.monitoring else "") + f"Closed: {reason}"
    await ctx.audit("discussion.closed", previous_state=previous)
    return await ctx.changed() + [ctx.reply(f"{ctx.d.case_ref} is closed. Its reminders stop.")]
