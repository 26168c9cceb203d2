"""The "record of strategy discussion" as text in the markdown subset every surface renders.

It is rendered from the typed record (dialogs/record_model.py, built by record_build.py), like every
other rendering of it; what people typed is made `inert`, so a contribution cannot forge a heading,
a bullet or a "signed off" line of the record's own.
"""

from datetime import datetime

from sqlalchemy import select
from sqlmodel import col

from dialogs import record_build
from dialogs import record_model as m
from dialogs.engine import Ctx
from dialogs.lifecycle import DueKind
from storage.models import Child, Circulation, Discussion, Person, RecordVersion

ZWSP = "\u200b"
TOOK_PART_LABELS = {
    m.TookPart.MEETING: "took part in the meeting",
    m.TookPart.CHAT: "took part in the discussion",
    m.TookPart.PHONE: "joined by phone",
    m.TookPart.INVITED: "invited, did not answer",
    m.TookPart.DECLINED: "declined",
    m.TookPart.ABSENT: "absent",
}
OUTCOME_LABELS = {
    m.Outcome.OPEN: "open",
    m.Outcome.MET: "met",
    m.Outcome.LATE: "late",
    m.Outcome.MISSED: "missed",
    m.Outcome.CLOSED: "closed with reason",
}


def ordinal(d: Discussion, child: Child | None = None) -> str:
    """First, second... or final: of the child's series when a child is given (siblings may differ)."""
    return record_build.ordinal(child.number if child is not None else d.number, d.is_final)


async def assemble_all(ctx: Ctx) -> str:
    """Every child's draft record, one after the other, for the chair to review at once."""
    return "\n\n".join([await assemble(ctx, c) for c in await ctx.children()])


async def assemble(ctx: Ctx, child: Child) -> str:
    return render(await record_build.build(ctx, child), ctx.procedure.timescales.meeting_within_hours)


def inert(text: str, *, line_start: bool = False) -> str:
    """Typed text made unable to act as markdown on any surface: no bold, italic, code or link from
    its characters, and none of its lines a heading, quote or bullet of the record's own. Readers see
    it as typed: a zero-width space follows each marker and starts each continuation line (indented),
    and the first line too when the text starts a line of the record (`line_start`)."""
    for marker in "*_~`[]":
        text = text.replace(marker, marker + ZWSP)
    lines = text.split("\n")
    first = ZWSP + lines[0] if line_start else lines[0]
    return "\n".join([first, *(f"    {ZWSP}{line}" for line in lines[1:])])


def _when(at: datetime | None) -> str:
    return f"{at:%a %d %b %Y %H:%M}" if at is not None else "not recorded"


