"""The chair's decision on S47 enquiries, and the plan for them: checklist, actions, ICPC date."""

import re

from sqlalchemy import select

from dialogs import clock
from dialogs.flows.registry import on
from dialogs.model import Button, Card, Form, Input, InputKind, Option, TurnKind
from dialogs.validate import DialogError, Fields, refill
from storage.models import Action, Decision, Person, Plan, PlanItem

NOT_APPLICABLE = re.compile(r"^\s*(n/?a|not applicable)\b[\s:.\-]*(?P<reason>.*)$", re.IGNORECASE | re.DOTALL)
YES_NO = (Option("yes", "Yes"), Option("no", "No"))
DECIDABLE = {"in_discussion", "decided", "planned"}


def decision_form(ctx, current: Decision | None = None) -> Form:
    v = (lambda name: getattr(current, name, None)) if current else (lambda name: None)
    return Form(
        "decide",
        f"Decision: {ctx.d.case_ref}",
        (
            Input(
                "outcome",
                "Outcome",
                InputKind.CHOICE,
                required=True,
                value=v("outcome"),
                options=tuple(Option(o.id, o.label) for o in ctx.procedure.outcomes),
            ),
            Input(
                "reasons",
                "Reasons for the decision",
                InputKind.LONG_TEXT,
                required=True,
                max_length=3000,
                value=v("reasons"),
            ),
            Input(
                "risks",
                "Risks identified that informed it",
                InputKind.LONG_TEXT,
                required=True,
                max_length=3000,
                value=v("risks"),
            ),
            Input(
                "reconvene_on",
                "Reconvene date (Single Assessment)",
                InputKind.DATE,
                value=v("reconvene_on") and v("reconvene_on").isoformat(),
            ),
            Input(
                "alternative",
                "No S47: what happens instead",
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
        ),
        "Record decision",
        context=str(ctx.d.id),
    )


@on(TurnKind.BUTTON, "decide", who="chair")
async def ask_decide(ctx) -> list[Card]:
    _check_decidable(ctx)
    return [ctx.reply("", form=decision_form(ctx, await ctx.decision()))]


def _check_decidable(ctx) -> None:
    if ctx.d.state == "convened":
        raise DialogError("Start the discussion and hear each agency before deciding.")
    if ctx.d.state not in DECIDABLE:
        raise DialogError("The record has been signed off; the decision can no longer be changed.")


@on(TurnKind.FORM, "decide", who="chair")
async def decide(ctx) -> list[Card]:
    _check_decidable(ctx)
    f = Fields(ctx.turn.fields)
    outcome_id = f.choice("outcome", {o.id for o in ctx.procedure.outcomes}, required=True)
    reasons = f.text("reasons", required=True)
    risks = f.text("risks", required=True)
    outcome = ctx.procedure.outcome(outcome_id) if outcome_id else None
    needs = set(outcome.requires) if outcome else set()
    reconvene_on = f.date("reconvene_on", required="reconvene_date" in needs, not_before=ctx.today)
    alternative = f.text("alternative", required="alternative" in needs)
    services, refer_again = f.text("services"), f.text("refer_again_when")
    if not f.ok:
        return [ctx.reply("", form=refill(decision_form(ctx), ctx.turn.fields, f.errors))]
    decision = await ctx.decision() or Decision(
        discussion_id=ctx.d.id, outcome=outcome_id, reasons="", risks="", decided_by_id=ctx.actor.person_id
    )
    changed = decision.id is not None
    decision.outcome, decision.reasons, decision.risks = outcome_id, reasons, risks
    decision.reconvene_on = reconvene_on if "reconvene_date" in needs else None
    decision.alternative, decision.services, decision.refer_again_when = alternative, services, refer_again
    decision.decided_by_id, decision.decided_at = ctx.actor.person_id, ctx.now
    ctx.session.add(decision)
    ctx.d.state = "decided"
    ctx.d.stage = "decision"
    await ctx.audit("decision.changed" if changed else "decision.recorded", outcome=outcome_id)
    cards = await ctx.changed()
    cards.append(
        ctx.thread(f"*Decision:* {outcome.label}", title=f"Decision recorded by the chair ({ctx.d.case_ref})")
    )
    if outcome.starts_s47:
        cards.append(
            ctx.reply(
                "Decision recorded. Next: plan the S47 enquiry.",
                buttons=(Button("plan", "Plan the S47 enquiry", str(ctx.d.id), "primary"),),
            )
        )
    else:
        cards.append(
            ctx.reply(
                "Decision recorded. Next: review and sign off the record.",
                buttons=(Button("review", "Review the record", str(ctx.d.id), "primary"),),
            )
        )
    return cards


async def plan_rows(ctx) -> tuple[Plan | None, dict[str, PlanItem]]:
    plan = (await ctx.session.execute(select(Plan).where(Plan.discussion_id == ctx.d.id))).scalar()
    items = (await ctx.session.execute(select(PlanItem).where(PlanItem.discussion_id == ctx.d.id))).scalars()
    return plan, {i.item: i for i in items}


def _item_value(item: PlanItem | None) -> str | None:
    if item is None:
        return None
    return f"N/A: {item.na_reason}" if item.not_applicable else item.answer


async def plan_form(ctx) -> Form:
    plan, items = await plan_rows(ctx)
    icpc_due = clock.add_working_days(
        ctx.d.held_on, ctx.procedure.timescales.icpc_working_days, ctx.dialogs.nation
    )
    inputs = [
        Input(
            f"item_{c.id}",
            c.label,
            InputKind.LONG_TEXT,
            max_length=3000,
            value=_item_value(items.get(c.id)),
            hint=(c.help + " " if c.help else "") + "Answer, or write 'N/A: reason'.",
        )
        for c in ctx.procedure.s47_checklist
    ]
    inputs += [
        Input(
            "tell_parents",
            "Will parents/carers and the child be told now?",
            InputKind.YES_NO,
            options=YES_NO,
            value=None
            if plan is None or plan.tell_parents is None
            else ("yes" if plan.tell_parents else "no"),
        ),
        Input(
            "tell_parents_how",
            "What they are told, when, how and by whom - or why not",
            InputKind.LONG_TEXT,
            max_length=3000,
            value=plan.tell_parents_how if plan else None,
        ),
        Input(
            "icpc_on",
            "Initial child protection conference date",
            InputKind.DATE,
            value=plan.icpc_on.isoformat() if plan and plan.icpc_on else None,
            hint=f"Within {ctx.procedure.timescales.icpc_working_days} working days: by {icpc_due:%d %b %Y}.",
        ),
        Input(
            "icpc_late_reason",
            "Reason if the conference is later",
            InputKind.LONG_TEXT,
            max_length=1000,
            value=plan.icpc_late_reason if plan else None,
        ),
    ]
    return Form(
        "plan", f"S47 plan: {ctx.d.case_ref}", tuple(inputs), "Save plan", context=str(ctx.d.id), error=None
    )


@on(TurnKind.BUTTON, "plan", who="chair")
async def ask_plan(ctx) -> list[Card]:
    await _check_plannable(ctx)
    return [ctx.reply("", form=await plan_form(ctx))]


async def _check_plannable(ctx) -> None:
    decision = await ctx.decision()
    if decision is None or not ctx.procedure.outcome(decision.outcome).starts_s47:
        raise DialogError("The plan is for S47 enquiries: record a decision to start them first.")
    if ctx.d.state not in DECIDABLE:
        raise DialogError("The record has been signed off; the plan can no longer be changed.")


@on(TurnKind.FORM, "plan", who="chair")
async def save_plan(ctx) -> list[Card]:
    """Saves whatever is valid, so a long plan can be filled in over several sittings."""
    await _check_plannable(ctx)
    f = Fields(ctx.turn.fields)
    plan, items = await plan_rows(ctx)
    if plan is None:
        plan = Plan(discussion_id=ctx.d.id)
        ctx.session.add(plan)
    missing = []
    for c in ctx.procedure.s47_checklist:
        key = f"item_{c.id}"
        text = f.text(key)
        if text is None:
            if c.id not in items:
                missing.append(c.label)
            continue
        item = items.get(c.id) or PlanItem(discussion_id=ctx.d.id, item=c.id)
        na = NOT_APPLICABLE.match(text)
        if na and not na.group("reason").strip():
            f.error(key, "Please say why it does not apply (N/A: reason).")
            continue
        item.not_applicable = bool(na)
        item.na_reason = na.group("reason").strip() if na else None
        item.answer = None if na else text
        ctx.session.add(item)
        if c.id == "criminal_investigation":
            plan.criminal_investigation = text
    tell = f.yes_no("tell_parents")
    how = f.text("tell_parents_how")
    if tell is not None:
        plan.tell_parents = tell
    if how:
        plan.tell_parents_how = how
    icpc_on = f.date("icpc_on", not_before=ctx.today)
    late = f.text("icpc_late_reason", max_length=1000)
    limit = ctx.procedure.timescales.icpc_working_days
    if (
        icpc_on
        and clock.working_days_between(ctx.d.held_on, icpc_on, ctx.dialogs.nation) > limit
        and not (late or plan.icpc_late_reason)
    ):
        f.error(
            "icpc_late_reason",
            f"That is more than {limit} working days after this discussion; "
            "please give the reason, which goes into the record.",
        )
    elif icpc_on and f.ok:
        plan.icpc_on = icpc_on
    if late:
        plan.icpc_late_reason = late
    plan.updated_at = ctx.now
    if plan.tell_parents is None:
        missing.append("whether parents/carers are told")
    if not plan.tell_parents_how:
        missing.append("what parents/carers are told, or why not")
    if plan.icpc_on is None:
        missing.append("the conference date")
    await ctx.session.flush()
    await ctx.audit("plan.saved", complete=not missing and f.ok)
    if not f.ok:
        return await ctx.changed() + [
            ctx.reply("", form=refill(await plan_form(ctx), ctx.turn.fields, f.errors))
        ]
    if missing:
        return await ctx.changed() + [
            ctx.reply(
                "Saved. Still to answer: " + "; ".join(missing[:6]) + (" ..." if len(missing) > 6 else ""),
                form=await plan_form(ctx),
            )
        ]
    ctx.d.state = "planned"
    return await ctx.changed() + [
        ctx.reply(
            "The S47 plan is complete. Add actions with owners and due dates, then review the record.",
            buttons=(
                Button("add_action", "Add an action", str(ctx.d.id)),
                Button("review", "Review the record", str(ctx.d.id), "primary"),
            ),
        )
    ]


async def action_form(ctx) -> Form:
    from dialogs.flows.attendance import _participant_options

    options = await _participant_options(ctx)
    chair = await ctx.session.get(Person, ctx.d.chair_id)
    options = (Option(str(chair.id), f"{chair.display_name} - chair"),) + options
    return Form(
        "add_action",
        f"Action: {ctx.d.case_ref}",
        (
            Input("description", "Action", InputKind.LONG_TEXT, required=True, max_length=1000),
            Input("owner", "Owner", InputKind.CHOICE, required=True, options=options),
            Input("due_on", "Due date", InputKind.DATE, required=True),
        ),
        "Add action",
        context=str(ctx.d.id),
    )


@on(TurnKind.BUTTON, "add_action", who="chair")
async def ask_action(ctx) -> list[Card]:
    if ctx.d.state not in DECIDABLE:
        raise DialogError("Actions are agreed during the discussion, before the record is signed off.")
    return [ctx.reply("", form=await action_form(ctx))]


@on(TurnKind.FORM, "add_action", who="chair")
async def add_action(ctx) -> list[Card]:
    form = await action_form(ctx)
    f = Fields(ctx.turn.fields)
    description = f.text("description", required=True, max_length=1000)
    owner = f.choice("owner", {o.value for o in form.inputs[1].options}, required=True)
    due_on = f.date("due_on", required=True, not_before=ctx.today)
    if not f.ok:
        return [ctx.reply("", form=refill(form, ctx.turn.fields, f.errors))]
    person = await ctx.session.get(Person, int(owner))
    action = Action(
        discussion_id=ctx.d.id,
        description=description,
        owner_id=person.id,
        owner_agency=person.agency,
        due_on=due_on,
        created_at=ctx.now,
    )
    ctx.session.add(action)
    await ctx.session.flush()
    await ctx.audit("action.added", action_id=action.id, owner_id=person.id, due_on=due_on.isoformat())
    return await ctx.changed() + [
        ctx.direct(
            person.id,
            f"You own an action from the strategy discussion on *{ctx.d.case_ref}*, due "
            f"{due_on:%a %d %b %Y}:\n{description}",
            title=f"Action for {ctx.d.case_ref}",
            buttons=(Button("action_done", "Mark done", f"{ctx.d.id}:{action.id}"),),
            preview=f"{ctx.d.case_ref}: action due {due_on:%d %b}",
        ),
        ctx.reply("Action added.", buttons=(Button("add_action", "Add another", str(ctx.d.id)),)),
    ]


@on(TurnKind.BUTTON, "action_done", who="participant")
async def action_done(ctx) -> list[Card]:
    action = await ctx.session.get(Action, int(ctx.subject)) if ctx.subject.isdigit() else None
    if action is None or action.discussion_id != ctx.d.id:
        raise DialogError("I cannot find that action.")
    if ctx.actor.person_id not in (action.owner_id, ctx.d.chair_id):
        raise DialogError("Only the action's owner or the chair can mark it done.")
    if action.status == "done":
        return [ctx.reply("That action is already marked done.")]
    action.status = "done"
    await ctx.audit("action.done", action_id=action.id)
    return await ctx.changed() + [ctx.reply("Marked done. Thank you.")]
