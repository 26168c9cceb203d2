"""The plan for each child's S47 enquiry (the checklist, what parents and child are told, the planned
conference date) and the actions agreed, each with its owner, due date and the children it is for.

The plan can be filled in over several sittings; each form carries the plan's version. A sibling's
plan can start as a copy of another child's and then be edited.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlmodel import col

from dialogs import clock
from dialogs.children import children_input, ident
from dialogs.engine import Ctx
from dialogs.flows.attendance import participant_options
from dialogs.flows.registry import on
from dialogs.lifecycle import Act
from dialogs.model import Button, Card, Form, Input, InputKind, Option, TurnKind
from dialogs.validate import DialogError, Fields, Stale, refill
from storage.models import Action, ActionChild, Child, Person, Plan, PlanItem

NOT_APPLICABLE = re.compile(r"^\s*(n/?a|not applicable)\b[\s:.\-]*(?P<reason>.*)$", re.IGNORECASE | re.DOTALL)
YES_NO = (Option("yes", "Yes"), Option("no", "No"))


async def plan_rows(ctx: Ctx, child: Child) -> tuple[Plan | None, dict[str, PlanItem]]:
    plan = (await ctx.session.execute(select(Plan).where(col(Plan.child_id) == child.id))).scalar()
    items = (await ctx.session.execute(select(PlanItem).where(col(PlanItem.child_id) == child.id))).scalars()
    return plan, {i.item: i for i in items}


async def needs_plan(ctx: Ctx, child: Child) -> bool:
    """Whether the child's decision's outcome requires a plan (its `requires` in the procedure)."""
    decision = await ctx.decision(child)
    return decision is not None and "plan" in ctx.procedure.outcome(decision.outcome).requires


async def children_to_plan(ctx: Ctx) -> list[Child]:
    """The children whose S47 plan is still incomplete."""
    return [c for c in await ctx.children() if await needs_plan(ctx, c) and await plan_gaps(ctx, c)]


async def plan_child(ctx: Ctx) -> Child:
    """The child whose plan the turn is about: the one named, or the only one needing a plan (the
    first still incomplete, if several)."""
    if ctx.child_named or len(await ctx.children()) == 1:
        child = await ctx.child()
        if not await needs_plan(ctx, child):
            raise DialogError(
                f"The plan is for S47 enquiries: record a decision to start them for {child.case_ref} first."
            )
        return child
    planned = [c for c in await ctx.children() if await needs_plan(ctx, c)]
    if not planned:
        raise DialogError("The plan is for S47 enquiries: record a decision to start them first.")
    for c in planned:
        if await plan_gaps(ctx, c):
            return c
    return planned[0]


def _item_value(item: PlanItem | None) -> str | None:
    if item is None:
        return None
    return f"N/A: {item.na_reason}" if item.not_applicable else item.answer


async def plan_form(ctx: Ctx, child: Child) -> Form:
    plan, items = await plan_rows(ctx, child)
    held = ctx.d.held_on or ctx.today
    icpc_due = clock.add_working_days(held, ctx.procedure.timescales.icpc_working_days, ctx.dialogs.nation)
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
            "Initial child protection conference date (planned)",
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
    version = plan.version if plan else 0
    return Form(
        "plan",
        f"S47 plan: {child.case_ref}",
        tuple(inputs),
        "Save plan",
        context=ctx.value("", version, child=child),
    )


async def plan_gaps(ctx: Ctx, child: Child) -> list[str]:
    """What the child's plan still lacks (empty when complete)."""
    plan, items = await plan_rows(ctx, child)
    missing = [c.label for c in ctx.procedure.s47_checklist if c.id not in items]
    if plan is None or plan.tell_parents is None:
        missing.append("whether parents/carers are told")
    if plan is None or not plan.tell_parents_how:
        missing.append("what parents/carers are told, or why not")
    if plan is None or plan.icpc_on is None:
        missing.append("the conference date")
    return missing


@on(TurnKind.BUTTON, "plan", Act.PLAN)
async def ask_plan(ctx: Ctx) -> list[Card]:
    return [ctx.reply("", form=await plan_form(ctx, await plan_child(ctx)))]


