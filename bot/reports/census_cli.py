"""`python -m bot census --year 2026 [--format csv|xml] [--council X] [--out FILE]`: the Children in
Need census extract, Section 47 module (dialogs.census; the files: bot.reports.census_out).

- The year: census year 2026 is 1 April 2025 to 31 March 2026.
- The council: the settings' (COUNCIL) by default; `--council ''` takes every council in the
  database, as `python -m bot report` counts them.
- Where: standard output, or `--out FILE`, written whole or not at all.
- If any enquiry breaks a census rule the bot checks, nothing is written: one line per problem (case
  reference, rule, what to do) on standard error, and exit code 2, so the team corrects the data
  before the return is made.
- A written extract is audited (`census.exported`, actor "cli": the year, format, number of rows,
  council and where it went; never a case reference).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.cli import UsageError
from bot.config import Settings
from bot.reports.census_out import CensusFormat

if TYPE_CHECKING:
    from dialogs.procedure import Procedure
    from storage.db import Database

EXPORTED = "census.exported"  # the audit action


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    census = sub.add_parser(
        "census",
        help="the Children in Need census extract (Section 47 module) for a census year",
        description="Write the Section 47 module of the Children in Need census for a census year: one "
        "row per S47 enquiry that started in it (LAchildID, S47ActualStartDate, InitialCPCtarget, "
        "DateOfInitialCPC, ICPCnotRequired). Nothing is written while any enquiry breaks a census rule.",
    )
    census.add_argument(
        "--year", type=int, required=True, help="the census year: 2026 is 1 April 2025 to 31 March 2026"
    )
    census.add_argument("--format", choices=[f.value for f in CensusFormat], default=CensusFormat.CSV.value)
    census.add_argument(
        "--council",
        help="the council whose return it is (default: the COUNCIL setting; '' for every council)",
    )
    census.add_argument("--out", type=Path, help="the file to write (default: standard output)")
    census.set_defaults(handler=cmd_census)


@dataclass(frozen=True)
class CensusJob:
    """One extract to make: what, for whom, and where it goes (None: standard output)."""

    year: int
    fmt: CensusFormat
    council: str | None  # None: every council in the database
    out: Path | None
    tz: str
    nation: str
    today: date | None = None  # None: today on the council's clock (tests give their own)


def cmd_census(args: argparse.Namespace, settings: Settings) -> int:
    if not 1000 <= args.year <= 9999:
        raise UsageError(f"--year {args.year}: give the census year as four digits (2026: 2025-26)")
    job = CensusJob(
        year=args.year,
        fmt=CensusFormat(args.format),
        council=(settings.council if args.council is None else args.council.strip()) or None,
        out=_target(args.out),
        tz=settings.timezone,
        nation=settings.nation,
    )
    return asyncio.run(_census(job, settings))


def _target(out: Path | None) -> Path | None:
    if out is None:
        return None
    if out.is_dir():
        raise UsageError(f"--out {out} is a folder: give the file to write")
    if not out.parent.is_dir():
        raise UsageError(f"--out {out}: there is no folder {out.parent}")
    return out.resolve()


async def _census(job: CensusJob, settings: Settings) -> int:
    from bot.cli_ops import _open_db
    from dialogs.procedure import load_procedure

    procedure = load_procedure(settings.procedure_file)
    db = await _open_db(settings)
    try:
        return await export(db, procedure, job)
    finally:
        await db.dispose()


async def export(db: Database, procedure: Procedure, job: CensusJob) -> int:
    """Make the extract from `db` and write it, or refuse (exit code 2) naming every problem."""
    from sqlalchemy import select
    from sqlmodel import col

    from bot.records.files import write_atomic
    from bot.reports.census_out import render
    from dialogs.census import census_rows
    from storage import audit
    from storage.models import Series
    from storage.types import utcnow

    today = job.today or utcnow().astimezone(ZoneInfo(job.tz)).date()
    async with db.read() as session:  # no write lock while the year is read
        if job.council is not None:
            known = await session.execute(select(col(Series.id)).where(col(Series.council) == job.council))
            if known.first() is None:
                raise UsageError(
                    f"council {job.council!r}: this database holds no discussion of it "
                    "(--council names another, '' every council)"
                )
        extract = await census_rows(session, procedure, job.year, job.tz, job.nation, job.council, today)
    y = extract.year
    if extract.problems:
        print(
            f"census {y.year} ({y.start} to {y.end}): nothing written; {len(extract.problems)} "
            "problem(s) to correct first:",
            file=sys.stderr,
        )
        for problem in extract.problems:
            print(problem.line(), file=sys.stderr)
        return 2
    data = render(extract.rows, job.fmt, y)
    if job.out is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        try:
            write_atomic(job.out, data)
        except OSError as exc:
            raise UsageError(f"cannot write {job.out}: {exc.strerror or type(exc).__name__}") from None
    async with db.session() as session:
        await audit.append(
            session,
            actor="cli",
            channel="cli",
            action=EXPORTED,
            detail={
                "year": y.year,
                "format": job.fmt.value,
                "rows": len(extract.rows),
                "council": job.council,
                "destination": str(job.out) if job.out is not None else "stdout",
            },
        )
    children = len({r.la_child_id for r in extract.rows})
    summary = f"census {y.year} ({y.start} to {y.end}): {len(extract.rows)} enquiries, {children} children"
    if job.out is None:
        print(summary, file=sys.stderr)  # standard output holds the extract itself
    else:
        print(f"{job.out}  ({summary})")
    return 0
