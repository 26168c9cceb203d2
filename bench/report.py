"""Benchmark: a year of figures (issue 14, point 5: about 5,000 discussions report in under 1 second on
PostgreSQL and under 3 on SQLite; the queries are aggregates in the database).

Not a test: it prints figures. For each database (a SQLite file, a PostgreSQL schema of its own, dropped
afterwards) it migrates, seeds the fictional year of bench/report_seed.py, first a tenth of it and then
the rest, and at both sizes times, each in one read transaction as `python -m bot report` reads:

- the **baseline**, in the same run: the due items counted by kind (one GROUP BY over the largest
  table the report reads, no join: the simplest aggregate it is made of), so the ratios compare
  machines;
- **report, year**: dialogs.report_query.build for 1 April 2025 to 31 March 2026, every council;
- **report, year, one council**: the same for one council (the filter joins the series);
- **report, month**: March 2026 only (what the chat's `report` asks for);
- **census, year 2026**: dialogs.census.census_rows, when that module exists.

Each is run once cold (the first run: SQLAlchemy compiles the statements) and then `--repeat` times;
best and median are printed with the median's ratio to the baseline's, the SQL statements each run
issued (counted with a `before_cursor_execute` event: they must not grow with the data) and, for the
year's report and the census, the issue's target against the median. The year's report at full size
is also broken down per statement, to show which section costs what.

    python bench/run.py report                       # 5,000 discussions, SQLite and PostgreSQL
    python bench/run.py report --discussions 20000 --only postgresql
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bench.databases import POSTGRES_URL, postgres_schema
from bench.report_rows import NATION, NOW, TZ
from bench.report_seed import COUNCIL, YEAR, Year
from dialogs import report_query
from dialogs.procedure import Procedure, load_procedure
from dialogs.report_model import Report
from dialogs.report_query import Scope, build
from storage import migrate
from storage.db import Database
from storage.models import DueItem

TARGETS = {"sqlite": 3.0, "postgresql": 1.0}  # seconds for a year of about 5,000 discussions (issue 14)
CENSUS_YEAR = 2026  # 1 April 2025 to 31 March 2026: the seeded year

Work = Callable[[AsyncSession], Awaitable[Any]]
Timings = list[tuple[str, float]]  # each statement of one run, with its seconds


@dataclass
class Figure:
    what: str
    discussions: int
    times: list[float]  # seconds, the cold run first
    statements: int
    targeted: bool = False

    @property
    def best(self) -> float:
        return min(self.times[1:])

    @property
    def median(self) -> float:
        return statistics.median(self.times[1:])


@dataclass
class Result:
    name: str
    dialect: str
    figures: list[Figure] = field(default_factory=list)
    seeded: list[str] = field(default_factory=list)
    per_statement: list[tuple[float, str]] = field(default_factory=list)
    summary: str = ""
    plans: list[str] = field(default_factory=list)


class Statements:
    """Counts (and times) the statements sent to the database while `active`."""

    def __init__(self, db: Database) -> None:
        self.active = False
        self.count = 0
        self.times: Timings = []
        self.sql: list[tuple[str, Any]] = []  # each statement with its parameters, for EXPLAIN
        self._started = 0.0
        event.listen(db.engine.sync_engine, "before_cursor_execute", self._before)
        event.listen(db.engine.sync_engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if self.active:
            self.count += 1
            self.sql.append((statement, parameters))
            self._started = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.active:
            self.times.append((statement, time.perf_counter() - self._started))


def _clear_caches() -> None:
    # Every run starts as a fresh process would: no working days remembered from the last run.
    report_query._working_days.cache_clear()


async def timed(
    db: Database, counter: Statements, work: Work, repeat: int
) -> tuple[list[float], int, list[Timings]]:
    """Seconds of each run (the cold one first), the statements each issued, and their timings."""
    times: list[float] = []
    counts: list[int] = []
    per_statement: list[Timings] = []
    for _ in range(repeat + 1):
        _clear_caches()
        counter.count, counter.times = 0, []
        started = time.perf_counter()
        async with db.read() as session:
            counter.active, counter.sql = True, []  # the read transaction's own BEGIN is not the report's
            try:
                await work(session)
            finally:
                counter.active = False
        times.append(time.perf_counter() - started)
        counts.append(counter.count)
        per_statement.append(counter.times)
    if len(set(counts)) != 1:
        raise AssertionError(f"the statements issued changed between runs: {counts}")
    return times, counts[0], per_statement


def _census() -> Callable[..., Awaitable[Any]] | None:
    try:  # another part of issue 14: measured once it exists
        from dialogs.census import census_rows
    except ImportError:
        return None
    return census_rows


def works(procedure: Procedure) -> list[tuple[str, Work, bool]]:
    """(what, the work, whether the issue's target applies)."""

    def report(start: date, end: date, council: str | None) -> Work:
        scope = Scope(start, end, TZ, NATION, council)
        return lambda session: build(session, procedure, scope, NOW)

    async def baseline(session: AsyncSession) -> list[Any]:
        kinds = select(col(DueItem.kind), func.count()).group_by(col(DueItem.kind))
        return list((await session.execute(kinds)).all())

    out: list[tuple[str, Work, bool]] = [
        ("baseline: due items by kind", baseline, False),
        ("report, year", report(*YEAR, None), True),
        ("report, year, one council", report(*YEAR, COUNCIL), True),
        ("report, month", report(date(2026, 3, 1), date(2026, 3, 31), None), False),
    ]
    census_rows = _census()
    if census_rows is not None:
        out.append(
            (
                f"census, year {CENSUS_YEAR}",
                lambda s: census_rows(s, procedure, CENSUS_YEAR, TZ, NATION, None, NOW.date()),
                True,
            )
        )
    return out


async def analyze(db: Database) -> None:
    """PostgreSQL: the statistics autovacuum would gather after such an insert. SQLite: nothing, as the
    bot never runs ANALYZE there (the planner works without statistics in production too)."""
    if db.dialect != "postgresql":
        return
    async with db.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE"))


def _label(sql: str) -> str:
    """A statement in a few words: what it reads and how it groups."""
    flat = " ".join(sql.split())
    tables = re.findall(r"(?:FROM|JOIN) (\w+)", flat)
    grouped = re.search(r"GROUP BY (.+?)(?: ORDER BY| LIMIT|$)", flat)
    words = "+".join(dict.fromkeys(tables))
    if grouped:
        words += " by " + grouped.group(1)[:60]
    if "count(DISTINCT" in flat or "count(distinct" in flat:
        words += " (distinct)"
    return words


async def run_one(name: str, db: Database, args: argparse.Namespace, procedure: Procedure) -> Result:
    result = Result(name, db.dialect)
    await migrate.upgrade(db)
    counter = Statements(db)
    year = Year(procedure, args.seed)
    for size in (max(1, args.discussions // 10), args.discussions):
        started = time.perf_counter()
        year.grow(size)
        made = time.perf_counter() - started
        await year.flush(db)
        await analyze(db)
        stored = ", ".join(f"{n:,} {t}" for t, n in year.stored.items() if t != "person")
        result.seeded.append(
            f"{year.discussions:,} discussions: made in {made:.1f} s, inserted in "
            f"{time.perf_counter() - started - made:.1f} s ({stored})"
        )
        print(f"  {name}: {result.seeded[-1]}", flush=True)
        for what, work, targeted in works(procedure):
            times, statements, per_statement = await timed(db, counter, work, args.repeat)
            result.figures.append(Figure(what, year.discussions, times, statements, targeted))
            if what == "report, year" and size == args.discussions:
                result.per_statement = _per_statement(per_statement[1:])
    async with db.read() as session:
        result.summary = summary(await build(session, procedure, Scope(*YEAR, TZ, NATION, None), NOW))
        census_rows = _census()
        if census_rows is not None:
            extract = await census_rows(session, procedure, CENSUS_YEAR, TZ, NATION, None, NOW.date())
            broken = Counter(p.rule for p in extract.problems)
            result.summary += (
                f"\n   census {CENSUS_YEAR}: {len(extract.rows):,} rows, rules broken: {dict(broken)}"
            )
    if args.explain:
        result.plans = await explain(db, counter, procedure)
    return result


async def explain(db: Database, counter: Statements, procedure: Procedure) -> list[str]:
    """The query plan of each statement of the year's report and of the census extract (PostgreSQL:
    run, with its times)."""
    prefix = "EXPLAIN QUERY PLAN " if db.dialect == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "
    lines = []
    for what, work, targeted in works(procedure):
        if not targeted or "council" in what:
            continue
        async with db.read() as session:
            counter.active, counter.sql = True, []
            try:
                await work(session)
            finally:
                counter.active = False
            conn = await session.connection()
            for i, (sql, parameters) in enumerate(counter.sql):
                lines.append(f"   -- {what}, {i + 1}. {_label(sql)}")
                rows = (await conn.exec_driver_sql(prefix + sql, parameters)).all()
                lines += [f"      {row[-1]}" for row in rows]
    return lines


def _per_statement(runs: list[Timings]) -> list[tuple[float, str]]:
    """The median time of each statement across the warm runs, slowest first."""
    out = []
    for i, (sql, _) in enumerate(runs[0]):
        out.append((statistics.median(run[i][1] for run in runs), f"{i + 1:>2}. {_label(sql)}"))
    return sorted(out, reverse=True)


def summary(r: Report) -> str:
    """A few of the year's figures: the seeded data is shaped like a year, and every section has rows."""
    c = r.conferences
    kinds = ", ".join(f"{k.kind} {k.total:,}" for k in r.timeliness)
    outcomes = ", ".join(f"{o.outcome} {o.children:,}" for o in r.outcomes)
    bands = ", ".join(f"{b}: {n:,}" for b, n in c.bands.items())
    took_part = ", ".join(f"{a.group} {a.took_part:,}/{a.invited:,}" for a in r.attendance)
    return "\n".join(
        [
            f"   the year's figures: {r.discussions:,} discussions held "
            f"({r.out_of_hours / max(1, r.discussions):.0%} out of hours, "
            f"{r.out_of_hours_overridden} overridden), {r.children:,} children",
            f"   deadlines due: {kinds}",
            f"   outcomes per child: {outcomes}; decided without the quorum: {r.overrides:,} discussions",
            f"   S47 enquiries {c.enquiries:,}: conferences by band {bands}; "
            f"not required {c.not_required:,}; awaited {c.awaited:,}",
            f"   took part / invited (discussions): {took_part}",
        ]
    )


def render(result: Result, target: float) -> str:
    figures = result.figures
    lines = [f"== {result.name}"] + [f"   seeded {s}" for s in result.seeded]
    head = f"   {'what':<30} {'discussions':>11} {'first':>9} {'best':>9} {'median':>9} {'vs baseline':>11}"
    lines.append(f"{head} {'statements':>10}  target")
    for f in figures:
        base = next(b for b in figures if b.discussions == f.discussions and b.what.startswith("baseline"))
        verdict = ""
        if f.targeted and f.discussions == max(x.discussions for x in figures):
            verdict = f"< {target:.0f} s: {'PASS' if f.median < target else 'FAIL'}"
        lines.append(
            f"   {f.what:<30} {f.discussions:>11,} {f.times[0] * 1000:>6.1f} ms {f.best * 1000:>6.1f} ms "
            f"{f.median * 1000:>6.1f} ms {f.median / base.median:>10.1f}x {f.statements:>10}  {verdict}"
        )
    sizes = sorted({f.discussions for f in figures})
    small, big = sizes[0], sizes[-1]
    for f in figures:
        if f.discussions == big and big != small:
            before = next(x for x in figures if x.what == f.what and x.discussions == small)
            lines.append(
                f"   {f.what}: {big / small:.0f}x the discussions, {f.median / before.median:.1f}x the time, "
                f"statements {before.statements} -> {f.statements}"
            )
    lines.append("   the year's report at full size, per statement (median of the warm runs):")
    lines += [f"     {t * 1000:7.1f} ms  {label}" for t, label in result.per_statement]
    lines.append(result.summary)
    if result.plans:
        lines += ["   query plans:", *result.plans]
    return "\n".join(lines)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python bench/run.py report", description=__doc__.split("\n\n")[0])
    p.add_argument("--discussions", type=int, default=5000, help="discussions in the seeded year")
    p.add_argument("--repeat", type=int, default=5, help="warm runs per figure, after the cold one")
    p.add_argument("--only", choices=["sqlite", "postgresql"])
    p.add_argument(
        "--postgres-url",
        default=POSTGRES_URL,
        help="a database in which the benchmark creates (and then drops) a schema of its own",
    )
    p.add_argument("--explain", action="store_true", help="print the query plan of each statement")
    p.add_argument("--seed", type=int, default=20260415)
    return p.parse_args(argv)


async def main(argv: list[str] | None = None) -> list[str]:
    args = parse(argv)
    procedure = load_procedure()
    reports = []
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            db = Database(f"sqlite:///{Path(tmp) / 'report.db'}")
            try:
                reports.append(render(await run_one("SQLite", db, args, procedure), TARGETS["sqlite"]))
            finally:
                await db.dispose()
    if args.only in (None, "postgresql"):
        async with postgres_schema(args.postgres_url, "bench_report") as connect_args:
            db = Database(args.postgres_url, connect_args=connect_args)
            try:
                result = await run_one("PostgreSQL", db, args, procedure)
                reports.append(render(result, TARGETS["postgresql"]))
            finally:
                await db.dispose()
    return reports


def run(argv: list[str] | None = None) -> None:
    for text_ in asyncio.run(main(argv)):
        print(text_)
