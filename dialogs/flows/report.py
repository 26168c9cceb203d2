"""The `report` command: this month's headline figures for a manager, and the figures as a file
(dialogs.report_card). Figures are counts about discussions, never a case: small numbers are hidden
by the procedure's rule (`reports.suppress_below`), as in the file."""

from __future__ import annotations

from dialogs.engine import Ctx
from dialogs.flows.registry import on
from dialogs.lifecycle import DueKind
from dialogs.model import Card, TurnKind
from dialogs.report_card import report_card, span
from dialogs.report_model import NATIONAL_ICPC_WITHIN_15, Ended, Report, Suppress, outcomes_shown
from dialogs.report_query import Scope, build

HEADLINE_KINDS = (DueKind.MEETING, DueKind.RECORD_CIRCULATION, DueKind.OUTCOME_NOTIFICATION, DueKind.ACTION)


@on(TurnKind.COMMAND, "report", None)
async def report(ctx: Ctx) -> list[Card]:
    allowed = ctx.procedure.reports.roles
    if ctx.actor.role not in allowed:
        who = " and ".join(_plural(ctx.procedure.role(r).label) for r in allowed)
        return [ctx.reply(f"The figures are for {who}. Please ask your manager if you need them.")]
    today = ctx.local(ctx.now).date()
    start = today.replace(day=1)
    scope = Scope(start, today, ctx.dialogs.tz, ctx.dialogs.nation, ctx.dialogs.council or None)
    figures = await build(ctx.session, ctx.procedure, scope, ctx.now)
    await ctx.audit("report.requested", start=start.isoformat(), end=today.isoformat())
    ctx.did_change = True  # audited, and a file queued: a retried delivery must not send it twice
    text = headline(figures, Suppress(ctx.procedure.reports.suppress_below))
    return [
        ctx.reply(text, title=f"Strategy discussions, {span(start, today)}"),
        report_card(ctx.actor.person_id, start, today, ctx.now),
    ]


def headline(r: Report, hide: Suppress) -> str:
    held = r.discussions
    lines = [
        f"- Discussions held: {hide.count(held)} (out of hours: {hide.share(r.out_of_hours, held)}), "
        f"about {hide.count(r.children)} children",
    ]
    for k in r.timeliness:
        if k.kind in HEADLINE_KINDS:
            ended = k.total - k.count(Ended.OPEN)
            lines.append(
                f"- {k.label}: met on time {hide.share(k.count(Ended.MET), ended)} of {hide.count(ended)}"
            )
    c = r.conferences
    lines.append(
        f"- Conferences within 15 working days of the S47 start: {hide.share(c.within_15, c.held)} "
        f"of {hide.count(c.held)} held (England: {NATIONAL_ICPC_WITHIN_15:.0%}); "
        f"awaited {hide.count(c.awaited)}"
    )
    decided = ", ".join(f"{label}: {n}" for label, n in outcomes_shown(r.outcomes, hide) if n != "0")
    lines.append(f"- Decisions per child: {decided or 'none yet'}")
    lines.append(f"- Decisions without the quorum: {hide.count(r.overrides)}")
    if hide.below:
        lines.append(
            f'Counts from 1 to {hide.below - 1} show as "fewer than {hide.below}". The file follows.'
        )
    return "\n".join(lines)


def _plural(label: str) -> str:
    return label.split(" (")[0].lower() + "s"
