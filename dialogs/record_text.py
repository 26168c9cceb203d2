"""The "record of strategy discussion", assembled from what the discussion holds: one per child.

Its sections follow PROCEDURE.md ("What the record holds"). The text is the small markdown subset
every surface renders, and it is what is exported to the council's case-management system. A child's
record holds what the discussion shared (attendance, the concern, the meeting) and what is the
child's own (decision, plan, actions for them, deadlines); of the contributions, those about every
child and those about this child, never one about a sibling only.
"""

from sqlalchemy import or_, select
from sqlmodel import col

from dialogs.deadlines import series_icpc
from dialogs.engine import Ctx
from dialogs.lifecycle import DEADLINE, DUE_STATE_LABELS, DueKind, DueState
from dialogs.quorum import STATUS_LABELS, circumstances, quorum_met, required_attendees
from storage.models import (
    Action,
    ActionChild,
    Child,
    Circulation,
    Contribution,
    ContributionChild,
    Discussion,
    DueItem,
    Person,
    Plan,
    PlanItem,
    RecordVersion,
    Series,
)

ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}


def ordinal(d: Discussion, child: Child | None = None) -> str:
    """First, second... or final: of the child's series when a child is given (siblings may differ)."""
    number = child.number if child is not None else d.number
    return "final" if d.is_final else ORDINALS.get(number, f"number {number}")


async def assemble_all(ctx: Ctx) -> str:
    """Every child's draft record, one after the other, for the chair to review at once."""
    return "\n\n".join([await assemble(ctx, c) for c in await ctx.children()])


