"""The Children in Need census extract, Section 47 module: one row per S47 enquiry that started in a
census year, and the census's validation rules the bot can check (PROCEDURE.md, "What the census asks").

An enquiry is a child's series of discussions that decided S47: its conference deadline (the series'
one `icpc` due item, on the child in the first discussion of the series that decided S47) says where
it started. Further discussions of the same enquiry add no row; a later series for the same child is a
second enquiry; a decision changed away from S47 withdrew the deadline, so it has no row.

The row is the enquiry as it stood at the end of the census year (31 March, the census's reference
date): a conference held, or recorded as not required, after that date is not in that year's return
(the DfE's rule 8715: the date of the initial conference must fall within the census year).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dialogs.clock import add_working_days
from dialogs.enquiries import enquiries
from dialogs.procedure import Procedure
from storage.models import Child, Discussion, DueItem, Series

CENSUS_ICPC_WORKING_DAYS = 15  # the census's InitialCPCtarget, whatever a council's own deadline


@dataclass(frozen=True)
class CensusYear:
    """The census year `year`: 1 April of the year before to 31 March of `year` (2026: 2025-26)."""

    year: int

    @property
    def start(self) -> date:
        return date(self.year - 1, 4, 1)

    @property
    def end(self) -> date:  # the census's reference date
        return date(self.year, 3, 31)

    def holds(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class CensusRow:
    """One Section 47 enquiry as the census asks for it (field names: the census's)."""

    la_child_id: str  # LAchildID: the child's case reference
    s47_start: date  # S47ActualStartDate: the discussion that decided S47
    icpc_target: date  # InitialCPCtarget: the conference deadline, a local date
    icpc_date: date | None  # DateOfInitialCPC: when it was held, never a planned date
    icpc_not_required: bool  # ICPCnotRequired: the enquiry ended without the need for a conference


@dataclass(frozen=True)
class Problem:
    """A row that breaks a census rule: the case reference, the rule in a few words, and what is wrong
    with what to do about it (dates and field names only: never anything about the child)."""

    la_child_id: str
    rule: str
    detail: str

    def line(self) -> str:
        return f"{self.la_child_id}: {self.rule}: {self.detail}"


@dataclass(frozen=True)
class Extract:
    year: CensusYear
    rows: tuple[CensusRow, ...]
    problems: tuple[Problem, ...]  # none: the rows can be sent


async def census_rows(
    session: AsyncSession,
    procedure: Procedure,
    year: int,
    tz: str,
    nation: str,
    council: str | None,
    today: date,
) -> Extract:
    """The enquiries that started in census year `year` (of `council`; None: every council in the
    database), ordered by case reference then start, and the census rules they break."""
    census = CensusYear(year)
    zone = ZoneInfo(tz)
    query = enquiries(census.start, census.end, council).with_only_columns(
        col(Child.case_ref),
        col(Discussion.held_on),
        col(DueItem.due_at),
        col(Series.icpc_held_on),
        col(Series.icpc_not_required),
        col(Series.icpc_recorded_at),
    )
    rows: list[CensusRow] = []
    for ref, start, due_at, held_on, not_required, recorded_at in (await session.execute(query)).all():
        if start is None:  # held_on is in the year, so never; the type does not know it
            continue
        rows.append(
            CensusRow(
                la_child_id=ref,
                s47_start=start,
                icpc_target=due_at.astimezone(zone).date(),
                icpc_date=held_on if held_on is not None and held_on <= census.end else None,
                icpc_not_required=not_required and _known_by(recorded_at, census.end, zone),
            )
        )
    # Sorted here, not by ORDER BY: SQLite and PostgreSQL collate text differently.
    rows.sort(key=lambda r: (r.la_child_id, r.s47_start, r.icpc_target))
    found = tuple(rows)
    return Extract(census, found, check(found, Context(census, nation, today, procedure)))


def _known_by(at: datetime | None, day: date, zone: ZoneInfo) -> bool:
    """Whether something recorded `at` was known by the end of `day` (no time kept: it was)."""
    return at is None or at.astimezone(zone).date() <= day


# --- the census's rules ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    year: CensusYear
    nation: str
    today: date
    procedure: Procedure


Check = Callable[[Sequence[CensusRow], Context], list[Problem]]


def conference_before_start(rows: Sequence[CensusRow], ctx: Context) -> list[Problem]:
    """DateOfInitialCPC must not be before S47ActualStartDate (the DfE's rule 8615)."""
    return [
        Problem(
            r.la_child_id,
            "conference before the S47 start",
            f"DateOfInitialCPC {r.icpc_date} is before S47ActualStartDate {r.s47_start}: correct the "
            "conference date recorded for this enquiry, or the date of the discussion that decided S47",
        )
        for r in rows
        if r.icpc_date is not None and r.icpc_date < r.s47_start
    ]


def target_not_15_working_days(rows: Sequence[CensusRow], ctx: Context) -> list[Problem]:
    """InitialCPCtarget is 15 working days after S47ActualStartDate (the nation's bank holidays)."""
    out: list[Problem] = []
    for r in rows:
        expected = add_working_days(r.s47_start, CENSUS_ICPC_WORKING_DAYS, ctx.nation)
        if r.icpc_target != expected:
            out.append(
                Problem(
                    r.la_child_id,
                    "InitialCPCtarget not 15 working days after the S47 start",
                    f"the bot's conference deadline is {r.icpc_target}, the census's target is {expected} "
                    f"(15 working days after S47ActualStartDate {r.s47_start}); {_why_target(ctx)}",
                )
            )
    return out


def _why_target(ctx: Context) -> str:
    t = ctx.procedure.timescales
    differs = []
    if t.icpc_counted_from == "last":
        differs.append(
            "counts the conference from the last discussion that decided S47 "
            "(timescales.icpc_counted_from: last), the census from the first"
        )
    if t.icpc_working_days != CENSUS_ICPC_WORKING_DAYS:
        differs.append(
            f"gives the conference {t.icpc_working_days} working days (timescales.icpc_working_days), "
            f"the census {CENSUS_ICPC_WORKING_DAYS}"
        )
    if differs:
        return (
            f"this council's procedure file {' and '.join(differs)}. Give the census's date for this "
            "enquiry from the case-management system instead of this extract, or have the procedure "
            "count as the census does (icpc_counted_from: first, icpc_working_days: 15) and export again"
        )
    return (
        "the deadline no longer follows the date of the discussion that decided S47 (one of them was "
        "changed afterwards): check the date that discussion was held and the conference deadline"
    )


def held_and_not_required(rows: Sequence[CensusRow], ctx: Context) -> list[Problem]:
    """A conference that was held was required: DateOfInitialCPC and ICPCnotRequired true exclude
    each other."""
    return [
        Problem(
            r.la_child_id,
            "conference both held and not required",
            f"DateOfInitialCPC {r.icpc_date} is given and ICPCnotRequired is true: keep the one that is "
            "right for this enquiry",
        )
        for r in rows
        if r.icpc_date is not None and r.icpc_not_required
    ]


def conference_in_future(rows: Sequence[CensusRow], ctx: Context) -> list[Problem]:
    """DateOfInitialCPC is the date a conference was held, so never after today."""
    return [
        Problem(
            r.la_child_id,
            "conference date in the future",
            f"DateOfInitialCPC {r.icpc_date} is after today ({ctx.today}): the census takes the date a "
            "conference was held, never a planned one; record it once it has been held",
        )
        for r in rows
        if r.icpc_date is not None and r.icpc_date > ctx.today
    ]


def start_outside_year(rows: Sequence[CensusRow], ctx: Context) -> list[Problem]:
    """An enquiry is returned for the census year its S47 start falls in."""
    y = ctx.year
    return [
        Problem(
            r.la_child_id,
            "S47 start outside the census year",
            f"S47ActualStartDate {r.s47_start} is not in census year {y.year} ({y.start} to {y.end})",
        )
        for r in rows
        if not y.holds(r.s47_start)
    ]


def same_day_twice(rows: Sequence[CensusRow], ctx: Context) -> list[Problem]:
    """Two enquiries for one child cannot start on the same day (one child: the bot matches case
    references whatever their letters' case)."""
    starts = Counter((r.la_child_id.lower(), r.s47_start) for r in rows)
    first: dict[tuple[str, date], CensusRow] = {}  # each pair once, as its first row writes it
    for r in rows:
        first.setdefault((r.la_child_id.lower(), r.s47_start), r)
    return [
        Problem(
            r.la_child_id,
            "two enquiries starting the same day",
            f"{starts[key]} Section 47 enquiries start on {r.s47_start}: one enquiry recorded in two "
            "series of discussions? Check this child's series and correct the one that is wrong",
        )
        for key, r in first.items()
        if starts[key] > 1
    ]


def spelled_two_ways(rows: Sequence[CensusRow], ctx: Context) -> list[Problem]:
    """One child's case reference written with different capitals would be two children in the
    census's LAchildID, which is exact."""
    spellings: dict[str, set[str]] = {}
    for r in rows:
        spellings.setdefault(r.la_child_id.lower(), set()).add(r.la_child_id)
    return [
        Problem(
            min(ways),
            "case reference written two ways",
            f"{', '.join(sorted(ways))} are one child to the bot but would be {len(ways)} children in the "
            "census: correct the reference of the series that is written differently",
        )
        for ways in spellings.values()
        if len(ways) > 1
    ]


CHECKS: tuple[Check, ...] = (
    conference_before_start,
    target_not_15_working_days,
    held_and_not_required,
    conference_in_future,
    start_outside_year,
    same_day_twice,
    spelled_two_ways,
)


def check(rows: Sequence[CensusRow], ctx: Context) -> tuple[Problem, ...]:
    """Every problem of every rule, in the rows' order (by case reference) then the rules' order."""
    found = [(i, p) for i, rule in enumerate(CHECKS) for p in rule(rows, ctx)]
    found.sort(key=lambda x: (x[1].la_child_id, x[0]))
    return tuple(p for _, p in found)
