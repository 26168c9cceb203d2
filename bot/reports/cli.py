"""`python -m bot report [--from DATE] [--to DATE] [--council X] [--format html|csv|json] [--out F]
[--all-counts]`: the figures for a period, as the HTML page (with charts), CSV or JSON.

- The period: local calendar dates in the council's time zone, both included; by default from the
  first of this month to today.
- The council: the settings' (COUNCIL) by default; `--council ''` counts every council in the database.
- Small numbers are hidden and counts rounded by the procedure's rule (`reports.suppress_below`,
  `reports.round_to`), as in what is circulated; `--all-counts` shows every count as it is, and the
  file then says it is not for circulation.
- Where: HTML is written to the file named for the period (dialogs.report_card.file_name) in the
  current folder, CSV and JSON are printed; `--out FILE` writes that file, `--out FOLDER` the file
  named for the period in it, `--out -` prints. Files are written atomically.
- Each run is audited (`report.exported`, actor "cli": the period, council, format, whether all
  counts were shown, where), after the file is written. What is printed names the file only.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.cli import UsageError, _date
from bot.config import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from dialogs.report_model import Report, Suppress

EXPORTED = "report.exported"  # the audit action
STDOUT = "-"


class Format(StrEnum):
    HTML = "html"
    CSV = "csv"
    JSON = "json"


def register(sub) -> None:
    report = sub.add_parser(
        "report",
        help="the figures for a period: timeliness, conferences, outcomes, attendance (HTML, CSV or JSON)",
        description="The figures a council is judged by, for a period (local dates, both included), with "
        "small numbers hidden as in published statistics unless --all-counts is given.",
    )
    report.add_argument(
        "--from", dest="start", metavar="DATE", help="first day (default: the 1st of this month)"
    )
    report.add_argument("--to", dest="end", metavar="DATE", help="last day (default: today)")
    report.add_argument(
        "--council", help="the council to count (default: the COUNCIL setting; '' for every council)"
    )
    report.add_argument("--format", choices=[f.value for f in Format], default=Format.HTML.value)
    report.add_argument(
        "--out",
        help="a file, an existing folder, or - to print (default: HTML to a file here, CSV and JSON printed)",
    )
    report.add_argument(
        "--all-counts",
        action="store_true",
        help="show every count, however small (the file says it is not for circulation)",
    )
    report.set_defaults(handler=cmd_report)


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_report(args, settings))


async def _report(args: argparse.Namespace, settings: Settings) -> int:
    from bot.cli_ops import _open_db
    from bot.services import Services
    from bot.timesource import TimeSource
    from dialogs.report_model import NO_SUPPRESSION, Suppress
    from dialogs.report_query import Scope, build

    fmt = Format(args.format)
    time = TimeSource()
    now = time.now()
    start, end = _period(args.start, args.end, now.astimezone(ZoneInfo(settings.timezone)).date())
    target = _target(args.out, fmt, start, end)  # bad input is refused before the database is opened
    db = await _open_db(settings)
    try:
        dialogs = Services.create(settings, db, time).dialogs
        council = settings.council if args.council is None else args.council.strip()
        scope = Scope(start, end, dialogs.tz, dialogs.nation, council or None)
        async with db.read() as session:  # aggregate queries only: no write lock
            report = await build(session, dialogs.procedure, scope, now)
        rule = dialogs.procedure.reports
        hide = NO_SUPPRESSION if args.all_counts else Suppress(rule.suppress_below, rule.round_to)
        data = render(report, hide, fmt, dialogs.tz)
        where = _write(data, target)
        async with db.session() as session:
            await _audit(session, start, end, council, fmt, args.all_counts, where)
    finally:
        await db.dispose()
    if where != STDOUT:
        print(where)
    return 0


def render(report: Report, hide: Suppress, fmt: Format, tz: str) -> bytes:
    from bot.reports.html import render_html
    from bot.reports.tables import render_csv, render_json

    if fmt == Format.HTML:
        return render_html(report, hide, tz=tz)
    return render_csv(report, hide) if fmt == Format.CSV else render_json(report, hide)


def _period(start: str | None, end: str | None, today: date) -> tuple[date, date]:
    last = _date(end, "--to") if end else today
    first = _date(start, "--from") if start else (today if end is None else last).replace(day=1)
    from dialogs.report_query import check_period

    try:
        check_period(first, last)
    except ValueError as exc:
        raise UsageError(f"{exc}: give --from and --to for the period you mean") from None
    return first, last


def _target(out: str | None, fmt: Format, start: date, end: date) -> Path | None:
    """Where the figures go: a path, or None for standard output."""
    from dialogs.report_card import file_name

    name = file_name(start, end).removesuffix(".html") + f".{fmt.value}"
    if out == STDOUT or (out is None and fmt != Format.HTML):
        return None
    path = Path(out) if out is not None else Path.cwd()
    if path.is_dir():
        return (path / name).resolve()
    if not path.parent.is_dir():
        raise UsageError(f"--out {out}: there is no folder {path.parent}")
    return path.resolve()


def _write(data: bytes, path: Path | None) -> str:
    from bot.records.files import write_atomic

    if path is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return STDOUT
    try:
        write_atomic(path, data)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or type(exc).__name__}") from None
    return str(path)


async def _audit(
    session: AsyncSession, start: date, end: date, council: str, fmt: Format, all_counts: bool, where: str
) -> None:
    from storage import audit

    await audit.append(
        session,
        actor="cli",
        channel="cli",
        action=EXPORTED,
        discussion_id=None,
        detail={
            "start": start.isoformat(),
            "end": end.isoformat(),
            "council": council or None,
            "format": fmt.value,
            "all_counts": all_counts,
            "destination": where,
        },
    )