async def assemble(ctx: Ctx, child: Child) -> str:
    d, p, s = ctx.d, ctx.procedure, ctx.session
    parts = await ctx.participants(fresh=True)
    people = await ctx.people()
    about_child = select(col(ContributionChild.contribution_id)).where(
        col(ContributionChild.child_id) == child.id
    )
    contributions = list(
        (
            await s.execute(
                select(Contribution)
                .where(
                    col(Contribution.discussion_id) == d.id,
                    or_(col(Contribution.for_all), col(Contribution.id).in_(about_child)),
                )
                .order_by(col(Contribution.created_at), col(Contribution.id))
            )
        ).scalars()
    )
    decision = await ctx.decision(child)
    plan = (await s.execute(select(Plan).where(col(Plan.child_id) == child.id))).scalar()
    items = {
        i.item: i
        for i in (await s.execute(select(PlanItem).where(col(PlanItem.child_id) == child.id))).scalars()
    }
    for_child = select(col(ActionChild.action_id)).where(col(ActionChild.child_id) == child.id)
    actions = list(
        (
            await s.execute(
                select(Action)
                .where(col(Action.discussion_id) == d.id, col(Action.id).in_(for_child))
                .order_by(col(Action.due_on))
            )
        ).scalars()
    )
    action_ids = {str(a.id) for a in actions}
    due_items = [
        i
        for i in (
            await s.execute(
                select(DueItem).where(col(DueItem.discussion_id) == d.id).order_by(col(DueItem.due_at))
            )
        ).scalars()
        # The child's own deadlines and the meeting's; of the actions, those for this child.
        if i.child_id == child.id
        or (i.child_id is None and (i.kind != DueKind.ACTION or i.subject in action_ids))
    ]
    ended = [
        i
        for i in due_items
        if i.state not in (DueState.OPEN, DueState.WITHDRAWN) and not DEADLINE[DueKind(i.kind)].chase
    ]
    series = await s.get(Series, child.series_id)
    icpc = await series_icpc(s, child.series_id)
    chair = people[d.chair_id]
    siblings = [c.case_ref for c in await ctx.children() if c.id != child.id]

    def role(r: str) -> str:
        try:
            return p.role(r).label
        except KeyError:
            return r

    def agency(a: str) -> str:
        try:
            return p.agency(a).label
        except KeyError:
            return a

    out = [
        f"*Record of strategy discussion: {child.case_ref}*",
        f"Discussion: {ordinal(d, child)} | Held: {d.held_on or 'not started'} | "
        f"Format: {p.format_label(d.format)}"
        + (" | Out of hours" if d.out_of_hours else "")
        + (f" (set by the chair: {d.out_of_hours_reason})" if d.out_of_hours_reason else ""),
        f"Convened: {ctx.local(d.convened_at):%d %b %Y %H:%M}; "
        f"proposed {ctx.local(d.proposed_at):%d %b %Y %H:%M}",
        f"Chair: {chair.display_name} ({role(next((x.role for x in parts if x.is_chair), ''))})",
    ]
    if siblings:
        out.append(
            f"Held together with the discussion about: {', '.join(siblings)} (each has their own record)"
        )
    if d.late_reason:
        out.append(f"Held later than {p.timescales.meeting_within_hours} hours because: {d.late_reason}")

    out.append("\n*Attendance*")
    for part in parts:
        person = people[part.person_id]
        how = {"phone": "by phone", "chat": "in the discussion"}.get(part.how or "", "")
        how = f", {how}" if how and part.status != "absent" else ""
        status = STATUS_LABELS.get(part.status, part.status)
        out.append(f"- {person.display_name}, {role(part.role)}, {agency(part.agency)}: {status}{how}")
    answers = circumstances(d)
    said = {True: "yes", False: "no", None: "not answered"}
    out.append("Circumstances: " + "; ".join(f"{c.label}: {said[answers[c.id]]}" for c in p.circumstances))
    out.append(f"Quorum: {'met' if quorum_met(p, d, parts) else 'NOT met'}")
    for need in required_attendees(p, d, parts):
        out.append(
            f"- {need.label}: {'yes' if need.met else 'no'}{' (' + need.note + ')' if need.note else ''}"
        )
    apologies = [x for x in parts if x.status in ("declined", "absent")]
    if apologies:
        out.append("\n*Apologies and agencies not present*")
        for x in apologies:
            out.append(
                f"- {people[x.person_id].display_name} ({agency(x.agency)}): {x.reason or 'no reason given'}"
            )
            if x.directions:
                out.append(f"  Directions given: {x.directions}")

    out.append(f"\n*The concern* ({p.category(d.category).label})\n{d.concern}")
    out.append("\n*Information shared, by agency*")
    by_agency: dict[str, list[Contribution]] = {}
    for c in contributions:
        by_agency.setdefault(c.agency, []).append(c)
    for agency_id, cs in by_agency.items():
        out.append(f"_{agency(agency_id)}_")
        for c in cs:
            via = " (by phone, entered by the chair)" if c.via == "phone_entered_by_chair" else ""
            out.append(
                f"- {people[c.person_id].display_name}{via}, {ctx.local(c.created_at):%d %b %H:%M}, "
                f"stage {c.stage}: {c.text}"
            )
    if not contributions:
        out.append("- none recorded")

    out.append("\n*Decision*")
    if decision:
        out.append(f"Outcome: {p.outcome(decision.outcome).label}")
        out.append(f"Reasons: {decision.reasons}")
        out.append(f"Risks identified: {decision.risks}")
        if decision.override_reason:
            reviewed = (
                f"reviewed by the team manager on {ctx.local(decision.override_reviewed_at):%d %b %Y}"
                if decision.override_reviewed_at
                else "to be reviewed by the team manager"
            )
            out.append(
                f"Decided without: {decision.override_unmet}. The chair's reason: {decision.override_reason} "
                f"({reviewed})"
            )
        if decision.reconvene_on:
            out.append(f"Reconvene on: {decision.reconvene_on:%d %b %Y}")
        for label, value in (
            ("Instead", decision.alternative),
            ("Services", decision.services),
            ("Refer again when", decision.refer_again_when),
        ):
            if value:
                out.append(f"{label}: {value}")
    else:
        out.append("- no decision recorded")

    if decision and "plan" in p.outcome(decision.outcome).requires:
        out.append("\n*S47 plan*")
        for check in p.s47_checklist:
            item = items.get(check.id)
            answer = (
                "not answered"
                if item is None
                else (f"not applicable: {item.na_reason}" if item.not_applicable else item.answer)
            )
            out.append(f"- {check.label}: {answer}")
        if plan:
            told = {True: "yes", False: "not now", None: "not decided"}[plan.tell_parents]
            out.append(f"Parents/carers and child told: {told}. {plan.tell_parents_how or ''}".rstrip())
            if plan.icpc_on:
                out.append(f"Initial child protection conference planned: {plan.icpc_on:%d %b %Y}")
            if plan.icpc_late_reason:
                out.append(
                    f"Conference later than {p.timescales.icpc_working_days} working days because: "
                    f"{plan.icpc_late_reason}"
                )
    if icpc is not None and series is not None:
        out.append(f"ICPC target date: {ctx.local(icpc.due_at):%d %b %Y}")
        if series.icpc_held_on:
            out.append(f"ICPC held on: {series.icpc_held_on:%d %b %Y}")
        elif series.icpc_not_required:
            out.append(f"ICPC not required: {icpc.reason or 'no reason given'}")

    out.append("\n*Actions*")
    for a in actions:
        out.append(
            f"- {a.description} - {people[a.owner_id].display_name} ({agency(a.owner_agency)}), "
            f"due {a.due_on:%d %b %Y}, {a.status}"
        )
    if not actions:
        out.append("- none")
    further = next((i for i in due_items if i.kind == DueKind.FURTHER_DISCUSSION), None)
    if further is not None:
        out.append(f"Next strategy discussion by: {ctx.local(further.due_at):%d %b %Y}")
    if ended:
        out.append("\n*Deadlines*")
        for i in ended:
            line = f"- {p.deadline_label(i.kind)}: {DUE_STATE_LABELS[DueState(i.state)]}"
            if i.ended_at is not None and i.state in (DueState.MET, DueState.LATE):
                when = "" if i.kind == DueKind.ICPC else f", {ctx.local(i.ended_at):%d %b %Y %H:%M}"
                line += f" ({i.ended_by}{when})"
            if i.reason:
                line += f"; reason: {i.reason}"
            out.append(line)
    out.append(f"\n*Monitoring*\n{d.monitoring or 'not yet recorded'}")
    if d.closed_reason:
        out.append(f"\n*Closed*\n{d.closed_reason}")
    return "\n".join(out)


async def circulation_lines(ctx: Ctx, record: RecordVersion) -> list[str]:
    s = ctx.session
    rows = (
        await s.execute(
            select(Circulation, Person)
            .join(Person, col(Person.id) == col(Circulation.person_id))
            .where(col(Circulation.record_id) == record.id)
            .order_by(col(Circulation.id))
        )
    ).all()
    return [
        f"- {person.display_name} ({'record' if c.kind == 'record' else 'outcome'}): sent "
        f"{ctx.local(c.sent_at):%d %b %H:%M}, "
        + (
            f"acknowledged {ctx.local(c.acknowledged_at):%d %b %H:%M}"
            if c.acknowledged_at
            else "not yet acknowledged"
        )
        for c, person in rows
    ]
