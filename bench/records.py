"""Benchmark: exporting signed-off records, per format (issue 13: 1,000 records in under a minute on
one core).

Not a test: it prints figures. It fills a SQLite file with discussions walked through the engine as
people would (convened, two agencies invited and accepted, started, a contribution full of markdown,
HTML and XML characters, decided: S47 with its plan, Single Assessment or no S47 in turn; signed off),
one child each, until it holds `--records` signed-off records. Then, pinned to one CPU, it times:

- **build**: each record read back from the database as the typed record (dialogs.record_export.signed,
  one read transaction per record, as the export folder does);
- per format, **render** (bot.records.formats.render) and **write** (bot.records.files.write_atomic:
  a temporary file, fsync, rename, fsync of the folder) of every record;
- the **baseline**, measured in the same run: the stdlib's `json.dumps` of each record as plain data,
  so the ratios compare machines.

"export" is build + render + write: what `python -m bot record export` costs per record in that
format; "folder" is one build and every format, what RECORD_EXPORT_DIR costs per signed-off version.

    python bench/run.py records                       # 1,000 records, every format
    python bench/run.py records --records 200 --formats json,docx
    python bench/run.py records --keep /tmp/records.db  # keep the database, and reuse it next time
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlmodel import col

from bot.records.files import file_name, write_atomic
from bot.records.formats import Format, render
from dialogs.record_export import Signed, signed
from dialogs.record_json import ADAPTER
from storage import migrate
from storage.db import Database
from storage.models import RecordVersion
from tests.engine_helpers import make_driver
from tests.lifecycle_walks import decided, signed_off, started
from tests.records import SPECIAL

OUTCOMES = ("s47_joint", "single_assessment", "no_s47")
TARGET_SECONDS = 60.0  # for 1,000 records (issue 13)


@dataclass
class Timings:
    """Seconds per record, in the order measured."""

    each: list[float] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(self.each)

    @property
    def mean(self) -> float:
        return self.total / len(self.each)

    def p(self, q: float) -> float:
        ordered = sorted(self.each)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def fill(db: Database, wanted: int) -> int:
    """Walk discussions until `wanted` records are signed off; returns how many were walked now."""
    async with db.read() as s:
        have = (await s.execute(select(func.count()).select_from(RecordVersion))).scalar_one()
    if have >= wanted:
        return 0
    if have:
        raise SystemExit(
            f"the kept database holds {have} records, fewer than {wanted}: use a new --keep file"
        )
    drv = await make_driver(db)
    started_at = time.perf_counter()
    for n in range(wanted):
        did = await started(drv, case_ref=f"BENCH-{n:05d}")
        await drv.reply("police", did, SPECIAL.replace("LL-3001: ", ""))
        outcome = OUTCOMES[n % len(OUTCOMES)]
        await decided(drv, did, outcome)
        await signed_off(drv, did, plan=outcome == "s47_joint")
        if (n + 1) % 100 == 0:
            print(f"   walked {n + 1} discussions ({time.perf_counter() - started_at:.0f} s)", flush=True)
    return wanted


def one_core() -> str:
    """Pin this process (the event loop and aiosqlite's thread alike) to one CPU."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity here)"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


async def build_all(db: Database, dialogs, versions: list[RecordVersion]) -> tuple[list[Signed], Timings]:
    out, t = [], Timings()
    for version in versions:
        started_at = time.perf_counter()
        async with db.read() as session:
            out.append(await signed(dialogs, session, version))
        t.each.append(time.perf_counter() - started_at)
    return out, t


def baseline(records: list[Signed]) -> Timings:
    plain = [ADAPTER.dump_python(r.record, mode="json") for r in records]  # prepared outside the timing
    t = Timings()
    for data in plain:
        started_at = time.perf_counter()
        json.dumps(data, indent=2)
        t.each.append(time.perf_counter() - started_at)
    return t


def render_and_write(records: list[Signed], fmt: Format, folder: Path) -> tuple[Timings, Timings, int]:
    rendered, written, size = Timings(), Timings(), 0
    for record in records:
        started_at = time.perf_counter()
        data = render(record.record, fmt)
        middle = time.perf_counter()
        write_atomic(folder / file_name(record, fmt), data)
        rendered.each.append(middle - started_at)
        written.each.append(time.perf_counter() - middle)
        size += len(data)
    return rendered, written, size


async def measure(args) -> None:
    from dialogs.engine import Dialogs
    from dialogs.procedure import load_procedure

    formats = [Format(f.strip()) for f in args.formats.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-records-") as tmp:
        path = Path(args.keep) if args.keep else Path(tmp) / "records.db"
        db = Database(f"sqlite:///{path}")
        try:
            await migrate.upgrade(db)
            print(f"== Record exports: {args.records} signed-off records, SQLite ({path})")
            started_at = time.perf_counter()
            walked = await fill(db, args.records)
            if walked:
                print(f"   set-up: {walked} discussions walked in {time.perf_counter() - started_at:.0f} s")
            async with db.read() as s:
                query = select(RecordVersion).order_by(col(RecordVersion.id)).limit(args.records)
                versions = list((await s.execute(query)).scalars())
            print(f"   {one_core()}")
            dialogs = Dialogs(db, load_procedure(), now=_fixed_now)
            records, build = await build_all(db, dialogs, versions)
            base = baseline(records)
            rows = []
            for fmt in formats:
                folder = Path(tmp) / fmt.value
                folder.mkdir()
                rendered, written, size = render_and_write(records, fmt, folder)
                rows.append((fmt, rendered, written, size))
        finally:
            await db.dispose()
    report(len(records), base, build, rows)


def _fixed_now():
    from tests.engine_helpers import TUESDAY_10AM

    return TUESDAY_10AM


def report(n: int, base: Timings, build: Timings, rows) -> None:
    scale = 1000 / n  # the figures for 1,000 records

    def ms(x: float) -> str:
        return f"{x * 1000:8.2f} ms"

    def ratio(t: Timings) -> str:
        return f"{t.mean / base.mean:9.1f}x"

    print(f"   baseline: json.dumps of each record as plain data: mean {ms(base.mean)} per record")
    print(f"   {'step':<14} {'mean':>11} {'p50':>11} {'p99':>11} {'vs baseline':>11} {'per 1,000':>10}")
    print(
        f"   {'build':<14} {ms(build.mean)} {ms(build.p(0.5))} {ms(build.p(0.99))} {ratio(build)}"
        f" {build.total * scale:8.1f} s"
    )
    folder_total = build.total
    verdicts = []
    for fmt, rendered, written, size in rows:
        for label, t in ((f"render {fmt.value}", rendered), (f"write {fmt.value}", written)):
            print(
                f"   {label:<14} {ms(t.mean)} {ms(t.p(0.5))} {ms(t.p(0.99))} {ratio(t)}"
                f" {t.total * scale:8.1f} s"
            )
        export = (build.total + rendered.total + written.total) * scale
        folder_total += rendered.total + written.total
        verdicts.append((fmt, export, size / n))
    print("   per format, build + render + write (one `record export` per record):")
    for fmt, export, mean_size in verdicts:
        met = "met" if export < TARGET_SECONDS else "MISSED"
        print(
            f"     {fmt.value:<5} {export:7.1f} s per 1,000 records (mean file {mean_size / 1024:.1f} KB):"
            f" under a minute {met}"
        )
    total = folder_total * scale
    met = "met" if total < TARGET_SECONDS else "MISSED"
    names = "+".join(f.value for f, *_ in rows)
    print(
        f"   the export folder, {names} from one build: {total:.1f} s per 1,000 records: under a minute {met}"
    )


def run(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python bench/run.py records", description=__doc__.split("\n\n")[0])
    p.add_argument("--records", type=int, default=1000, help="signed-off records to export (default 1,000)")
    p.add_argument("--formats", default="json,docx,pdf", help="comma-separated: docx, pdf, json")
    p.add_argument("--keep", help="a SQLite file to keep the walked discussions in, and to reuse next time")
    args = p.parse_args(argv)
    asyncio.run(measure(args))
