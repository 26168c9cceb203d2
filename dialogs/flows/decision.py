"""The chair's decision on S47 enquiries, and the team manager's review of a decision taken without
everyone the procedure requires. (The plan and the actions are in flows/plan.py.)

The decision is gated: the questions about the case's circumstances answered, the quorum for the
discussion's hours present, and the roles the case calls for taking part (or, for the police
safeguarding manager, their directions and reason recorded). The chair may decide without them only
with a reason, which goes on the record and to the team manager to review.
"""

from __future__ import annotations

from typing import Any

from dialogs.engine import Ctx
from dialogs.flows.circumstances import apply_answers, circumstance_inputs, read_answers, stamp
from dialogs.flows.registry import on
from dialogs.lifecycle import Act, State
from dialogs.model import Button, Card, Form, Input, InputKind, Option, Target, TargetKind, TurnKind
from dialogs.quorum import Answers, gate_unmet
from dialogs.validate import Fields, Stale, refill
from storage.models import Decision, Person

# The decision's fields each outcome may require (the procedure's `requires`), with their labels.
FIELDS = {
    "reasons": "Reasons for the decision",
    "risks": "Risks identified that informed it",
    "reconvene_date": "Reconvene date (Single Assessment)",
    "alternative": "No S47: what happens instead",
}


def _needed_by(ctx: Ctx, field: str) -> str | None:
    """Which outcomes need `field`, for the form's hint (None when all of them do)."""
    outcomes = ctx.procedure.outcomes
    needing = [o.label for o in outcomes if field in o.requires]
    if len(needing) == len(outcomes):
        return None
    return "Needed for: " + "; ".join(needing) if needing else None


async def decision_form(
    ctx: Ctx, current: Decision | None = None, answers: Answers | None = None, *, every_question: bool = False
) -> Form:
    """The decision form; `answers`: the circumstances as the chair has just answered them;
    `every_question`: ask all of them again, not only those without an answer yet."""

    def v(name: str) -> Any:
        return getattr(current, name, None) if current else None

    def required(field: str) -> bool:
        return all(field in o.requires for o in ctx.procedure.outcomes)

    inputs = circumstance_inputs(ctx, ctx.d, only_unanswered=not every_question)
    unmet = gate_unmet(ctx.procedure, ctx.d, await ctx.participants(), answers)
    inputs += [
        Input(
            "outcome",
            "Outcome",
            InputKind.CHOICE,
            required=True,
            value=v("outcome"),
            options=tuple(Option(o.id, o.label) for o in ctx.procedure.outcomes),
        ),
        *(
            Input(
                field,
                FIELDS[field],
                InputKind.LONG_TEXT,
                required=required(field),
                max_length=3000,
                value=v(field),
                hint=_needed_by(ctx, field),
            )
            for field in ("reasons", "risks")
        ),
        Input(
            "reconvene_on",
            FIELDS["reconvene_date"],
            InputKind.DATE,
            value=v("reconvene_on") and v("reconvene_on").isoformat(),
            hint=_needed_by(ctx, "reconvene_date"),
        ),
        Input(
            "alternative",
            FIELDS["alternative"],
            InputKind.LONG_TEXT,
            max_length=3000,
            value=v("alternative"),
            hint="e.g. continue or complete the Child and Family Assessment",
        ),
        Input(
            "services",
            "No S47: services to be provided",
            InputKind.LONG_TEXT,
            max_length=3000,
            value=v("services"),
        ),
        Input(
            "refer_again_when",
            "No S47: when a further referral is needed",
            InputKind.LONG_TEXT,
            max_length=3000,
            value=v("refer_again_when"),
        ),
    ]
    if unmet or any(i.id.startswith("c_") for i in inputs):
        inputs.append(
            Input(
                "override_reason",
                "Not met: "
                + ("; ".join(unmet) if unmet else "(depends on the answers above)")
                + ". Why decide without them",
                InputKind.LONG_TEXT,
                max_length=1000,
                value=v("override_reason"),
                hint="Only if you must decide now: the reason goes on the record and to the team manager.",
            )
        )
    version = _version(ctx, current)
    return Form(
        "decide",
        f"Decision: {ctx.d.case_ref}",
        tuple(inputs),
        "Record decision",
        context=ctx.value("", version),
    )


def _version(ctx: Ctx, current: Decision | None) -> str:
    """What the form edits: the decision, and the answers to the circumstances it may change."""
    return f"{current.version if current else 0}.{stamp(ctx.d)}"


@on(TurnKind.BUTTON, "decide", Act.DECIDE)
async def ask_decide(ctx: Ctx) -> list[Card]:
    return [ctx.reply("", form=await decision_form(ctx, await ctx.decision()))]


