"""The record: review, the chair's sign-off, circulation, each recipient's acknowledgement, and the
outcome told to those who did not take part.

There is one record per child: sign-off signs each child's, and each is circulated and acknowledged
on its own. Sign-off signs what the chair reviewed: the sign-off form carries a fingerprint of the
drafts, and if one changed meanwhile (a late reply, a correction) the new drafts are shown instead.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import col

from dialogs import clock
from dialogs.children import ident
from dialogs.deadline_wants import outcome_told
from dialogs.engine import Ctx
from dialogs.flows.plan import needs_plan, plan_gaps
from dialogs.flows.registry import on
from dialogs.lifecycle import Act, State
from dialogs.model import Button, Card, Form, Input, InputKind, Option, TurnKind
from dialogs.quorum import PRESENT, agencies_to_tell
from dialogs.record_export import export_cards, seal
from dialogs.record_text import assemble, assemble_all, inert
from dialogs.record_to_chair import files_card
from dialogs.validate import DialogError, Fields, Stale, refill
from storage.models import Child, Circulation, OutcomeTold, RecordVersion

HOW_TOLD = (
    Option("phone", "By phone"),
    Option("secure_email", "By secure email"),
    Option("email", "By email"),
    Option("letter", "By letter"),
    Option("in_person", "In person"),
    Option("other", "Another way"),
)


def fingerprint(draft: str) -> str:
    return hashlib.sha256(draft.encode()).hexdigest()[:12]


async def _untold(ctx: Ctx) -> list[str]:
    """Agencies that must be told the outcome and that nobody invited can be sent it by the bot."""
    parts = await ctx.participants()
    invited = {p.agency for p in parts}
    return [a for a in agencies_to_tell(ctx.procedure, ctx.d, parts) if a not in invited]


def _labels(ctx: Ctx, agencies: list[str]) -> str:
    names = {a.id: a.label for a in ctx.procedure.agencies}
    return ", ".join(names.get(a, a) for a in agencies)


async def signoff_form(ctx: Ctx, draft: str) -> Form:
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
    untold = await _untold(ctx)
    if untold:
        inputs.append(
            Input(
                "notify_others",
                f"Not invited: {_labels(ctx, untold)}. How and when they will be told the outcome",
                InputKind.LONG_TEXT,
                required=True,
                max_length=1000,
                hint="The referrer and agencies that did not attend must be told within 1 working day; "
                "record it on the discussion's post once they have been.",
            )
        )
    return Form(
        "signoff",
        f"Sign off: {ctx.d.case_ref}",
        tuple(inputs),
        "Sign off and circulate",
        context=ctx.value("", fingerprint(draft)),
    )


async def _check_signable(ctx: Ctx) -> None:
    decisions = await ctx.decisions()
    waiting = [c.case_ref for c in await ctx.children() if c.id not in decisions]
    if waiting:
        raise DialogError(f"Record the decision for {', '.join(waiting)} before signing off the records.")
    for child in await ctx.children():
        if await needs_plan(ctx, child) and await plan_gaps(ctx, child):
            raise DialogError(
                f"Complete the S47 plan for {child.case_ref} (every checklist item answered or marked N/A) "
                "before signing off."
            )


async def _review_card(ctx: Ctx, form: Form | None = None, draft: str | None = None) -> Card:
    draft = draft if draft is not None else await assemble_all(ctx)
    many = len(await ctx.children()) > 1
    return ctx.reply(
        draft,
        title=f"Draft record{'s, one per child' if many else ''}: {ctx.d.case_ref}",
        form=form or await signoff_form(ctx, draft),
    )


@on(TurnKind.BUTTON, "review", Act.REVIEW)
async def review(ctx: Ctx) -> list[Card]:
    await _check_signable(ctx)
    await ctx.audit("record.viewed")  # who saw the record, as well as who changed it
    return [await _review_card(ctx)]


@on(TurnKind.FORM, "signoff", Act.SIGN_OFF)
async def sign_off(ctx: Ctx) -> list[Card]:
    await _check_signable(ctx)
    d, f = ctx.d, Fields(ctx.turn.fields)
    draft = await assemble_all(ctx)
    form = await signoff_form(ctx, draft)
    monitoring = f.text("monitoring", required=True, max_length=1000)
    asked = {i.id for i in form.inputs}
    notify_others = f.text("notify_others", required="notify_others" in asked, max_length=1000)
    if not f.ok or monitoring is None:
        return [await _review_card(ctx, refill(form, ctx.turn.fields, f.errors), draft)]
    if ctx.stale(fingerprint(draft)):
        raise Stale(form, ctx.turn.fields, draft)  # the chair signs what they read: here it is now
    untold = await _untold(ctx)
    d.monitoring = monitoring
    if notify_others:
        d.monitoring += f"\nOutcome to {_labels(ctx, untold)}: {notify_others}"
    cards: list[Card] = []
    records = []
    for child in await ctx.children():
        record = await _sign(ctx, child)
        records.append(record)
        cards += await _circulate(ctx, child, record)
    d.state, d.stage = State.SIGNED_OFF, "record"
    await ctx.audit("record.circulated", record_ids=[r.id for r in records], recipients=len(cards))
    people = len({c.target.person_id for c in cards})
    note = f"Signed off and circulated to {people} {'person' if people == 1 else 'people'}."
    if len(records) > 1:
        note = f"Signed off {len(records)} records, one per child, and circulated each to {people} people."
    buttons: tuple[Button, ...] = ()
    if untold:
        note += (
            f" The outcome still has to reach: {_labels(ctx, untold)}. Record it once they have been told."
        )
        buttons = (Button("tell_outcome", "Record who was told", ctx.value(), "primary"),)
    exports = export_cards(ctx.dialogs, records)  # the export folder's files, when it has one
    files = files_card(d.chair_id, list(zip(await ctx.children(), records, strict=True)))  # DOCX, PDF
    return await ctx.changed() + cards + exports + [files, ctx.reply(note, buttons=buttons)]


async def _sign(ctx: Ctx, child: Child) -> RecordVersion:
    """The child's record as it stands, signed by the chair: the next version of that child's."""
    version = (
        await ctx.session.execute(
            select(func.coalesce(func.max(col(RecordVersion.version)), 0)).where(
                col(RecordVersion.child_id) == child.id
            )
        )
    ).scalar_one() + 1
    record = RecordVersion(
        discussion_id=ctx.did,
        child_id=ident(child),
        version=version,
        body=await assemble(ctx, child),
        created_at=ctx.now,
        signed_off_by_id=ctx.actor.person_id,
        signed_off_at=ctx.now,
    )
    ctx.session.add(record)
    await ctx.session.flush()
    await seal(ctx, child, record, "signed off")
    await ctx.audit("record.signed_off", record_id=record.id, version=version, child_id=child.id)
    return record


async def _circulate(ctx: Ctx, child: Child, record: RecordVersion) -> list[Card]:
    """The child's record to those who took part; the outcome to those invited from the agencies to
    tell. Each is a message of its own, acknowledged on its own."""
    assert record.id is not None  # flushed by the sign-off
    d = ctx.d
    parts = await ctx.participants(fresh=True)
    to_tell = set(agencies_to_tell(ctx.procedure, d, parts))
    cards = []
    for part in parts:
        if part.is_chair:
            continue
        took_part = part.status in PRESENT
        if not took_part and part.agency not in to_tell:
            continue  # their agency was represented: the attendee carries the record back
        kind = "record" if took_part else "outcome_notification"
        c = Circulation(record_id=record.id, person_id=part.person_id, kind=kind, sent_at=ctx.now)
        ctx.session.add(c)
        await ctx.session.flush()
        body = record.body if took_part else await _outcome_text(ctx, child)
        cards.append(
            ctx.direct(
                part.person_id,
                body,
                title=f"{'Record' if took_part else 'Outcome'} of strategy discussion: {child.case_ref}",
                buttons=(Button("ack", "Acknowledge receipt", ctx.value(c.id, child=child), "primary"),),
                key=f"circulation:{c.id}",
                preview=f"{child.case_ref}: {'record' if took_part else 'outcome'} to acknowledge",
            )
        )
    return cards


async def _outcome_text(ctx: Ctx, child: Child) -> str:
    decision = await ctx.decision(child)
    assert decision is not None
    outcome = ctx.procedure.outcome(decision.outcome)
    held = f" held on {ctx.d.held_on:%d %b %Y}" if ctx.d.held_on else ""
    return (
        f"The strategy discussion about case *{child.case_ref}*{held} decided: "
        f"*{outcome.label}*.\nReasons: {inert(decision.reasons)}\n"
        "Please contact the chair for anything further."
    )


@on(TurnKind.BUTTON, "ack", Act.ACKNOWLEDGE)
async def acknowledge(ctx: Ctx) -> list[Card]:
    c = await ctx.session.get(Circulation, int(ctx.subject)) if ctx.subject.isdigit() else None
    if c is None or c.person_id != ctx.actor.person_id:
        raise DialogError("That acknowledgement is not yours to give.")
    record = await ctx.session.get(RecordVersion, c.record_id)
    if record is None or record.discussion_id != ctx.did:
        raise DialogError("That acknowledgement belongs to another discussion.")
    if c.acknowledged_at is not None:
        return [ctx.reply("You have already acknowledged it. Thank you.")]
    c.acknowledged_at = ctx.now
    await ctx.audit("record.acknowledged", circulation_id=c.id, person_id=c.person_id, record_id=record.id)
    child = await ctx.session.get(Child, record.child_id)
    ref = child.case_ref if child is not None else ctx.d.case_ref
    return await ctx.changed() + [ctx.reply(f"Acknowledged: {ref}. Thank you.")]


# --- the outcome told another way -------------------------------------------------------------------


async def still_to_tell(ctx: Ctx) -> list[str]:
    """The agencies that must hear the outcome and have not (see deadlines.outcome_told)."""
    parts = await ctx.participants()
    told = await outcome_told(ctx.session, ctx.d, parts)
    return [a for a in agencies_to_tell(ctx.procedure, ctx.d, parts) if a not in told]


async def tell_form(ctx: Ctx) -> Form:
    agencies = await still_to_tell(ctx)
    if not agencies:
        raise DialogError(f"Everyone who had to be told the outcome of {ctx.d.case_ref} has been.")
    names = {a.id: a.label for a in ctx.procedure.agencies}
    now = ctx.local_now
    return Form(
        "tell_outcome",
        f"Outcome told: {ctx.d.case_ref}",
        (
            Input(
                "agency",
                "Which agency was told",
                InputKind.CHOICE,
                required=True,
                options=tuple(Option(a, names.get(a, a)) for a in agencies),
            ),
            Input("told_by", "Who told them", InputKind.SHORT_TEXT, required=True, max_length=200),
            Input("how", "How", InputKind.CHOICE, required=True, options=HOW_TOLD),
            Input("told_date", "Date", InputKind.DATE, required=True, value=now.date().isoformat()),
            Input("told_time", "Time", InputKind.TIME, required=True, value=now.strftime("%H:%M")),
        ),
        "Record",
        context=ctx.value(),
    )


@on(TurnKind.BUTTON, "tell_outcome", Act.TELL_OUTCOME)
async def ask_tell(ctx: Ctx) -> list[Card]:
    return [ctx.reply("", form=await tell_form(ctx))]


@on(TurnKind.FORM, "tell_outcome", Act.TELL_OUTCOME)
async def tell(ctx: Ctx) -> list[Card]:
    form = await tell_form(ctx)
    f = Fields(ctx.turn.fields)
    agency = f.choice("agency", {o.value for o in form.inputs[0].options}, required=True)
    told_by = f.text("told_by", required=True, max_length=200)
    how = f.choice("how", {o.value for o in HOW_TOLD}, required=True)
    day, at = f.date("told_date", required=True), f.time("told_time", required=True)
    told_at = clock.localize(datetime.combine(day, at), ctx.dialogs.tz) if day and at else None
    if told_at is not None and told_at > ctx.now:
        f.error("told_time", "That is in the future: record it once they have been told.")
    if not f.ok or agency is None or told_by is None or how is None or told_at is None:
        return [ctx.reply("", form=refill(form, ctx.turn.fields, f.errors))]
    ctx.session.add(
        OutcomeTold(
            discussion_id=ctx.did,
            agency=agency,
            told_by=told_by,
            how=how,
            told_at=told_at,
            recorded_by_id=ctx.actor.person_id,
            recorded_at=ctx.now,
        )
    )
    await ctx.audit("outcome.told", agency=agency, how=how, told_at=told_at.isoformat())
    left = [a for a in await still_to_tell(ctx) if a != agency]
    note = "Recorded." + (f" Still to tell: {_labels(ctx, left)}." if left else " Everyone has been told.")
    return await ctx.changed() + [ctx.reply(note)]