def render(r: m.Record, meeting_hours: float = 24) -> str:
    """The record in the markdown subset every surface renders: what is typed is `inert`."""
    out = [
        f"*Record of strategy discussion: {r.case_ref}*",
        f"Discussion: {r.discussion} | Held: {r.started_at.date() if r.started_at else 'not started'} | "
        f"Format: {r.format}"
        + (" | Out of hours" if r.out_of_hours else "")
        + (f" (set by the chair: {inert(r.out_of_hours_reason)})" if r.out_of_hours_reason else ""),
        f"Convened: {r.convened_at:%d %b %Y %H:%M}; proposed {r.proposed_at:%d %b %Y %H:%M}",
        f"Started: {_when(r.started_at)}; decided: {_when(r.ended_at)}"
        + (f" ({r.minutes} minutes)" if r.minutes is not None else ""),
        f"Chair: {inert(r.chair)}" + next((f" ({a.role})" for a in r.attendance if a.chair), ""),
    ]
    if r.siblings:
        out.append(
            f"Held together with the discussion about: {', '.join(r.siblings)} (each has their own record)"
        )
    if r.late_reason:
        out.append(f"Held later than {meeting_hours} hours because: {inert(r.late_reason)}")

    out.append("\n*Attendance*")
    for a in r.attendance:
        out.append(f"- {inert(a.name)}, {a.role}, {a.agency}: {TOOK_PART_LABELS[a.took_part]}")
    said = {True: "yes", False: "no", None: "not answered"}
    out.append("Circumstances: " + "; ".join(f"{label}: {said[v]}" for label, v in r.circumstances.items()))
    out.append(f"Quorum: {'met' if r.quorum_met else 'NOT met'}")
    for need in r.requirements:
        out.append(
            f"- {need.label}: {'yes' if need.met else 'no'}{' (' + need.note + ')' if need.note else ''}"
        )
    apologies = [a for a in r.attendance if a.took_part in (m.TookPart.DECLINED, m.TookPart.ABSENT)]
    if apologies:
        out.append("\n*Apologies and agencies not present*")
        for a in apologies:
            out.append(
                f"- {inert(a.name)} ({a.agency}): {inert(a.reason) if a.reason else 'no reason given'}"
            )
            if a.directions:
                out.append(f"  Directions given: {inert(a.directions)}")

    out.append(f"\n*The concern* ({r.category})\n{inert(r.concern, line_start=True)}")
    out.append("\n*Information shared, by agency*")
    by_agency: dict[str, list[m.Contribution]] = {}
    for c in r.contributions:
        by_agency.setdefault(c.agency, []).append(c)
    for agency, cs in by_agency.items():
        out.append(f"_{agency}_")
        for c in cs:
            via = " (by phone, entered by the chair)" if c.entered_by_chair else ""
            out.append(f"- {inert(c.by)}{via}, {c.at:%d %b %H:%M}, stage {c.stage}: {inert(c.text)}")
    if not r.contributions:
        out.append("- none recorded")

    out.append("\n*Decision*")
    out += _decision(r.decision)
    if r.plan is not None:
        out.append("\n*S47 plan*")
        for pa in r.plan.answers:
            answer = (
                f"not applicable: {inert(pa.not_applicable)}"
                if pa.not_applicable is not None
                else (inert(pa.answer) if pa.answer else "not answered")
            )
            out.append(f"- {pa.label}: {answer}")
        if r.plan.icpc_planned_on:
            out.append(f"Initial child protection conference planned: {r.plan.icpc_planned_on:%d %b %Y}")
        if r.plan.icpc_late_reason:
            out.append(f"Conference later than planned because: {inert(r.plan.icpc_late_reason)}")
    out.append(
        f"Parents/carers and child told: {inert(r.parents_told) if r.parents_told else 'not recorded'}"
    )
    if r.conference is not None:
        out.append(f"ICPC target date: {r.conference.target:%d %b %Y}")
        if r.conference.held_on:
            band = (
                f" ({r.conference.working_days} working days: band {r.conference.band})"
                if r.conference.band
                else ""
            )
            out.append(f"ICPC held on: {r.conference.held_on:%d %b %Y}{band}")
        elif r.conference.not_required:
            out.append(f"ICPC not required: {inert(r.conference.not_required)}")

    out.append("\n*Actions*")
    for act in r.actions:
        out.append(
            f"- {inert(act.description)} - {inert(act.owner)} ({act.owner_agency}), "
            f"due {act.due_on:%d %b %Y}, {act.status}"
        )
    if not r.actions:
        out.append("- none")
    if r.next_discussion_by is not None:
        out.append(f"Next strategy discussion by: {r.next_discussion_by:%d %b %Y}")
    ended = [dl for dl in r.deadlines if dl.outcome != m.Outcome.OPEN]
    if ended:
        out.append("\n*Deadlines*")
        for dl in ended:
            line = f"- {dl.label}: {OUTCOME_LABELS[dl.outcome]}"
            if dl.ended_at is not None and dl.outcome in (m.Outcome.MET, m.Outcome.LATE):
                when = "" if dl.kind == DueKind.ICPC else f", {dl.ended_at:%d %b %Y %H:%M}"
                line += f" ({dl.ended_by}{when})"
            if dl.reason:
                line += f"; reason: {inert(dl.reason)}"
            out.append(line)
    out.append(
        f"\n*Monitoring*\n{inert(r.monitoring, line_start=True) if r.monitoring else 'not yet recorded'}"
    )
    if r.closed_reason:
        out.append(f"\n*Closed*\n{inert(r.closed_reason, line_start=True)}")
    return "\n".join(out)


def _decision(x: m.Decision | None) -> list[str]:
    if x is None:
        return ["- no decision recorded"]
    out = [f"Outcome: {x.label}", f"Reasons: {inert(x.reasons)}", f"Risks identified: {inert(x.risks)}"]
    if x.override_reason:
        reviewed = (
            f"reviewed by the team manager on {x.override_reviewed_at:%d %b %Y}"
            if x.override_reviewed_at
            else "to be reviewed by the team manager"
        )
        why = inert(x.override_reason)
        out.append(f"Decided without: {x.override_unmet}. The chair's reason: {why} ({reviewed})")
    if x.reconvene_on:
        out.append(f"Reconvene on: {x.reconvene_on:%d %b %Y}")
    for label, value in (
        ("Instead", x.instead),
        ("Services", x.services),
        ("Refer again when", x.refer_again_when),
    ):
        if value:
            out.append(f"{label}: {inert(value)}")
    return out


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
