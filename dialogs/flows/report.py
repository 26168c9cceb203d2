"""The `report` command: this month's headline figures for a manager, and the figures as a file
(dialogs.report_card). Figures are counts about discussions, never a case: small numbers are hidden
and counts rounded by the procedure's rule (`reports.suppress_below`, `reports.round_to`), as in the
file."""

from __future__ import annotations

from dialogs.engine import Ctx
from dialogs.flows.registry import on
from dialogs.lifecycle import DueKind
from dialogs.model import Card, TurnKind
from dialogs.report_card import report_card, span
from dialogs.report_model import NATIONAL_ICPC_WITHIN_15, Report, Suppress, outcomes_shown
from dialogs.report_query import Scope, build

HEADLINE_KINDS = (DueKind.MEETING, DueKind.RECORD_CIRCULATION, DueKind.OUTCOME_NOTIFICATION, DueKind.ACTION)


@on(TurnKind.COMMAND, "report", None)
async def report(ctx: Ctx) -> list[Card]:
    allowed = ctx.procedure.reports.roles
    if ctx.actor.role not in allowed:
        known = {r.id: r.label for r in ctx.procedure.roles}  # a role the file lacks is nobody's
        who = " and ".join(_plural(known[r]) for r in allowed if r in known) or "managers"
        return [ctx.reply(f"The figures are for {who}. Please ask your manager if you need them.")]
    today = ctx.local(ctx.now).date()
    start = today.replace(day=1)
    scope = Scope(start, today, ctx.dialogs.tz, ctx.dialogs.nation, ctx.dialogs.council or None)
    figures = await build(ctx.session, ctx.procedure, scope, ctx.now)
    await ctx.audit("report.requested", start=start.isoformat(), end=today.isoformat())
    ctx.did_change = True  # audited, and a file queued: a retried delivery must not send it twice
    rule = ctx.procedure.reports
    text = headline(figures, Suppress(rule.suppress_below, rule.round_to))
    return [
        ctx.reply(text, title=f"Strategy discussions, {span(start, today)}"),
        report_card(ctx.actor.person_id, start, today, ctx.now),
    ]


def headline(r: Report, hide: Suppress) -> str:
    lines = [
        f"- Discussions held: {r.discussions_shown(hide)} (out of hours: {r.out_of_hours_share(hide)}), "
        f"about {hide.count(r.children)} children",
    ]
    for k in r.timeliness:
        if k.kind in HEADLINE_KINDS:
            lines.append(f"- {k.label}: met on time {k.met_share(hide)} of {k.ended_shown(hide)}")
    c = r.conferences
    held, _, awaited = c.states_shown(hide)
    lines.append(
        f"- Conferences within 15 working days of the S47 start: {c.within_15_share(hide)} "
        f"of {held} held (England: {NATIONAL_ICPC_WITHIN_15:.0%}); awaited {awaited}"
    )
    decided = ", ".join(f"{label}: {n}" for label, n in outcomes_shown(r.outcomes, hide) if n != "0")
    lines.append(f"- Decisions per child: {decided or 'none yet'}")
    lines.append(f"- Decisions without the quorum: {hide.count(r.overrides)}")
    if rule := rule_note(hide):
        lines.append(f"{rule} The file follows.")
    return "\n".join(lines)


def rule_note(hide: Suppress) -> str:
    """The small-number rule in a sentence or two, as applied; empty when every count is exact."""
    hidden = f'Counts from 1 to {hide.below - 1} show as "fewer than {hide.below}"' if hide.below > 1 else ""
    if not hide.rounds:
        return f"{hidden}." if hidden else ""
    rounded = f"rounded to the nearest {hide.round_to}, so figures may not add up"
    return f"{hidden}; other counts are {rounded}." if hidden else f"Counts are {rounded}."


def _plural(label: str) -> str:
    return label.split(" (")[0].lower() + "s"
