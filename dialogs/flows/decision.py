"""The chair's decision on S47 enquiries, and the team manager's review of a decision taken without
everyone the procedure requires. (The plan and the actions are in flows/plan.py.)

The decision is gated: the questions about the case's circumstances answered, the quorum for the
discussion's hours present, and the roles the case calls for taking part (or, for the police
safeguarding manager, their directions and reason recorded). The chair may decide without them only
with a reason, which goes on the record and to the team manager to review.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from dialogs.children import children_input
from dialogs.engine import Ctx
from dialogs.flows.circumstances import apply_answers, circumstance_inputs, read_answers, stamp
from dialogs.flows.registry import on
from dialogs.lifecycle import Act, State
from dialogs.model import Button, Card, Form, Input, InputKind, Option, Target, TargetKind, TurnKind
from dialogs.quorum import Answers, gate_unmet
from dialogs.validate import Fields, Stale, refill
from storage.models import Child, Decision, Person

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


async def for_children(ctx: Ctx) -> list[Child]:
    """Whom the decision form is for at first: the child the button named; otherwise the children
    still without a decision (all of them once each has one)."""
    if ctx.child_named:
        return [await ctx.child()]
    children, decided = await ctx.children(), await ctx.decisions()
    return [c for c in children if c.id not in decided] or children


async def decision_form(
    ctx: Ctx, chosen: list[Child], answers: Answers | None = None, *, every_question: bool = False
) -> Form:
    """The decision form for the `chosen` children (the same decision for each; siblings may then
    be given their own); `answers`: the circumstances as the chair has just answered them;
    `every_question`: ask all of them again, not only those without an answer yet."""
    children, decisions = await ctx.children(), await ctx.decisions()
    current = decisions.get(chosen[0].id or 0) if chosen else None

    def v(name: str) -> Any:
        return getattr(current, name, None) if current else None

    def required(field: str) -> bool:
        return all(field in o.requires for o in ctx.procedure.outcomes)

    inputs = circumstance_inputs(ctx, ctx.d, only_unanswered=not every_question)
    unmet = gate_unmet(ctx.procedure, ctx.d, await ctx.participants(), answers)
    if len(children) > 1:
        about = children_input(
            children, "For which children (the same decision for each)", [str(c.id) for c in chosen]
        )
        inputs.append(
            replace(about, hint="A sibling with a different decision: record it next, for that child only.")
        )
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
        Input(
            "parents_told",
            "What the parents/carers and the child are told, when and by whom - or why not",
            InputKind.LONG_TEXT,
            max_length=3000,
            value=v("parents_told"),
            hint="For an S47 enquiry the plan asks this.",
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
    title = ", ".join(c.case_ref for c in chosen) if len(children) > 1 else ctx.d.case_ref
    return Form(
        "decide",
        f"Decision: {title}",
        tuple(inputs),
        "Record decision",
        context=ctx.value("", _version(ctx, children, decisions)),
    )


def _version(ctx: Ctx, children: list[Child], decisions: dict[int, Decision]) -> str:
    """What the form edits: the children's decisions, and the answers to the circumstances."""
    mine = ".".join(str(decisions[c.id].version if c.id in decisions else 0) for c in children if c.id)
    return f"{mine}.{stamp(ctx.d)}"


@on(TurnKind.BUTTON, "decide", Act.DECIDE)
async def ask_decide(ctx: Ctx) -> list[Card]:
    return [ctx.reply("", form=await decision_form(ctx, await for_children(ctx)))]


