"""What a discussion looks like: its main post, its status, and what is due for someone."""

from sqlalchemy import select

from dialogs import clock
from dialogs.model import Button, Card, Target, TargetKind
from dialogs.quorum import STATUS_LABELS, quorum_met, required_attendees
from dialogs.record_text import FORMAT_LABELS, circulation_lines, ordinal
from storage.models import RecordVersion

STATE_LABELS = {
    "convened": "convened, not started",
    "in_discussion": "in discussion",
    "decided": "decided",
    "planned": "S47 plan agreed",
    "signed_off": "record signed off",
    "circulated": "record circulated",
    "closed": "closed",
}


def _buttons(d, starts_s47: bool) -> tuple[Button, ...]:
    v = str(d.id)
    by_state = {
        "convened": [
            ("start", "Start", "primary"),
            ("invite", "Invite"),
            ("phone", "By phone"),
            ("absent", "Absent"),
        ],
        "in_discussion": [
            ("decide", "Decide", "primary"),
            ("next_stage", "Next stage"),
            ("invite", "Invite"),
            ("phone", "By phone"),
            ("absent", "Absent"),
            ("correct", "Correct"),
        ],
        "decided": (
            [("plan", "Plan S47", "primary")] if starts_s47 else [("review", "Review record", "primary")]
        )
        + [
            ("decide", "Change decision"),
            ("add_action", "Add action"),
            ("phone", "By phone"),
            ("correct", "Correct"),
        ],
        "planned": [
            ("review", "Review record", "primary"),
            ("plan", "Edit plan"),
            ("add_action", "Add action"),
        ],
        "circulated": [("reconvene", "Reconvene")],
        "signed_off": [("reconvene", "Reconvene")],
    }
    chosen = by_state.get(d.state, [])
    if d.state != "closed":
        chosen = [*chosen, ("close", "Close")]
    return tuple(Button(b[0], b[1], v, b[2] if len(b) > 2 else None) for b in chosen)


async def main_card(ctx, target: Target | None = None) -> Card:
    d, p, s = ctx.d, ctx.procedure, ctx.session
    parts = await ctx.participants(fresh=True)
    people = await ctx.people()
    decision = await ctx.decision()
    outcome = p.outcome(decision.outcome) if decision else None
    category = p.category(d.category)
    needs_meeting = category.meeting_required or (d.complex_case and p.complex_case_requires_meeting)
    facts = [
        ("State", STATE_LABELS.get(d.state, d.state)),
        ("Chair", people[d.chair_id].display_name),
        ("When", f"{ctx.local(d.proposed_at):%a %d %b %H:%M} ({FORMAT_LABELS.get(d.format, d.format)})"),
        ("Meeting due by", f"{ctx.local(d.meeting_due_at):%a %d %b %H:%M}"),
        ("Format advice", "meeting required" if needs_meeting else "meeting preferred; calls allowed"),
        ("Out of hours", "yes" if d.out_of_hours else "no"),
        ("Stage", next((st.title for st in p.agenda if st.id == d.stage), d.stage)),
        ("Quorum", "met" if quorum_met(p, d, parts) else "not met"),
    ]
    if outcome:
        facts.append(("Decision", outcome.label))
    if d.held_on:
        due = clock.add_working_days(
            d.held_on, p.timescales.record_circulation_working_days, ctx.dialogs.nation
        )
        facts.append(("Record circulated by", f"{due:%a %d %b}"))
        if outcome and outcome.starts_s47:
            icpc = clock.add_working_days(d.held_on, p.timescales.icpc_working_days, ctx.dialogs.nation)
            facts.append(("ICPC by", f"{icpc:%a %d %b %Y}"))
    lines = ["*Required*"]
    for need in required_attendees(p, d, parts):
        lines.append(f"- {'[x]' if need.met else '[ ]'} {need.label}{' - ' + need.note if need.note else ''}")
    lines.append("*Participants*")
    for part in parts:
        who = people[part.person_id].display_name
        agency = next((a.label for a in p.agencies if a.id == part.agency), part.agency)
        lines.append(
            f"- {who} ({agency}){' - chair' if part.is_chair else ''}: "
            f"{STATUS_LABELS.get(part.status, part.status)}"
        )
    record = (
        (
            await s.execute(
                select(RecordVersion)
                .where(RecordVersion.discussion_id == d.id)
                .order_by(RecordVersion.version.desc())
            )
        )
        .scalars()
        .first()
    )
    if record:
        lines.append("*Circulation*")
        lines += await circulation_lines(ctx, record)
    return Card(
        target=target or Target(TargetKind.MAIN_POST, discussion_id=d.id),
        title=f"Strategy discussion {d.case_ref} ({ordinal(d)})",
        text="\n".join(lines),
        facts=tuple(facts),
        buttons=_buttons(d, bool(outcome and outcome.starts_s47)),
        key=f"discussion:{d.id}",
        preview=f"Strategy discussion {d.case_ref}",
    )
