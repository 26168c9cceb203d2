"""Builds one child's `Record` (dialogs/record_model.py) from what the database holds.

A child's record holds what the discussion shared (attendance, the concern, the meeting) and what is
the child's own (decision, plan, actions for them, deadlines); of the contributions, those about every
child and those about this child, never one about a sibling only.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import or_, select
from sqlmodel import col

from dialogs import clock
from dialogs import record_model as m
from dialogs.deadlines import series_icpc
from dialogs.engine import Ctx
from dialogs.lifecycle import DEADLINE, DueKind, DueState
from dialogs.quorum import circumstances, quorum_met, required_attendees
from dialogs.report_model import census_band
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
TOOK_PART = {"by_phone": m.TookPart.PHONE, "declined": m.TookPart.DECLINED, "absent": m.TookPart.ABSENT}
OUTCOMES = {
    DueState.OPEN: m.Outcome.OPEN,
    DueState.MET: m.Outcome.MET,
    DueState.LATE: m.Outcome.LATE,
    DueState.MISSED: m.Outcome.MISSED,
    DueState.CLOSED: m.Outcome.CLOSED,
}


def ordinal(number: int, is_final: bool) -> str:
    return "final" if is_final else ORDINALS.get(number, f"number {number}")


async def build(ctx: Ctx, child: Child, signed: RecordVersion | None = None) -> m.Record:
    """`child`'s record as the database holds it now; `signed`: the version it is (None: a draft)."""
    d, p, s = ctx.d, ctx.procedure, ctx.session
    parts = await ctx.participants(fresh=True)
    people = await ctx.people()

    def name(person_id: int | None) -> str:
        person = people.get(person_id) if person_id is not None else None
        return person.display_name if person else "someone"

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

    def local(at: datetime | None) -> datetime | None:
        return ctx.local(at) if at is not None else None

    decision = await ctx.decision(child)
    outcome = p.outcome(decision.outcome) if decision else None
    decided_by = await s.get(Person, decision.decided_by_id) if decision else None
    started, ended = local(d.started_at), local(decision.decided_at) if decision else None
    attendance = tuple(
        m.Attendee(
            name=name(x.person_id),
            role=role(x.role),
            agency=agency(x.agency),
            chair=x.is_chair,
            took_part=_took_part(x.status, x.how),
            reason=x.reason,
            directions=x.directions,
            role_id=x.role,
            agency_id=x.agency,
        )
        for x in parts
    )
    planned = (await s.execute(select(Plan).where(col(Plan.child_id) == child.id))).scalar()
    plan = await _plan(ctx, child, planned) if outcome is not None and "plan" in outcome.requires else None
    items = await _due_items(ctx, child)
    further = next((i for i in items if i.kind == DueKind.FURTHER_DISCUSSION), None)
    return m.Record(
        schema=m.SCHEMA_VERSION,
        case_ref=child.case_ref,
        discussion_id=ctx.did,
        discussion_number=child.number,
        discussion=ordinal(child.number, d.is_final),
        format=p.format_label(d.format),
        convened_at=ctx.local(d.convened_at),
        proposed_at=ctx.local(d.proposed_at),
        out_of_hours=d.out_of_hours,
        out_of_hours_reason=d.out_of_hours_reason,
        late_reason=d.late_reason,
        chair=name(d.chair_id),
        attendance=attendance,
        quorum_met=quorum_met(p, d, parts),
        requirements=tuple(m.Requirement(n.label, n.met, n.note) for n in required_attendees(p, d, parts)),
        circumstances={c.label: v for c, v in zip(p.circumstances, circumstances(d).values(), strict=True)},
        category=p.category(d.category).label,
        category_id=d.category,
        concern=d.concern,
        contributions=await _contributions(ctx, child, name, agency),
        decision=None
        if decision is None or outcome is None
        else m.Decision(
            outcome=outcome.id,
            label=outcome.label,
            reasons=decision.reasons,
            risks=decision.risks,
            starts_s47=outcome.starts_s47,
            decided_by=decided_by.display_name if decided_by else "the chair",
            decided_at=ctx.local(decision.decided_at),
            reconvene_on=decision.reconvene_on,
            instead=decision.alternative,
            services=decision.services,
            refer_again_when=decision.refer_again_when,
            override_unmet=decision.override_unmet,
            override_reason=decision.override_reason,
            override_reviewed_at=local(decision.override_reviewed_at),
        ),
        parents_told=_parents_told(planned) or (decision.parents_told if decision else None),
        plan=plan,
        actions=await _actions(ctx, child, name, agency),
        deadlines=tuple(_deadline(ctx, i) for i in items if not DEADLINE[DueKind(i.kind)].chase),
        monitoring=d.monitoring,
        siblings=tuple(c.case_ref for c in await ctx.children() if c.id != child.id),
        started_at=started,
        ended_at=ended,
        minutes=_minutes(d.started_at, decision.decided_at if decision else None),
        next_discussion_by=ctx.local(further.due_at).date() if further else None,
        conference=await _conference(ctx, child),
        closed_reason=d.closed_reason,
        version=signed.version if signed else None,
        signed_off_by=name(signed.signed_off_by_id) if signed else None,
        signed_off_at=local(signed.signed_off_at) if signed else None,
        versions=await _versions(ctx, child, name),
        circulation=await _circulation(ctx, child, name),
    )


