"""The figures as a file, asked for in chat: one card, queued in the `report` turn's transaction, that
each surface's `deliver` turns into an HTML file for the manager who asked (Slack: uploaded to their
direct messages; Teams: a link the bot serves; playground: a download). The card holds the period
only, never a figure: the file is made when it is sent, from the database, for a person whose role
is checked again then.
"""

from __future__ import annotations

from datetime import date, datetime

from dialogs.model import Card, Target, TargetKind

KEY_PREFIX = "report_file:"  # "report_file:<person id>:<start>:<end>:<asked at>"
START, END = "from", "to"  # the card's facts: the period, ISO dates


def report_card(person_id: int, start: date, end: date, asked_at: datetime) -> Card:
    return Card(
        target=Target(TargetKind.DIRECT, person_id=person_id),
        title=f"Strategy discussion figures, {span(start, end)}",
        text="The figures as one web page that opens offline, prints, and hides small numbers.",
        facts=((START, start.isoformat()), (END, end.isoformat())),
        key=f"{KEY_PREFIX}{person_id}:{start.isoformat()}:{end.isoformat()}:{asked_at:%Y%m%dT%H%M%S}",
        preview="Strategy discussion figures",
    )


def period(card: Card) -> tuple[date, date] | None:
    """The period a report card asks for; None when the card is not one."""
    if card.target.kind != TargetKind.DIRECT or not (card.key or "").startswith(KEY_PREFIX):
        return None
    facts = dict(card.facts)
    try:
        return date.fromisoformat(facts[START]), date.fromisoformat(facts[END])
    except (KeyError, ValueError):
        return None


def span(start: date, end: date) -> str:
    """'1 to 2 Dec 2026' (the same month), else '1 Apr 2025 to 31 Mar 2026'."""
    if (start.year, start.month) == (end.year, end.month):
        return f"{start.day} to {end:%-d %b %Y}" if start != end else f"{end:%-d %b %Y}"
    return f"{start:%-d %b %Y} to {end:%-d %b %Y}"


def file_name(start: date, end: date) -> str:
    return f"strategy-discussion-figures-{start.isoformat()}-to-{end.isoformat()}.html"
