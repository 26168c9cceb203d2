"""The figures in the playground: the `report` command's file (dialogs.report_card) as a download.

The report card lands in the manager's direct messages like any card; the page adds a link to it
(`link`). The link names the period only: the file is made when it is fetched, from the database,
for whoever the playground's visitor is acting as then, and only if their role may have the figures
(ReportFiles.make; anyone else gets 403). Every download is an audit entry (`report.sent`, where
"download"), as every record download is.
"""

from __future__ import annotations

from datetime import date

from aiohttp import web

from bot.playground.render import esc
from bot.playground.store import PlaygroundSurface
from bot.reports.to_person import MEDIA_TYPE, SENT, ReportFiles
from dialogs.model import Card
from dialogs.report_card import file_name, period
from dialogs.report_query import check_period
from storage import audit

ROUTE = r"/figures/{start:\d{4}-\d{2}-\d{2}}/{end:\d{4}-\d{2}-\d{2}}"
WHERE = "download"  # the audit entry's destination
NOT_YOURS = "The figures are only for the managers whose role may run them."


def href(start: date, end: date) -> str:
    return f"/figures/{start.isoformat()}/{end.isoformat()}"


def link(card: Card | None) -> str:
    """The download link under a report card; nothing for any other card."""
    asked = period(card) if card is not None else None
    if asked is None:
        return ""
    start, end = asked
    return (
        f'<p class="download"><a href="{esc(href(start, end))}" download>'
        f"Download the figures ({esc(file_name(start, end))})</a></p>"
    )


class Figures:
    """The figures download handler (a part of Playground: it uses its services and `_me`)."""

    reports: ReportFiles

    async def figures(self, request: web.Request) -> web.Response:
        me = await self._me(request)  # type: ignore[attr-defined]
        if me is None:
            raise web.HTTPForbidden(text="Choose who you are first: open the playground's home page.")
        try:
            start = date.fromisoformat(request.match_info["start"])
            end = date.fromisoformat(request.match_info["end"])
            check_period(start, end)
        except ValueError:
            raise web.HTTPNotFound(text="There is no such period.") from None
        made = await self.reports.make(me.person_id, start, end)
        if made is None:
            raise web.HTTPForbidden(text=NOT_YOURS)
        services = self.services  # type: ignore[attr-defined]
        async with services.db.session() as session:
            await audit.append(
                session,
                actor=f"person:{me.person_id}",
                channel=PlaygroundSurface.name,
                action=SENT,
                detail={"start": start.isoformat(), "end": end.isoformat(), "where": WHERE},
            )
        return web.Response(
            body=made.data,
            headers={
                "Content-Type": MEDIA_TYPE,
                # the period's dates only: safe in the header
                "Content-Disposition": f'attachment; filename="{made.name}"',
            },
        )