async def since_signing(ctx: Ctx, child: Child) -> tuple[tuple[m.Version, ...], tuple[m.Circulated, ...]]:
    """What a signed record's export adds to it as signed: every version, and its circulation now."""
    people = await ctx.people()

    def name(person_id: int | None) -> str:
        person = people.get(person_id) if person_id is not None else None
        return person.display_name if person else "someone"

    return await _versions(ctx, child, name), await _circulation(ctx, child, name)


def _minutes(start: datetime | None, end: datetime | None) -> int | None:
    """Elapsed minutes, counted in UTC (local wall-clock times would gain or lose the clock change)."""
    if start is None or end is None or end < start:
        return None
    return int((end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() // 60)


def _took_part(status: str, how: str | None) -> m.TookPart:
    if status in TOOK_PART:
        return TOOK_PART[status]
    if status == "accepted":
        return m.TookPart.CHAT if how == "chat" else m.TookPart.MEETING
    return m.TookPart.INVITED


def _parents_told(plan: Plan | None) -> str | None:
    if plan is None or plan.tell_parents is None:
        return None
    told = "Told now" if plan.tell_parents else "Not told now"
    return f"{told}: {plan.tell_parents_how}" if plan.tell_parents_how else told


Name = Callable[[int | None], str]  # a person's name by id
Label = Callable[[str], str]  # an agency's label by id


async def _contributions(ctx: Ctx, child: Child, name: Name, agency: Label) -> tuple[m.Contribution, ...]:
    about_child = select(col(ContributionChild.contribution_id)).where(
        col(ContributionChild.child_id) == child.id
    )
    query = (
        select(Contribution)
        .where(
            col(Contribution.discussion_id) == ctx.did,
            or_(col(Contribution.for_all), col(Contribution.id).in_(about_child)),
        )
        .order_by(col(Contribution.created_at), col(Contribution.id))
    )
    return tuple(
        m.Contribution(
            by=name(c.person_id),
            agency=agency(c.agency),
            at=ctx.local(c.created_at),
            stage=c.stage,
            text=c.text,
            entered_by_chair=c.via == "phone_entered_by_chair",
            agency_id=c.agency,
        )
        for c in (await ctx.session.execute(query)).scalars()
    )


async def _plan(ctx: Ctx, child: Child, plan: Plan | None) -> m.Plan:
    rows = await ctx.session.execute(select(PlanItem).where(col(PlanItem.child_id) == child.id))
    items = {i.item: i for i in rows.scalars()}
    answers = []
    for check in ctx.procedure.s47_checklist:
        item = items.get(check.id)
        answers.append(
            m.PlanAnswer(
                item=check.id,
                label=check.label,
                answer=item.answer if item is not None and not item.not_applicable else None,
                not_applicable=item.na_reason if item is not None and item.not_applicable else None,
            )
        )
    return m.Plan(
        answers=tuple(answers),
        icpc_planned_on=plan.icpc_on if plan else None,
        icpc_late_reason=plan.icpc_late_reason if plan else None,
    )


async def _action_ids(ctx: Ctx, child: Child) -> list[int]:
    query = select(col(ActionChild.action_id)).where(col(ActionChild.child_id) == child.id)
    return list((await ctx.session.execute(query)).scalars())


async def _actions(ctx: Ctx, child: Child, name: Name, agency: Label) -> tuple[m.Action, ...]:
    query = (
        select(Action)
        .where(col(Action.discussion_id) == ctx.did, col(Action.id).in_(await _action_ids(ctx, child)))
        .order_by(col(Action.due_on), col(Action.id))
    )
    return tuple(
        m.Action(
            description=a.description,
            owner=name(a.owner_id),
            owner_agency=agency(a.owner_agency),
            due_on=a.due_on,
            status=a.status,
            done_at=ctx.local(a.done_at) if a.done_at else None,
        )
        for a in (await ctx.session.execute(query)).scalars()
    )


async def _due_items(ctx: Ctx, child: Child) -> list[DueItem]:
    """The child's own deadlines and the meeting's; of the actions, those for this child."""
    actions = {str(i) for i in await _action_ids(ctx, child)}
    query = (
        select(DueItem)
        .where(col(DueItem.discussion_id) == ctx.did)
        .order_by(col(DueItem.due_at), col(DueItem.id))
    )
    return [
        i
        for i in (await ctx.session.execute(query)).scalars()
        if i.state != DueState.WITHDRAWN
        and (
            i.child_id == child.id
            or (i.child_id is None and (i.kind != DueKind.ACTION or i.subject in actions))
        )
    ]


def _deadline(ctx: Ctx, item: DueItem) -> m.Deadline:
    return m.Deadline(
        kind=item.kind,
        label=ctx.procedure.deadline_label(item.kind),
        due_at=ctx.local(item.due_at),
        outcome=OUTCOMES[DueState(item.state)],
        ended_at=ctx.local(item.ended_at) if item.ended_at else None,
        ended_by=item.ended_by,
        reason=item.reason,
    )


async def _conference(ctx: Ctx, child: Child) -> m.Conference | None:
    icpc = await series_icpc(ctx.session, child.series_id)
    series = await ctx.session.get(Series, child.series_id)
    if icpc is None or series is None:
        return None
    held, days, band, start = series.icpc_held_on, None, None, None
    decided = await ctx.session.get(Child, icpc.child_id) if icpc.child_id is not None else None
    first = await ctx.session.get(Discussion, decided.discussion_id) if decided is not None else None
    if first is not None:
        start = first.held_on  # the ICPC item lives on the series' first S47 discussion
    if held is not None and start is not None:
        days = clock.working_days_between(start, held, ctx.dialogs.nation)
        band = census_band(days)
    return m.Conference(
        target=ctx.local(icpc.due_at).date(),
        s47_start_on=start,
        held_on=held,
        working_days=days,
        band=band,
        not_required=(icpc.reason or "no reason given") if series.icpc_not_required else None,
    )


async def _versions(ctx: Ctx, child: Child, name: Name) -> tuple[m.Version, ...]:
    query = (
        select(RecordVersion)
        .where(col(RecordVersion.child_id) == child.id, col(RecordVersion.signed_off_at).is_not(None))
        .order_by(col(RecordVersion.version))
    )
    out = []
    for r in (await ctx.session.execute(query)).scalars():
        assert r.signed_off_at is not None
        change = r.change or ("signed off" if r.version == 1 else _amendment(r.body))
        out.append(m.Version(r.version, name(r.signed_off_by_id), ctx.local(r.signed_off_at), change))
    return tuple(out)


def _amendment(body: str) -> str:
    """What a version signed before migration 0010 added: its last addendum (see flows/due.py)."""
    _, found, tail = body.rpartition("*Addendum ")
    return ("Addendum " + tail.replace("*", "").strip())[:500] if found else "amended"


async def _circulation(ctx: Ctx, child: Child, name: Name) -> tuple[m.Circulated, ...]:
    query = (
        select(Circulation)
        .join(RecordVersion, col(RecordVersion.id) == col(Circulation.record_id))
        .where(col(RecordVersion.child_id) == child.id)
        .order_by(col(Circulation.id))
    )
    return tuple(
        m.Circulated(
            name=name(c.person_id),
            what=c.kind,
            sent_at=ctx.local(c.sent_at),
            acknowledged_at=ctx.local(c.acknowledged_at) if c.acknowledged_at else None,
        )
        for c in (await ctx.session.execute(query)).scalars()
    )