@on(TurnKind.FORM, "plan", Act.PLAN)
async def save_plan(ctx: Ctx) -> list[Card]:
    """Saves what is given, so a long plan can be filled in over several sittings; a form with a
    problem saves nothing and comes back with what was typed."""
    child = await plan_child(ctx)
    f = Fields(ctx.turn.fields)
    plan, items = await plan_rows(ctx, child)
    if ctx.stale(plan.version if plan else 0):
        raise Stale(await plan_form(ctx, child), ctx.turn.fields)
    answers: dict[str, tuple[str, re.Match[str] | None]] = {}
    for c in ctx.procedure.s47_checklist:
        text = f.text(f"item_{c.id}")
        if text is None:
            continue
        na = NOT_APPLICABLE.match(text)
        if na and not na.group("reason").strip():
            f.error(f"item_{c.id}", "Please say why it does not apply (N/A: reason).")
        answers[c.id] = (text, na)
    tell, how = f.yes_no("tell_parents"), f.text("tell_parents_how")
    icpc_on = f.date("icpc_on", not_before=ctx.today)
    late = f.text("icpc_late_reason", max_length=1000)
    limit = ctx.procedure.timescales.icpc_working_days
    held = ctx.d.held_on or ctx.today
    too_late = icpc_on is not None and clock.working_days_between(held, icpc_on, ctx.dialogs.nation) > limit
    if too_late and not (late or (plan and plan.icpc_late_reason)):
        f.error(
            "icpc_late_reason",
            f"That is more than {limit} working days after this discussion; "
            "please give the reason, which goes into the record.",
        )
    if not f.ok:
        return [ctx.reply("", form=refill(await plan_form(ctx, child), ctx.turn.fields, f.errors))]

    if plan is None:
        plan = Plan(discussion_id=ctx.did, child_id=ident(child))
        ctx.session.add(plan)
    for cid, (text, na) in answers.items():
        item = items.get(cid) or PlanItem(discussion_id=ctx.did, child_id=ident(child), item=cid)
        item.not_applicable = na is not None
        item.na_reason = na.group("reason").strip() if na else None
        item.answer = None if na else text
        ctx.session.add(item)
        if cid == "criminal_investigation":
            plan.criminal_investigation = text
    if tell is not None:
        plan.tell_parents = tell
    if how:
        plan.tell_parents_how = how
    if icpc_on:
        plan.icpc_on = icpc_on
    if late:
        plan.icpc_late_reason = late
    plan.updated_at = ctx.now
    await ctx.session.flush()
    missing = await plan_gaps(ctx, child)
    await ctx.audit("plan.saved", complete=not missing, child_id=child.id)
    cards = await ctx.changed()
    if missing:
        more = " ..." if len(missing) > 6 else ""
        return cards + [
            ctx.reply(
                "Saved. Still to answer: " + "; ".join(missing[:6]) + more, form=await plan_form(ctx, child)
            )
        ]
    return cards + [await _plan_done(ctx, child)]


async def _plan_done(ctx: Ctx, child: Child) -> Card:
    """After a complete plan: the siblings' plans (to copy this one into, or to fill in), actions, review."""
    others = [c for c in await children_to_plan(ctx) if c.id != child.id]
    buttons = [
        Button("copy_plan", f"Copy this plan to {c.case_ref}", ctx.value(c.id, child=child))
        for c in others[:3]
    ]
    buttons += [Button("plan", f"Plan: {c.case_ref}", ctx.value(child=c)) for c in others[:2]]
    buttons += [
        Button("add_action", "Add an action", ctx.value()),
        Button("review", "Review the record", ctx.value(), None if others else "primary"),
    ]
    many = len(await ctx.children()) > 1
    text = f"The S47 plan{f' for {child.case_ref}' if many else ''} is complete."
    if others:
        text += " Still to plan: " + ", ".join(c.case_ref for c in others) + "."
    else:
        text += " Add actions with owners and due dates, then review the record."
    return ctx.reply(text, buttons=tuple(buttons))


@on(TurnKind.BUTTON, "copy_plan", Act.PLAN)
async def copy_plan(ctx: Ctx) -> list[Card]:
    """A sibling's plan starts as a copy of this child's (answers the sibling has already keep theirs);
    the chair then edits it in the plan form, which is shown at once."""
    source = await plan_child(ctx)
    target = next((c for c in await ctx.children() if str(c.id) == ctx.subject), None)
    if target is None or target.id == source.id or not await needs_plan(ctx, target):
        raise DialogError("That sibling has no S47 enquiry to plan.")
    plan, items = await plan_rows(ctx, source)
    theirs, their_items = await plan_rows(ctx, target)
    if theirs is None:
        theirs = Plan(discussion_id=ctx.did, child_id=ident(target))
        ctx.session.add(theirs)
    copied = 0
    for cid, item in items.items():
        if cid not in their_items:
            ctx.session.add(
                PlanItem(
                    discussion_id=ctx.did,
                    child_id=ident(target),
                    item=cid,
                    answer=item.answer,
                    not_applicable=item.not_applicable,
                    na_reason=item.na_reason,
                )
            )
            copied += 1
    if plan is not None:
        for name in (
            "criminal_investigation",
            "tell_parents",
            "tell_parents_how",
            "icpc_on",
            "icpc_late_reason",
        ):
            if getattr(theirs, name) is None:
                setattr(theirs, name, getattr(plan, name))
    theirs.updated_at = ctx.now
    await ctx.session.flush()
    await ctx.audit("plan.copied", from_child_id=source.id, to_child_id=target.id, items=copied)
    return await ctx.changed() + [
        ctx.reply(
            f"Copied the plan of {source.case_ref} to {target.case_ref}: check and edit it for "
            f"{target.case_ref} now.",
            form=await plan_form(ctx, target),
        )
    ]