@on(TurnKind.FORM, "decide", Act.DECIDE)
async def decide(ctx: Ctx) -> list[Card]:
    current = await ctx.decision()
    if ctx.stale(_version(ctx, current)):  # before checking it: its errors would be about old values
        raise Stale(await decision_form(ctx, current, every_question=True), ctx.turn.fields)
    f = Fields(ctx.turn.fields)
    answers = read_answers(ctx, f, ctx.d)
    for c in ctx.procedure.circumstances:
        if answers[c.id] is None:
            f.error(f"c_{c.id}", "Please answer this before the decision: it decides who must take part.")
    outcome_id = f.choice("outcome", {o.id for o in ctx.procedure.outcomes}, required=True)
    outcome = ctx.procedure.outcome(outcome_id) if outcome_id else None
    needs = set(outcome.requires) if outcome else set()
    reasons = f.text("reasons", required="reasons" in needs)
    risks = f.text("risks", required="risks" in needs)
    reconvene_on = f.date("reconvene_on", required="reconvene_date" in needs, not_before=ctx.today)
    alternative = f.text("alternative", required="alternative" in needs)
    services, refer_again = f.text("services"), f.text("refer_again_when")
    unmet = gate_unmet(ctx.procedure, ctx.d, await ctx.participants(), answers)
    override = f.text("override_reason", max_length=1000)
    if unmet and not override:
        f.error(
            "override_reason",
            "Not met: " + "; ".join(unmet) + ". Wait for them, or give the reason to decide without them.",
        )
    if not f.ok or outcome is None:
        return [
            ctx.reply("", form=refill(await decision_form(ctx, current, answers), ctx.turn.fields, f.errors))
        ]

    changed_answers = apply_answers(ctx.d, answers)
    if changed_answers:
        await ctx.audit("circumstances.answered", answers=changed_answers)
    decision = current or Decision(
        discussion_id=ctx.did, outcome=outcome.id, reasons="", risks="", decided_by_id=ctx.actor.person_id
    )
    decision.outcome, decision.reasons, decision.risks = outcome.id, reasons or "", risks or ""
    decision.reconvene_on = reconvene_on if "reconvene_date" in needs else None
    decision.alternative, decision.services, decision.refer_again_when = alternative, services, refer_again
    decision.decided_by_id, decision.decided_at = ctx.actor.person_id, ctx.now
    decision.override_unmet = "; ".join(unmet) if unmet else None
    decision.override_reason = override if unmet else None
    if unmet:
        decision.override_reviewed_at = decision.override_reviewed_by_id = None
    ctx.session.add(decision)
    ctx.d.state, ctx.d.stage = State.DECIDED, "decision"
    await ctx.audit("decision.changed" if current else "decision.recorded", outcome=outcome.id)
    if unmet:
        await ctx.audit("quorum.overridden", unmet=unmet, reason=override)
    cards = await ctx.changed()
    cards.append(
        ctx.thread(f"*Decision:* {outcome.label}", title=f"Decision recorded by the chair ({ctx.d.case_ref})")
    )
    if unmet:
        cards.append(await _override_notice(ctx))
    if "plan" in needs:
        next_step = Button("plan", "Plan the S47 enquiry", ctx.value(), "primary")
        cards.append(ctx.reply("Decision recorded. Next: plan the S47 enquiry.", buttons=(next_step,)))
    else:
        next_step = Button("review", "Review the record", ctx.value(), "primary")
        cards.append(
            ctx.reply("Decision recorded. Next: review and sign off the record.", buttons=(next_step,))
        )
    return cards


async def _override_notice(ctx: Ctx) -> Card:
    """The team manager (or, without one, the duty place) is asked to review the override."""
    chair = await ctx.session.get(Person, ctx.d.chair_id)
    manager = chair.manager_id if chair else None
    target = (
        Target(TargetKind.DIRECT, person_id=manager, discussion_id=ctx.did)
        if manager is not None
        else Target(TargetKind.CHANNEL, place="duty", discussion_id=ctx.did)
    )
    return Card(
        target=target,
        title=f"Review: decision without the quorum ({ctx.d.case_ref})",
        text=f"Case {ctx.d.case_ref}: the chair decided without everyone the procedure requires. "
        "Please open the discussion, read the reason and mark it reviewed.",
        buttons=(
            Button("review_override", "Mark reviewed", ctx.value(), "primary"),
            Button("discussion.open", "Open the discussion", ctx.value()),
        ),
        preview=f"{ctx.d.case_ref}: a decision to review",
    )


@on(TurnKind.BUTTON, "review_override", Act.REVIEW_OVERRIDE)
async def review_override(ctx: Ctx) -> list[Card]:
    decision = await ctx.decision()
    if decision is None or not decision.override_reason:
        return [ctx.reply(f"There is no override to review on {ctx.d.case_ref}.")]
    if decision.override_reviewed_at is not None:
        return [ctx.reply("It has already been reviewed. Thank you.")]
    decision.override_reviewed_at, decision.override_reviewed_by_id = ctx.now, ctx.actor.person_id
    await ctx.audit("quorum.override_reviewed")
    return await ctx.changed() + [ctx.reply(f"Recorded: you reviewed the decision on {ctx.d.case_ref}.")]
