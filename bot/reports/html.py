"""The figures as one HTML page (placeholder: headline only; the charts come with bot/reports/charts)."""

from __future__ import annotations

from markupsafe import escape

from dialogs.flows.report import headline
from dialogs.report_card import span
from dialogs.report_model import Report, Suppress


def render_html(report: Report, hide: Suppress) -> bytes:
    title = f"Strategy discussion figures, {span(report.start, report.end)}"
    items = "".join(
        f"<li>{escape(line.removeprefix('- '))}</li>" for line in headline(report, hide).splitlines()
    )
    page = (
        f'<!doctype html><html lang="en-GB"><head><meta charset="utf-8"><title>{escape(title)}</title></head>'
        f"<body><h1>{escape(title)}</h1><ul>{items}</ul></body></html>"
    )
    return page.encode()
