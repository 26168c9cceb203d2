"""Benchmark: does finding and claiming due reminders cost what is due, or what is stored?

Not a test: it prints figures. For each database (SQLite file, PostgreSQL schema) it stores open
discussions with open due items (default 100,000 discussions and 1,000,000 items, all open, their
next reminders spread over the coming month), makes K of them due, and times the scheduler's
find-and-claim (storage.claims.claim_due_items, in the scheduler's batch size) until all K are
claimed. It does so first at 1/10 of the stored rows, then again after adding the other 9/10, so both
sizes are measured in the same run; the baseline for the ratios is the smaller size with the first K.
It also prints the query plan, which shows the partial index `ix_due_item_open_next_at` at work.

    python bench/run.py                                  # full size, SQLite and PostgreSQL
    python bench/run.py --discussions 10000 --only sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import bindparam, text, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement, Executable

from bench.databases import POSTGRES_URL, postgres_schema
from storage import claims, migrate
from storage.db import Database
from storage.models import Discussion, DueItem, Person

KINDS = (
    ("meeting", ""),
    ("quorum", ""),
    ("record_circulation", ""),
    ("outcome_notification", ""),
    ("icpc", ""),
    ("further_discussion", ""),
    ("action", "1"),
    ("action", "2"),
    ("acknowledgement", "1"),
    ("acknowledgement", "2"),
)
PEOPLE = 200
CHUNK = 20_000


class Explain(Executable, ClauseElement):
    """EXPLAIN for any statement, compiled for the database at hand (SQLite: EXPLAIN QUERY PLAN)."""

    inherit_cache = False
    _inline = False  # what the compiler asks of a top-level statement that wraps an INSERT/UPDATE

    def __init__(self, statement, analyze: bool = False) -> None:
        self.statement, self.analyze = statement, analyze


@compiles(Explain)
def _explain(element: Explain, compiler, **kw) -> str:
    if compiler.dialect.name == "sqlite":
        prefix = "EXPLAIN QUERY PLAN "
    else:
        prefix = "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " if element.analyze else "EXPLAIN "
    return prefix + compiler.process(element.statement, **kw)


@dataclass
class Result:
    name: str
    # (stored items, due, median seconds to find, median seconds to find and claim)
    rows: list[tuple[int, int, float, float]] = field(default_factory=list)
    plan: list[str] = field(default_factory=list)
    seed_seconds: float = 0.0


def _sqlite_ts(dt: datetime) -> str:
    # The text SQLAlchemy stores in SQLite for a UTCDateTime (naive UTC, microseconds always written),
    # so raw inserts compare exactly like ORM ones.
    return dt.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


class Seeder:
    """Bulk inserts through the driver: executemany on SQLite, COPY on PostgreSQL."""

    def __init__(self, db: Database, schema: str | None, now: datetime, rng: random.Random) -> None:
        self.db, self.schema, self.now, self.rng = db, schema, now, rng
        self.discussions = 0
        self.items = 0
        self.sqlite = db.dialect == "sqlite"

    def _ts(self, dt: datetime):
        return _sqlite_ts(dt) if self.sqlite else dt

    async def _copy(self, table, columns: list[str], records: list[tuple]) -> None:
        async with self.db.engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            if self.sqlite:
                marks = ", ".join("?" for _ in columns)
                await raw.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", records)
                await raw.commit()
            else:
                await raw.copy_records_to_table(
                    table, records=records, columns=columns, schema_name=self.schema
                )

    async def people(self) -> None:
        template = Person(display_name="x", agency="social_care", role="team_manager").model_dump()
        columns = [c for c in template if c != "id" and template[c] is not None] + ["id"]
        records = []
        for i in range(1, PEOPLE + 1):
            row = {**template, "id": i, "display_name": f"Person {i}", "created_at": self._ts(self.now)}
            records.append(tuple(row[c] for c in columns))
        await self._copy("person", columns, records)

    async def grow(self, discussions: int) -> None:
        """Add discussions (and 10 open due items each) until there are `discussions`."""
        while self.discussions < discussions:
            n = min(CHUNK, discussions - self.discussions)
            await self._discussions(self.discussions + 1, n)
            await self._items(self.discussions + 1, n)
            self.discussions += n

    async def _discussions(self, first: int, n: int) -> None:
        now = self.now
        series = [(i, "", f"BENCH-{i:07}", self._ts(now), False) for i in range(first, first + n)]
        await self._copy("series", ["id", "council", "case_ref", "opened_at", "icpc_not_required"], series)
        template = Discussion(
            series_id=0,
            case_ref="x",
            category="physical",
            concern="(benchmark)",
            convened_by_id=1,
            chair_id=1,
            convened_at=now,
            proposed_at=now,
            meeting_due_at=now,
            updated_at=now,
        ).model_dump()
        columns = [c for c in template if template[c] is not None and c != "id"] + ["id"]
        records = []
        for i in range(first, first + n):
            chair = 1 + i % PEOPLE
            row = {
                **template,
                "id": i,
                "series_id": i,
                "case_ref": f"BENCH-{i:07}",
                "state": "convened",
                "chair_id": chair,
                "convened_by_id": chair,
            }
            for c in ("convened_at", "proposed_at", "meeting_due_at", "updated_at"):
                row[c] = self._ts(row[c])
            records.append(tuple(row[c] for c in columns))
        await self._copy("discussion", columns, records)

    async def _items(self, first_discussion: int, n: int) -> None:
        columns = [
            "id", "discussion_id", "kind", "subject", "recipient_id", "due_at", "escalate_at",
            "next_at", "state", "stage", "updated_at",
        ]  # fmt: skip
        records = []
        month = 30 * 24 * 3600
        for d in range(first_discussion, first_discussion + n):
            for kind, subject in KINDS:
                self.items += 1
                # Every item open, its next moment somewhere in the coming month: none due yet.
                next_at = self.now + timedelta(seconds=60 + self.rng.randrange(month))
                due = next_at + timedelta(hours=24)
                escalate = due + timedelta(hours=2)
                records.append(
                    (self.items, d, kind, subject, 1 + d % PEOPLE, self._ts(due), self._ts(escalate))
                    + (self._ts(next_at), "open", "pending", self._ts(self.now))
                )
        await self._copy("dueitem", columns, records)

    async def analyze(self) -> None:
        async with self.db.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE" if not self.sqlite else "ANALYZE"))


async def _set_next_at(db: Database, ids: list[int], when: datetime, clear_claims: bool) -> None:
    values = {"next_at": bindparam("when")}
    if clear_claims:
        values |= {"claimed_by": None, "claim_expires_at": None}
    stmt = (
        update(DueItem)
        .where(DueItem.id.in_(bindparam("ids", expanding=True)))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    async with db.session() as s:
        for start in range(0, len(ids), 500):
            await s.execute(stmt, {"ids": ids[start : start + 500], "when": when})


async def find_and_claim(
    db: Database, total: int, k: int, *, now: datetime, batch: int, rng: random.Random
) -> tuple[float, float]:
    """Make `k` random items due, then time (1) finding them (the candidates query alone, read only)
    and (2) claiming them all as the scheduler does, in batches; undo afterwards. Returns both times."""
    ids = rng.sample(range(1, total + 1), k) if k else []
    if ids:
        await _set_next_at(db, ids, now - timedelta(minutes=1), clear_claims=False)
    real = datetime.now(UTC)
    find = claims.due_candidates(now=now, real_now=real, limit=k + 1, dialect="sqlite")  # no row locks
    started = time.perf_counter()
    async with db.engine.connect() as conn:
        found = (await conn.execute(find)).scalars().all()
    found_in = time.perf_counter() - started
    worker = f"bench-{uuid.uuid4().hex[:8]}"
    claimed = 0
    started = time.perf_counter()
    while True:
        real = datetime.now(UTC)
        async with db.session() as s:
            got = await claims.claim_due_items(
                s, worker=worker, now=now, real_now=real, lease_until=real + timedelta(minutes=5), limit=batch
            )
        if not got:
            break
        claimed += len(got)
    claimed_in = time.perf_counter() - started
    if claimed != k or len(found) != k:
        raise AssertionError(f"found {len(found)} and claimed {claimed} of {k} due items")
    if ids:
        await _set_next_at(db, ids, now + timedelta(days=40), clear_claims=True)
        await vacuum(db)
    return found_in, claimed_in


async def vacuum(db: Database) -> None:
    """On PostgreSQL, clear the dead row versions the last run left in the index (autovacuum's job in
    production, where they are few), so that each timed run starts from the same state."""
    if db.dialect != "postgresql":
        return
    async with db.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM (INDEX_CLEANUP ON) dueitem"))


async def query_plan(db: Database, *, now: datetime, batch: int, rng: random.Random, total: int) -> list[str]:
    ids = rng.sample(range(1, total + 1), 100)
    await _set_next_at(db, ids, now - timedelta(minutes=1), clear_claims=False)
    real = datetime.now(UTC)
    candidates = claims.due_candidates(now=now, real_now=real, limit=batch, dialect=db.dialect)
    claim = (
        update(DueItem)
        .where(DueItem.id.in_(candidates))
        .values(claimed_by="explain", claim_expires_at=real)
        .returning(DueItem.id)
    )
    lines: list[str] = []
    async with db.engine.connect() as conn:
        trans = await conn.begin()
        try:
            for title, stmt in (
                ("find (the candidates)", candidates),
                ("find and claim (the UPDATE)", claim),
            ):
                rows = (await conn.execute(Explain(stmt, analyze=True))).all()
                lines.append(f"-- {title}, 100 due:")
                lines += [f"   {r[-1]}" for r in rows]
        finally:
            await trans.rollback()  # EXPLAIN ANALYZE ran the UPDATE: leave nothing claimed
    await _set_next_at(db, ids, now + timedelta(days=40), clear_claims=True)
    return lines


async def run_one(name: str, db: Database, schema: str | None, args) -> Result:
    rng = random.Random(args.seed)
    now = datetime.now(UTC)
    result = Result(name)
    await migrate.upgrade(db)
    seeder = Seeder(db, schema, now, rng)
    t0 = time.perf_counter()
    await seeder.people()
    sizes = [max(1, args.discussions // 10), args.discussions]
    for size in sizes:
        await seeder.grow(size)
        await seeder.analyze()
        print(
            f"  {name}: {seeder.discussions:,} discussions, {seeder.items:,} open due items stored",
            flush=True,
        )
        for k in [0, *args.due]:
            await find_and_claim(db, seeder.items, k, now=now, batch=args.batch, rng=rng)  # warm up
            times = [
                await find_and_claim(db, seeder.items, k, now=now, batch=args.batch, rng=rng)
                for _ in range(args.repeat)
            ]
            finds, claims_ = zip(*times, strict=True)
            result.rows.append((seeder.items, k, statistics.median(finds), statistics.median(claims_)))
    result.seed_seconds = time.perf_counter() - t0
    result.plan = await query_plan(db, now=now, batch=args.batch, rng=rng, total=seeder.items)
    return result


def report(result: Result, due: list[int]) -> str:
    baseline_key = (result.rows[0][0], due[0])
    by = {(stored, k): (f, c) for stored, k, f, c in result.rows}
    base = by[baseline_key][1]
    lines = [
        f"== {result.name} (setup and seeding {result.seed_seconds:.0f}s)",
        f"   baseline: find+claim of {baseline_key[1]} due among {baseline_key[0]:,} stored",
        f"   {'stored items':>14}  {'due':>6}  {'find only':>10}  {'find+claim':>11}  {'vs baseline':>11}",
    ]
    for stored, k, f, c in result.rows:
        lines.append(
            f"   {stored:>14,}  {k:>6,}  {f * 1000:>7.2f} ms  {c * 1000:>8.2f} ms  {c / base:>10.2f}x"
        )
    small, big = result.rows[0][0], result.rows[-1][0]
    for k in [0, *due]:
        (f1, c1), (f2, c2) = by[(small, k)], by[(big, k)]
        lines.append(
            f"   {k:>5} due, {big // small}x the stored rows: "
            f"find {f2 / f1:.2f}x, find+claim {c2 / c1:.2f}x the time"
        )
    if len(due) > 1:
        for stored in (small, big):
            (f1, c1), (f2, c2) = by[(stored, due[0])], by[(stored, due[-1])]
            lines.append(
                f"   {stored:>9,} stored, {due[-1] // due[0]}x the due rows: "
                f"find {f2 / f1:.2f}x, find+claim {c2 / c1:.2f}x the time"
            )
    lines.append("   query plan:")
    lines += [f"   {line}" for line in result.plan]
    return "\n".join(lines)


def parse(argv: list[str] | None = None):
    p = argparse.ArgumentParser(prog="python bench/run.py", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--discussions", type=int, default=100_000, help="open discussions at full size (10 items each)"
    )
    p.add_argument("--due", default="100,1000", help="comma-separated numbers of due items to claim")
    p.add_argument("--batch", type=int, default=200, help="claim batch size (the scheduler's default)")
    p.add_argument("--repeat", type=int, default=5, help="timed runs per figure (the median is reported)")
    p.add_argument("--only", choices=["sqlite", "postgresql"])
    p.add_argument(
        "--postgres-url",
        default=POSTGRES_URL,
        help="a database in which the benchmark creates (and then drops) a schema of its own",
    )
    p.add_argument("--seed", type=int, default=20260329)
    args = p.parse_args(argv)
    args.due = [int(x) for x in args.due.split(",")]
    return args


async def main(argv: list[str] | None = None) -> list[str]:
    args = parse(argv)
    reports = []
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}")
            try:
                reports.append(report(await run_one("SQLite", db, None, args), args.due))
            finally:
                await db.dispose()
    if args.only in (None, "postgresql"):
        async with postgres_schema(args.postgres_url, "bench") as connect_args:
            schema = connect_args["server_settings"]["search_path"]
            db = Database(args.postgres_url, connect_args=connect_args)
            try:
                reports.append(report(await run_one("PostgreSQL", db, schema, args), args.due))
            finally:
                await db.dispose()
    return reports


def run(argv: list[str] | None = None) -> None:
    for text_ in asyncio.run(main(argv)):
        print(text_)
