"""What a discussion looks like: its main post, and the request for a late deadline's reason."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import col

from dialogs.clock import say_when
from dialogs.deadlines import series_icpc
from dialogs.engine import Ctx
from dialogs.lifecycle import (
    CLOSED_STATES,
    DEADLINE,
    DUE_STATE_LABELS,
    STATE_LABELS,
    Act,
    DueKind,
    DueState,
    State,
    allowed,
)
from dialogs.model import Button, Card, Ref, Target, TargetKind
from dialogs.quorum import STATUS_LABELS, quorum_met, required_attendees, unanswered
from dialogs.record_text import circulation_lines, ordinal
from storage.models import Child, Circulation, Discussion, DueItem, RecordVersion

# The acts the discussion's post offers, in the order shown; each only in the states the lifecycle
# table allows it (and only when it applies: see _applies).
POST_BUTTONS: tuple[tuple[Act, str, str], ...] = (
    (Act.START, "start", "Start"),
    (Act.DECIDE, "decide", "Decide"),
    (Act.PLAN, "plan", "Plan S47"),
    (Act.REVIEW, "review", "Review record"),
    (Act.TELL_OUTCOME, "tell_outcome", "Outcome told"),
    (Act.RECORD_ICPC, "icpc", "Conference"),
    (Act.FURTHER, "reconvene", "Further discussion"),
    (Act.NEXT_STAGE, "next_stage", "Next stage"),
    (Act.INVITE, "invite", "Invite"),
    (Act.CIRCUMSTANCES, "circumstances", "Circumstances"),
    (Act.BY_PHONE, "phone", "By phone"),
    (Act.ABSENT, "absent", "Absent"),
    (Act.CORRECT, "correct", "Correct"),
    (Act.ADD_ACTION, "add_action", "Add action"),
    (Act.CHILDREN, "children", "Children"),
    (Act.CLOSE, "close", "Close"),
)
PER_CHILD = frozenset({Act.PLAN, Act.RECORD_ICPC})  # with siblings: one button per child it applies to


async def _applies(ctx: Ctx, act: Act, items: list[DueItem], child: Child | None) -> bool:
    """Whether an act the state allows makes sense for this discussion (or this child) now."""
    d = ctx.d
    if act == Act.PLAN:
        from dialogs.flows.plan import needs_plan

        return any([await needs_plan(ctx, c) for c in ([child] if child else await ctx.children())])
    if act == Act.TELL_OUTCOME:
        return any(i.kind == DueKind.OUTCOME_NOTIFICATION and i.state == DueState.OPEN for i in items)
    if act == Act.RECORD_ICPC:
        for c in [child] if child else await ctx.children():
            icpc = await series_icpc(ctx.session, c.series_id)
            if icpc is not None and icpc.state == DueState.OPEN:
                return True
        return False
    if act == Act.FURTHER:
        from dialogs.flows.further import may_follow

        return bool(await may_follow(ctx))
    if act == Act.NEXT_STAGE:
        return d.stage != ctx.procedure.agenda[-1].id
    return True


async def _buttons(ctx: Ctx, items: list[DueItem]) -> tuple[Button, ...]:
    state = ctx.state
    children = await ctx.children()
    out: list[Button] = []
    for act, action, label in POST_BUTTONS:
        if not allowed(act, state):
            continue
        if act == Act.DECIDE and len(children) > 1 and state == State.DECIDED and await _all_decided(ctx):
            # Each child's decision is changed on its own: one form for all would overwrite the
            # siblings' different decisions with the first one's.
            for c in children:
                out.append(Button(action, f"Change decision: {c.case_ref}", ctx.value(child=c)))
            continue
        if act in PER_CHILD and len(children) > 1:
            for c in children:
                if await _applies(ctx, act, items, c):
                    out.append(
                        Button(
                            action, f"{label}: {c.case_ref}", ctx.value(child=c), None if out else "primary"
                        )
                    )
            continue
        if not await _applies(ctx, act, items, None):
            continue
        value = ctx.value()
        if act == Act.NEXT_STAGE:
            ids = [s.id for s in ctx.procedure.agenda]
            value = ctx.value(ids[ids.index(ctx.d.stage) + 1])
        if act == Act.DECIDE and state == State.DECIDED:
            label = "Change decision"
        out.append(Button(action, label, value, None if out else "primary"))
    return tuple(out)


async def _all_decided(ctx: Ctx) -> bool:
    return len(await ctx.decisions()) == len(await ctx.children())


async def child_lines(ctx: Ctx, items: list[DueItem]) -> list[str]:
    """Each child by case reference, with how their part stands: decision, plan, record."""
    from dialogs.flows.plan import needs_plan, plan_gaps

    p, decisions = ctx.procedure, await ctx.decisions()
    records = await _records(ctx)
    lines = ["*Children*"]
    for c in await ctx.children():
        decision = decisions.get(c.id or 0)
        bits = [p.outcome(decision.outcome).label if decision else "decision to come"]
        if decision is not None and await needs_plan(ctx, c):
            bits.append("plan complete" if not await plan_gaps(ctx, c) else "plan to complete")
        record, sent = records.get(c.id or 0, (None, []))
        if record is not None:
            acked = sum(1 for x in sent if x.acknowledged_at is not None)
            bits.append(f"record v{record.version} signed off, {acked} of {len(sent)} acknowledged")
        open_ = [
            i
            for i in items
            if i.child_id == c.id and i.state == DueState.OPEN and not DEADLINE[DueKind(i.kind)].chase
        ]
        if open_:
            bits.append(f"{len(open_)} deadline{'s' if len(open_) > 1 else ''} open")
        lines.append(f"- {c.case_ref}: " + "; ".join(bits))
    return lines


async def _records(ctx: Ctx) -> dict[int, tuple[RecordVersion, list[Circulation]]]:
    """Each child's latest signed-off record, with its circulation."""
    if ctx.state not in (State.SIGNED_OFF, *CLOSED_STATES):
        return {}  # before sign-off no record exists
    query = (
        select(RecordVersion)
        .where(col(RecordVersion.discussion_id) == ctx.did)
        .order_by(col(RecordVersion.version))
    )
    latest = {r.child_id: r for r in (await ctx.session.execute(query)).scalars()}
    sent = select(Circulation).where(col(Circulation.record_id).in_([r.id for r in latest.values()]))
    rows = list((await ctx.session.execute(sent)).scalars())
    return {k: (r, [c for c in rows if c.record_id == r.id]) for k, r in latest.items()}