# --- actions ---------------------------------------------------------------------------------------


async def action_form(ctx: Ctx) -> Form:
    options = tuple(
        Option(o.value.partition(".")[0], o.label) for o in await participant_options(ctx)
    )  # the person, whatever their row's version: an action does not edit attendance
    chair = await ctx.session.get(Person, ctx.d.chair_id)
    assert chair is not None
    options = (Option(str(chair.id), f"{chair.display_name} - chair"), *options)
    inputs = [
        Input("description", "Action", InputKind.LONG_TEXT, required=True, max_length=1000),
        Input("owner", "Owner", InputKind.CHOICE, required=True, options=options),
        Input("due_on", "Due date", InputKind.DATE, required=True),
    ]
    children = await ctx.children()
    if len(children) > 1:
        inputs.append(children_input(children, "For which children"))
    return Form("add_action", f"Action: {ctx.d.case_ref}", tuple(inputs), "Add action", context=ctx.value())


@on(TurnKind.BUTTON, "add_action", Act.ADD_ACTION)
async def ask_action(ctx: Ctx) -> list[Card]:
    return [ctx.reply("", form=await action_form(ctx))]


@on(TurnKind.FORM, "add_action", Act.ADD_ACTION)
async def add_action(ctx: Ctx) -> list[Card]:
    form = await action_form(ctx)
    f = Fields(ctx.turn.fields)
    description = f.text("description", required=True, max_length=1000)
    owner = f.choice("owner", {o.value for o in form.inputs[1].options}, required=True)
    due_on = f.date("due_on", required=True, not_before=ctx.today)
    children = await ctx.children()
    if len(children) > 1:
        picked = f.choices("children", {str(c.id) for c in children}, required=True)
        children = [c for c in children if str(c.id) in picked]
    if not f.ok or owner is None or due_on is None or description is None:
        return [ctx.reply("", form=refill(form, ctx.turn.fields, f.errors))]
    person = await ctx.session.get(Person, int(owner))
    assert person is not None and person.id is not None
    action = Action(
        discussion_id=ctx.did,
        description=description,
        owner_id=person.id,
        owner_agency=person.agency,
        due_on=due_on,
        created_at=ctx.now,
    )
    ctx.session.add(action)
    await ctx.session.flush()
    assert action.id is not None
    ctx.session.add_all(ActionChild(action_id=action.id, child_id=c.id) for c in children if c.id)
    await ctx.audit(
        "action.added",
        action_id=action.id,
        owner_id=person.id,
        due_on=due_on.isoformat(),
        child_ids=[c.id for c in children],
    )
    refs = ", ".join(c.case_ref for c in children)
    return await ctx.changed() + [
        ctx.direct(
            person.id,
            f"You own an action from the strategy discussion on *{refs}*, due "
            f"{due_on:%a %d %b %Y}:\n{description}",
            title=f"Action for {ctx.d.case_ref}",
            buttons=(Button("action_done", "Mark done", ctx.value(action.id)),),
            preview=f"{ctx.d.case_ref}: action due {due_on:%d %b}",
        ),
        ctx.reply("Action added.", buttons=(Button("add_action", "Add another", ctx.value()),)),
    ]


@on(TurnKind.BUTTON, "action_done", Act.ACTION_DONE)
async def action_done(ctx: Ctx) -> list[Card]:
    action = await ctx.session.get(Action, int(ctx.subject)) if ctx.subject.isdigit() else None
    if action is None or action.discussion_id != ctx.did:
        raise DialogError("I cannot find that action.")
    if ctx.actor.person_id not in (action.owner_id, ctx.d.chair_id):
        raise DialogError("Only the action's owner or the chair can mark it done.")
    if action.status == "done":
        return [ctx.reply("That action is already marked done.")]
    action.status, action.done_at, action.done_by_id = "done", ctx.now, ctx.actor.person_id
    await ctx.audit("action.done", action_id=action.id)
    return await ctx.changed() + [ctx.reply("Marked done. Thank you.")]
