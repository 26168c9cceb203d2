"""The figures as one self-contained web page: inline CSS, inline SVG charts (bot.reports.charts), no
request of any kind (a Content-Security-Policy says so to the browser too), readable on a phone and
printable. Jinja2 with autoescape: a reason the chair typed is text, never markup.

Small numbers are hidden and counts rounded by `hide` (dialogs.report_model.Suppress) in every table,
sentence and chart; with nothing hidden (`below` 0 or 1) the page says at the top that it is not for
circulation.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from dialogs.report_card import span
from dialogs.report_model import (
    NATIONAL_ICPC_WITHIN_15,
    NATIONAL_SOURCE,
    WITH_REASON,
    Ended,
    Report,
    Suppress,
    outcomes_shown,
)

TEMPLATES = Path(__file__).resolve().parent / "templates"
ENDED_LABELS: dict[Ended, str] = {
    Ended.MET: "Met on time",
    Ended.LATE: "Late",
    Ended.MISSED: "Missed",
    Ended.CLOSED: "Closed",
    Ended.OPEN: "Open",
}


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,  # a misspelt variable fails the render instead of printing nothing
        trim_blocks=True,
        lstrip_blocks=True,
    )


@cache
def _stylesheet() -> Markup:
    return Markup((TEMPLATES / "report.css").read_text(encoding="utf-8"))  # our own file, not input


def render_html(report: Report, hide: Suppress, *, tz: str = "Europe/London") -> bytes:
    """The page, as UTF-8. `tz`: the council's time zone, for when the figures were made."""
    page = _environment().get_template("report.html").render(context(report, hide, tz), css=_stylesheet())
    return page.encode("utf-8")


def context(r: Report, hide: Suppress, tz: str) -> dict[str, object]:
    """What the template shows: every figure already a string, hidden where the rule says."""
    from bot.reports import charts  # matplotlib loads with the first page drawn, not with the server

    c = r.conferences
    held, not_required, awaited = c.states_shown(hide)
    england = f"{NATIONAL_ICPC_WITHIN_15:.0%}"
    title = f"Strategy discussion figures, {span(r.start, r.end)}"
    return {
        "title": title if hide.below > 1 else f"Not for circulation: {title}",
        "period": span(r.start, r.end),
        "council": r.council or "every council in this database",
        "made_at": _local(r.made_at, tz),
        "below": hide.below if hide.below > 1 else 0,  # 0 or 1: nothing is hidden
        "round_to": hide.round_to if hide.rounds else 0,  # 0: every count exact
        "stand_in": hide.stand_in,
        "headline": [
            ("Discussions held", r.discussions_shown(hide), f"about {hide.count(r.children)} children"),
            ("Held out of hours", r.out_of_hours_share(hide), "of the discussions held"),
            ("Deadlines met on time", r.met_share(hide), f"of {r.ended_shown(hide)} ended"),
            (
                "Conferences within 15 working days",
                c.within_15_share(hide),
                f"of {held} held (England: {england})",
            ),
            ("Decisions without the quorum", hide.count(r.overrides), "discussions"),
        ],
        "ended_labels": [ENDED_LABELS[e] for e in Ended],
        "timeliness": [
            {
                "label": k.label,
                "counts": k.shown(hide),
                "share": k.met_share(hide),
            }
            for k in r.timeliness
        ],
        "reasons": [
            (k.label, ENDED_LABELS[e], hide.reasons(k.reasons[e]))
            for k in r.timeliness
            for e in WITH_REASON
            if k.reasons.get(e)
        ],
        "months": charts.months_chart(r.months, hide),
        "conferences": {
            "enquiries": c.enquiries_shown(hide),
            "held": held,
            "not_required": not_required,
            "awaited": awaited,
            "reasons": hide.reasons(c.not_required_reasons),
            "chart": charts.bands_chart(c, hide),
        },
        "england": england,
        "national_source": NATIONAL_SOURCE,
        "outcomes": outcomes_shown(r.outcomes, hide),
        "attendance": charts.attendance_chart(r.attendance, hide),
        "overrides": hide.count(r.overrides),
        "override_reasons": hide.reasons(r.override_reasons),
        "hours": {
            "held": r.discussions_shown(hide),
            "out_of_hours": hide.count(r.out_of_hours),
            "share": r.out_of_hours_share(hide),
            "overridden": hide.count(r.out_of_hours_overridden),
        },
    }


def _local(at: datetime, tz: str) -> str:
    return f"{at.astimezone(ZoneInfo(tz)):%a %-d %b %Y, %H:%M}"