async def main_card(ctx: Ctx, target: Target | None = None) -> Card:
    d, p, s = ctx.d, ctx.procedure, ctx.session
    parts = await ctx.participants(fresh=True)
    people = await ctx.people()
    children = await ctx.children()
    decision = await ctx.decision(children[0]) if len(children) == 1 else None
    outcome = p.outcome(decision.outcome) if decision else None
    items = list(
        (
            await s.execute(
                select(DueItem).where(col(DueItem.discussion_id) == ctx.did).order_by(col(DueItem.due_at))
            )
        ).scalars()
    )
    hours = "yes" if d.out_of_hours else "no"
    if d.out_of_hours_reason:
        hours += " (set by the chair)"
    facts = [
        ("State", STATE_LABELS[ctx.state]),
        ("Chair", people[d.chair_id].display_name),
        ("When", f"{ctx.local(d.proposed_at):%a %d %b %H:%M} ({p.format_label(d.format)})"),
        ("Meeting due by", f"{ctx.local(d.meeting_due_at):%a %d %b %H:%M}"),
        ("Out of hours", hours),
        ("Stage", next((st.title for st in p.agenda if st.id == d.stage), d.stage)),
        ("Quorum", "met" if quorum_met(p, d, parts) else "not met"),
    ]
    if outcome:
        facts.append(("Decision", outcome.label))
        if decision and decision.override_reason:
            facts.append(("Decided without", decision.override_unmet or "the quorum"))
    lines = await child_lines(ctx, items) if len(children) > 1 else []
    lines.append("*Required*")
    for question in unanswered(p, d):
        lines.append(f"- [ ] Answer: {question}")
    for need in required_attendees(p, d, parts):
        lines.append(f"- {'[x]' if need.met else '[ ]'} {need.label}{' - ' + need.note if need.note else ''}")
    lines.append("*Participants*")
    for part in parts:
        who = people[part.person_id].display_name
        agency = next((a.label for a in p.agencies if a.id == part.agency), part.agency)
        chair = " - chair" if part.is_chair else ""
        lines.append(f"- {who} ({agency}){chair}: {STATUS_LABELS.get(part.status, part.status)}")
    deadlines = [i for i in items if not DEADLINE[DueKind(i.kind)].chase and i.state != DueState.WITHDRAWN]
    if deadlines:
        lines.append("*Deadlines*")
        refs = {c.id: c.case_ref for c in children} if len(children) > 1 else {}
        lines += [deadline_line(ctx, i, refs.get(i.child_id)) for i in deadlines]
    records = await _records(ctx)
    if records:
        lines.append("*Circulation*")
        for c in children:
            if c.id in records:
                if len(children) > 1:
                    lines.append(f"_{c.case_ref}_")
                lines += await circulation_lines(ctx, records[c.id][0])
        from dialogs.flows.record import still_to_tell

        names = {a.id: a.label for a in p.agencies}
        untold = ", ".join(names.get(a, a) for a in await still_to_tell(ctx))
        if untold:
            lines.append(f"- still to be told the outcome: {untold}")
    return Card(
        target=target or Target(TargetKind.MAIN_POST, discussion_id=ctx.did),
        title=f"Strategy discussion {d.case_ref} ({ordinal(d)})",
        text="\n".join(lines),
        facts=tuple(facts),
        buttons=await _buttons(ctx, items),
        key=f"discussion:{ctx.did}",
        preview=f"Strategy discussion {d.case_ref}",
    )


