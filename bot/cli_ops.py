"""Operators' reminder commands: `python -m bot due` and `python -m bot scheduler tick`.

Both print case references, kinds, times and person ids only: never anything about the child.
"""

import asyncio
import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.cli import UsageError, _datetime, database
from bot.config import Settings
from dialogs.clock import localize


def register(sub) -> None:
    due = sub.add_parser("due", help="list due and overdue deadlines (case references only)")
    due.add_argument("--at", help="as if it were then: YYYY-MM-DDTHH:MM local time, or with a UTC offset")
    due.add_argument("--json", action="store_true", help="print one JSON list")
    due.set_defaults(handler=cmd_due)

    scheduler = sub.add_parser("scheduler", help="the reminders scheduler")
    tick = scheduler.add_subparsers(dest="scheduler_command", required=True).add_parser(
        "tick", help="run one sweep now: queue what is due, then send it"
    )
    tick.add_argument("--at", help="as if it were then: YYYY-MM-DDTHH:MM local time, or with a UTC offset")
    tick.set_defaults(handler=cmd_tick)


def _at(value: str | None, settings: Settings) -> datetime | None:
    if value is None:
        return None
    parsed = _datetime(value, "--at")
    if parsed.tzinfo is not None:
        return parsed
    try:
        return localize(parsed, settings.timezone)
    except ValueError as exc:  # a local time skipped by the March clock change
        raise UsageError(f"--at: {exc}") from None


async def _open_db(settings: Settings):
    from storage import migrate

    db = database(settings)
    if not await migrate.is_up_to_date(db):
        await db.dispose()
        raise UsageError("the database is not at the newest migration: run `python -m bot db upgrade` first")
    return db


def cmd_due(args, settings: Settings) -> int:
    return asyncio.run(_due(args, settings))


async def _due(args, settings: Settings) -> int:
    from dialogs.due_list import due_listing
    from dialogs.procedure import load_procedure
    from storage.types import utcnow

    at = _at(args.at, settings) or utcnow()
    procedure = load_procedure(settings.procedure_file)
    db = await _open_db(settings)
    try:
        async with db.read() as session:  # a listing: no write lock, so it holds up no turn
            rows = await due_listing(session, at=at, tz=settings.timezone)
    finally:
        await db.dispose()
    zone = ZoneInfo(settings.timezone)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "case_ref": r.case_ref,
                        "kind": r.kind,
                        "due_at": r.due_at.astimezone(zone).isoformat(),
                        "status": r.status,
                        "recipient_id": r.recipient_id,
                        "discussion_id": r.discussion_id,
                        "due_item_id": r.due_item_id,
                    }
                    for r in rows
                ]
            )
        )
        return 0
    if not rows:
        print(f"Nothing due or overdue at {at.astimezone(zone):%a %d %b %Y %H:%M %Z}.")
        return 0
    header = ("Case", "What is due", "Due (local)", "Status", "Recipient")
    table = [
        (
            r.case_ref,
            procedure.deadline_label(r.kind),
            f"{r.due_at.astimezone(zone):%a %d %b %Y %H:%M %Z}",
            r.status,
            str(r.recipient_id),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in [header, *table]) for i in range(len(header))]
    for row in [header, *table]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def cmd_tick(args, settings: Settings) -> int:
    return asyncio.run(_tick(args, settings))


async def _tick(args, settings: Settings) -> int:
    from aiohttp import web

    from bot import playground
    from bot.scheduler import Scheduler
    from bot.services import Services
    from bot.web import surfaces_for

    at = _at(args.at, settings)
    if at is not None and at > datetime.now(UTC):
        # A sweep really sends: "as if it were later" would deliver reminders early and for good.
        raise UsageError("--at: that is in the future; a sweep sends for real, so only now or earlier")
    db = await _open_db(settings)
    try:
        services = Services.create(settings, db)
        # The playground shows messages in the serving process's memory, so this process must not send
        # them: it only queues, and the serving process's scheduler sends. Slack and Teams are sent here.
        app = web.Application()
        for surface in surfaces_for(settings):
            if surface is not playground:
                surface.setup(app, services)
        if services.router.surfaces:  # this process sends: the export folder's cards too
            from bot.records import folder

            folder.attach(services)
        scheduler = Scheduler.from_services(services, send=bool(services.router.surfaces))
        report = await scheduler.tick(at)
    finally:
        await db.dispose()
    print(
        f"claimed {report.claimed} due item(s), queued {report.queued} message(s)"
        f"{', queued the handover' if report.handover else ''}"
    )
    if scheduler.send:
        print(f"sent {report.sent}, to retry {report.retried}, failed {report.failed}")
    else:
        print("no surface to send through in this process: the serving process sends the queued messages")
    return 1 if report.errors else 0
