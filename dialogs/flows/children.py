"""Adding a sibling to a discussion (before any decision) or removing a child, each with a reason.

A child added later gets a series of their own, as at convening, and none of what was said before
about the children then present (a correction can add it); a child removed keeps their row
(when, by whom and why), their deadlines in this discussion are withdrawn, and their series closes if
this was its only discussion, so the case can be convened again.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import col

from dialogs import children as kids
from dialogs.children import ident
from dialogs.engine import Ctx
from dialogs.flows.registry import on
from dialogs.lifecycle import Act
from dialogs.model import Card, Form, Input, InputKind, Option, TurnKind
from dialogs.validate import DialogError, Fields, refill
from storage.models import Child, Contribution, ContributionChild, Series

ADD_HINT = "The case-management ID of each child to add, separated by commas. Only before any decision."


async def children_form(ctx: Ctx) -> Form:
    children = await ctx.children()
    inputs = [
        Input("add", "Add children (case references)", InputKind.SHORT_TEXT, max_length=300, hint=ADD_HINT)
    ]
    if len(children) > 1:
        options = tuple(Option(str(c.id), c.case_ref) for c in children)
        inputs.append(Input("remove", "Remove a child", InputKind.CHOICE, options=options))
    inputs.append(
        Input(
            "why",
            "Why",
            InputKind.LONG_TEXT,
            required=True,
            max_length=1000,
            hint="Goes into the audit trail (and the thread): e.g. a sibling named in the referral.",
        )
    )
    return Form("children", f"Children: {ctx.d.case_ref}", tuple(inputs), "Save", context=ctx.value())


@on(TurnKind.BUTTON, "children", Act.CHILDREN)
async def ask_children(ctx: Ctx) -> list[Card]:
    return [ctx.reply("", form=await children_form(ctx))]


@on(TurnKind.FORM, "children", Act.CHILDREN)
async def change_children(ctx: Ctx) -> list[Card]:
    form = await children_form(ctx)
    f = Fields(ctx.turn.fields)
    children = await ctx.children()
    added = kids.parse_refs(f.text("add", max_length=300) or "")
    remove = f.choice("remove", {str(c.id) for c in children}) if len(children) > 1 else None
    why = f.text("why", required=True, max_length=1000)
    if not added.refs and remove is None:
        f.error("add", "Give the case reference of a child to add, or choose one to remove.")
    elif added.refs and added.problem:
        f.error("add", added.problem)
    elif added.refs and await ctx.decisions():
        f.error("add", "A decision has been recorded: convene a discussion about the other child instead.")
    here = {c.case_ref.lower() for c in children}
    for ref in added.refs:
        if ref.lower() in here:
            f.error("add", f"{ref} is already part of this discussion.")
        elif await kids.open_series(ctx.session, ctx.dialogs.council, ref) is not None:
            f.error("add", f"{ref} already has an open series of strategy discussions: use that one.")
    if len(children) + len(added.refs) > kids.MAX_CHILDREN:
        f.error("add", f"At most {kids.MAX_CHILDREN} children in one discussion.")
    if not f.ok or why is None:
        return [ctx.reply("", form=refill(form, ctx.turn.fields, f.errors))]

    said: list[str] = []
    if added.refs:
        await _keep_to_those_present(ctx, children)
    for ref in added.refs:
        await _add(ctx, ref, why, position=len(children) + len(said) + 1)
        said.append(f"added {ref}")
    if remove is not None:
        child = next(c for c in children if str(c.id) == remove)
        child.removed_at, child.removed_by_id, child.removed_reason = ctx.now, ctx.actor.person_id, why
        await ctx.audit("child.removed", child_id=child.id, case_ref=child.case_ref, why=why)
        said.append(f"removed {child.case_ref}")
    await ctx.session.flush()
    ctx._children = None
    await kids.relabel(ctx.session, ctx.d)
    if not await ctx.children():
        raise DialogError("A discussion needs at least one child.")
    done = " and ".join(said)
    return await ctx.changed() + [
        ctx.thread(f"The chair {done}: {why}", title=f"Children of this discussion: {ctx.d.case_ref}"),
        ctx.reply(f"Saved: {done}."),
    ]


async def _keep_to_those_present(ctx: Ctx, children: list[Child]) -> None:
    """What was said about "all the children" was said about those present: a sibling added now does
    not get it on their record (the chair can add it with a correction)."""
    said = await ctx.session.execute(
        select(Contribution).where(col(Contribution.discussion_id) == ctx.did, col(Contribution.for_all))
    )
    for c in said.scalars():
        assert c.id is not None
        c.for_all = False
        ctx.session.add_all(ContributionChild(contribution_id=c.id, child_id=ident(x)) for x in children)


async def _add(ctx: Ctx, ref: str, why: str, *, position: int) -> None:
    """A new child in the discussion, in a series of their own (a removed one comes back)."""
    series = Series(council=ctx.dialogs.council, case_ref=ref, opened_at=ctx.now)
    ctx.session.add(series)
    await ctx.session.flush()
    assert series.id is not None
    removed = await ctx.session.execute(select(Child).where(col(Child.discussion_id) == ctx.did))
    child = next((c for c in removed.scalars() if c.case_ref.lower() == ref.lower()), None)
    if child is None:
        child = Child(discussion_id=ctx.did, series_id=series.id, case_ref=ref)
        ctx.session.add(child)
    child.series_id, child.position, child.number, child.previous_id = series.id, position, 1, None
    child.added_at, child.added_by_id, child.added_reason = ctx.now, ctx.actor.person_id, why
    child.removed_at = child.removed_by_id = child.removed_reason = None
    await ctx.session.flush()
    await ctx.audit("child.added", child_id=child.id, case_ref=ref, series_id=series.id, why=why)