def deadline_line(ctx: Ctx, item: DueItem, case_ref: str | None = None) -> str:
    """One deadline and how it stands: open with its due time, or how it ended; `case_ref`: the
    child whose deadline it is, among siblings."""
    label = ctx.procedure.deadline_label(item.kind) + (f" ({case_ref})" if case_ref else "")
    due = say_when(item.due_at, ctx.dialogs.tz)
    state = DueState(item.state)
    if state == DueState.OPEN:
        return f"- {label}: due {due}"
    out = f"- {label}: {DUE_STATE_LABELS[state]}"
    if item.ended_at is not None and state in (DueState.MET, DueState.LATE):
        # The conference is judged by the day it was held, which its end already names.
        when = "" if item.kind == DueKind.ICPC else f", {ctx.local(item.ended_at):%d %b %H:%M}"
        out += f" ({item.ended_by}{when})"
    if state in (DueState.LATE, DueState.MISSED, DueState.CLOSED):
        out += f"; reason: {item.reason}" if item.reason else "; the chair's reason is still to come"
    return out


async def late_reason_card(ctx: Ctx, item: DueItem) -> Card:
    """To the chair, when a deadline's act came after its due time: the reason goes into the record."""
    d = ctx.d if item.discussion_id == ctx.did else await ctx.session.get(Discussion, item.discussion_id)
    assert d is not None and item.ended_at is not None
    child = await ctx.session.get(Child, item.child_id) if item.child_id is not None else None
    ref = child.case_ref if child is not None else d.case_ref
    what = ctx.procedure.deadline_label(item.kind, in_sentence=True)
    due, done = say_when(item.due_at, ctx.dialogs.tz), say_when(item.ended_at, ctx.dialogs.tz)
    return Card(
        target=Target(TargetKind.DIRECT, person_id=d.chair_id, discussion_id=d.id),
        title=f"Done late: {what}",
        text=f"Case {ref}: {what} was due by {due} and was done {done}. "
        "Please give the reason: it goes into the record.",
        facts=(("Case", ref), ("Deadline", due)),
        buttons=(Button("due.missed_reason", "Give the reason", str(Ref(d.id, str(item.id))), "primary"),),
        key=f"late:{item.id}",
        preview=f"{ref}: a deadline met late, reason needed",
    )
