"""The figures file a manager asked for in chat: what the Slack, Teams and playground surfaces send
when they deliver a report card (dialogs.report_card).

- Made when sent, from the database: the card holds the period only. The person's role is checked
  again then (`make` gives None when they are no longer a manager, and nothing is sent).
- Small numbers hidden by the procedure's rule: the file is meant to be circulated.
- Once: what was sent is kept under a key of its own (`sent` / `mark_sent`), with the audit entry
  (`report.sent`: the period and where, no figures), in one transaction, so a card the outbox tries
  again sends nothing more. The one window left is the record files' (bot.records.to_chair): a
  process killed after the platform took the file and before that transaction committed sends it
  again.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from datetime import date

from bot.delivery import DeliveryError
from bot.reports.html import render_html
from dialogs.engine import Dialogs
from dialogs.report_card import file_name
from dialogs.report_model import Suppress
from dialogs.report_query import Scope, build
from storage import audit, refs
from storage.db import Database
from storage.models import Person

REF_KIND = "report_file"  # storage.refs kind of a report file sent, per platform
SENT = "report.sent"  # the audit action
MEDIA_TYPE = "text/html; charset=utf-8"


@dataclass(frozen=True)
class ReportFile:
    name: str  # the period only
    data: bytes


class ReportFiles:
    def __init__(self, db: Database, dialogs: Dialogs) -> None:
        self.db, self.dialogs = db, dialogs

    async def may_have(self, person_id: int) -> bool:
        async with self.db.read() as session:
            person = await session.get(Person, person_id)
        return person is not None and person.role in self.dialogs.procedure.reports.roles

    async def make(self, person_id: int, start: date, end: date) -> ReportFile | None:
        """The HTML file of the period's figures; None when the person may no longer have it."""
        if not await self.may_have(person_id):
            return None
        d = self.dialogs
        scope = Scope(start, end, d.tz, d.nation, d.council or None)
        async with self.db.read() as session:
            report = await build(session, d.procedure, scope, d.now())
        hide = Suppress(d.procedure.reports.suppress_below, d.procedure.reports.round_to)
        try:  # drawing the charts takes CPU time the event loop must not wait for
            data = await asyncio.to_thread(functools.partial(render_html, report, hide, tz=d.tz))
        except Exception as exc:
            raise DeliveryError(
                f"report file: cannot render ({type(exc).__name__})", retryable=False
            ) from exc
        return ReportFile(file_name(start, end), data)

    async def sent(self, platform: str, key: str) -> bool:
        async with self.db.read() as session:
            return await refs.find_by_key(session, platform=platform, kind=REF_KIND, key=key) is not None

    async def mark_sent(
        self, platform: str, key: str, reference: dict, *, start: date, end: date, where: str, person_id: int
    ) -> None:
        """Keep that `key` was sent, with its audit entry, in one transaction."""
        async with self.db.session() as session:
            await refs.save_ref(
                session, platform=platform, kind=REF_KIND, key=key, reference=reference, person_id=person_id
            )
            await audit.append(
                session,
                actor=f"person:{person_id}",
                channel=platform,
                action=SENT,
                discussion_id=None,
                detail={"start": start.isoformat(), "end": end.isoformat(), "where": where},
            )