@on(TurnKind.FORM, "decide", Act.DECIDE)
async def decide(ctx: Ctx) -> list[Card]:
    children, decisions = await ctx.children(), await ctx.decisions()
    if ctx.stale(_version(ctx, children, decisions)):  # before checking it: its errors would be old
        raise Stale(await decision_form(ctx, await for_children(ctx), every_question=True), ctx.turn.fields)
    f = Fields(ctx.turn.fields)
    chosen = children
    if len(children) > 1:
        picked = f.choices("children", {str(c.id) for c in children}, required=True)
        chosen = [c for c in children if str(c.id) in picked]
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
    parents_told = f.text("parents_told")
    unmet = gate_unmet(ctx.procedure, ctx.d, await ctx.participants(), answers)
    override = f.text("override_reason", max_length=1000)
    if unmet and not override:
        f.error(
            "override_reason",
            "Not met: " + "; ".join(unmet) + ". Wait for them, or give the reason to decide without them.",
        )
    if not f.ok or outcome is None or not chosen:
        form = await decision_form(ctx, chosen or await for_children(ctx), answers)
        return [ctx.reply("", form=refill(form, ctx.turn.fields, f.errors))]

    changed_answers = apply_answers(ctx.d, answers)
    if changed_answers:
        await ctx.audit("circumstances.answered", answers=changed_answers)
    for child in chosen:
        assert child.id is not None
        current = decisions.get(child.id)
        decision = current or Decision(
            discussion_id=ctx.did,
            child_id=child.id,
            outcome=outcome.id,
            reasons="",
            risks="",
            decided_by_id=ctx.actor.person_id,
        )
        decision.outcome, decision.reasons, decision.risks = outcome.id, reasons or "", risks or ""
        decision.reconvene_on = reconvene_on if "reconvene_date" in needs else None
        decision.alternative, decision.services = alternative, services
        decision.refer_again_when, decision.parents_told = refer_again, parents_told
        decision.decided_by_id, decision.decided_at = ctx.actor.person_id, ctx.now
        decision.override_unmet = "; ".join(unmet) if unmet else None
        decision.override_reason = override if unmet else None
        if unmet:
            decision.override_reviewed_at = decision.override_reviewed_by_id = None
        ctx.session.add(decision)
        action = "decision.changed" if current else "decision.recorded"
        await ctx.audit(action, outcome=outcome.id, child_id=child.id, case_ref=child.case_ref)
    ctx.d.state, ctx.d.stage = State.DECIDED, "decision"
    if unmet:
        await ctx.audit("quorum.overridden", unmet=unmet, reason=override)
    cards = await ctx.changed()
    refs = ", ".join(c.case_ref for c in chosen)
    whose = f" for {refs}" if len(children) > 1 else ""
    title = f"Decision recorded by the chair ({refs})"
    cards.append(ctx.thread(f"*Decision{whose}:* {outcome.label}", title=title))
    if unmet:
        cards.append(await _override_notice(ctx))
    return cards + [await _next_step(ctx, whose)]


async def _next_step(ctx: Ctx, whose: str) -> Card:
    """What the chair does next: decide for the siblings still without a decision, plan each S47
    enquiry, or review the record."""
    decisions = await ctx.decisions()
    waiting = [c for c in await ctx.children() if c.id not in decisions]
    if waiting:
        left = ", ".join(c.case_ref for c in waiting)
        return ctx.reply(
            f"Decision recorded{whose}. Still to decide: {left}.",
            buttons=(Button("decide", "Decide for the others", ctx.value(), "primary"),),
        )
    from dialogs.flows.plan import children_to_plan  # plan imports this module's neighbours

    to_plan = await children_to_plan(ctx)
    if to_plan:
        buttons = tuple(
            Button(
                "plan",
                f"Plan the S47 enquiry: {c.case_ref}",
                ctx.value(child=c),
                "primary" if n == 0 else None,
            )
            for n, c in enumerate(to_plan[:5])
        )
        return ctx.reply(f"Decision recorded{whose}. Next: plan the S47 enquiry.", buttons=buttons)
    next_step = Button("review", "Review the record", ctx.value(), "primary")
    return ctx.reply(f"Decision recorded{whose}. Next: review and sign off the record.", buttons=(next_step,))


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
    """Marks the override reviewed: of the child the button names, or of every child decided with it."""
    decisions = await ctx.decisions()
    if ctx.child_named:
        decisions = {k: v for k, v in decisions.items() if k == (await ctx.child()).id}
    overridden = [x for x in decisions.values() if x.override_reason]
    if not overridden:
        return [ctx.reply(f"There is no override to review on {ctx.d.case_ref}.")]
    todo = [x for x in overridden if x.override_reviewed_at is None]
    if not todo:
        return [ctx.reply("It has already been reviewed. Thank you.")]
    for decision in todo:
        decision.override_reviewed_at, decision.override_reviewed_by_id = ctx.now, ctx.actor.person_id
        await ctx.audit("quorum.override_reviewed", child_id=decision.child_id)
    return await ctx.changed() + [ctx.reply(f"Recorded: you reviewed the decision on {ctx.d.case_ref}.")]
