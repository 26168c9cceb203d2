"""Benchmark: the Slack inbound path of the real web app, driven by signed requests over loopback.

Not a test: it prints figures. It starts the real bot (`python -m bot serve`, one or two processes)
against a stand-in Slack Web API (tests/slack/standin.py) and a fresh database (a SQLite file, then a
PostgreSQL database of its own, dropped afterwards), convenes discussions through the bot as a chair
would (signed slash command, modals and buttons), and then sends signed Events API `message` events
(thread replies) at it:

  ack        open loop at 10, 25, 50 and 100 replies/s: p50/p99 of the HTTP answer, against a bare
             slack-bolt app (same version, same signing secret, a listener that does nothing) measured
             in the same run; and the time from sending a reply to its contribution row being stored
  turns      closed loop with 1, 8 and 32 discussions in parallel (each sends its next reply when the
             previous one is stored), with one and with two bot processes on the same database:
             contributions stored per second
  overload   200 replies/s for 60 s against one process: the process's RSS each second, 2xx against
             refused (non-2xx or no answer) replies, and how long after the load until every reply
             answered 2xx is stored

"Stored" is always the contribution row in the database (found by a token in the reply's text), never
anything internal to the bot, so the figures stay comparable when its inbound path changes.

    python bench/run.py ingest                  # full run, SQLite and PostgreSQL (30-45 minutes)
    python bench/run.py ingest --quick          # smoke run: tiny loads, SQLite and PostgreSQL (minutes)
    python bench/run.py ingest --only sqlite --seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as a script or as a child process: bench.*, tests.slack.*

from bench.databases import POSTGRES_URL  # noqa: E402
from bench.ingest_load import (  # noqa: E402
    QUIET,
    STALL,
    TEXT,
    Pass,
    Reader,
    Sent,
    drive,
    pct,
    rss_mb,
    slope_per_minute,
)
from bench.ingest_procs import Proc, child_env, run_driver, serve_bare, start_process  # noqa: E402
from bench.ingest_report import describe_ack, describe_overload, ms, report  # noqa: E402
from bench.ingest_setup import convene  # noqa: E402
from tests.slack import signing  # noqa: E402
from tests.slack.standin import BOT_TOKEN  # noqa: E402

# --- the phases ---------------------------------------------------------------------------------------


class Bench:
    def __init__(self, args, workdir: Path) -> None:
        self.args, self.workdir = args, workdir
        self.phase = 0
        self.db_url = ""
        self.answered = 0
        self.standin: Any = None

    async def run(self, spec: dict) -> dict:
        """One load level, then wait until the bot has stopped calling Slack: replies are stored
        before their cards are delivered, so a backlog of deliveries would spill into the next level."""
        out = await run_driver(spec, self.workdir)
        if spec.get("stores", True):
            self.answered += sum(1 for r in out["records"] if 200 <= r[3] < 300)
        calls, still = len(self.standin.calls), 0.0
        for _ in range(int(self.args.drain / 0.1)):  # bounded
            await asyncio.sleep(0.1)
            still = still + 0.1 if len(self.standin.calls) == calls else 0.0
            calls = len(self.standin.calls)
            if still >= QUIET:
                break
        return out

    def spec(self, what: str, targets: list[Proc], threads: list[dict], **kw) -> dict:
        self.phase += 1
        return {
            "prefix": f"{what}{self.phase}x",
            "targets": [t.url for t in targets],
            "threads": threads,
            "secret": signing.SECRET,
            "duration": self.args.seconds,
            "db": self.db_url,
            "drain": self.args.drain,
        } | kw

    async def ack(self, result: Pass, bot: Proc, bare: Proc, threads: list[dict]) -> None:
        for proc in (bare, bot):  # warm up both (first connections, caches), not reported
            await self.run(
                self.spec(
                    "w", [proc], threads, mode="open", rate=10, duration=self.args.warmup, stores=proc is bot
                )
            )
        for rate in self.args.rates:
            row: dict[str, Any] = {"rate": rate}
            for who, proc in (("bare", bare), ("bot", bot)):
                spec = self.spec("a", [proc], threads, mode="open", rate=rate, stores=proc is bot)
                out = await self.run(spec)
                row[who] = Sent.of(out)
                row[f"{who}_late"] = out["late"]
            result.ack.append(row)
            print(f"    ack {rate:g}/s: {describe_ack(row)}", flush=True)

    async def turns(self, result: Pass, bots: list[Proc], threads: list[dict]) -> None:
        for n in self.args.parallel:
            mine = [t | {"target": k % len(bots)} for k, t in enumerate(threads[:n])]
            out = await self.run(self.spec("t", bots, mine, mode="closed"))
            sent = Sent.of(out)
            in_window = sum(
                1 for r in out["records"] if r[4] is not None and out["begin"] <= r[4] <= out["end"]
            )
            row = {
                "processes": len(bots),
                "parallel": n,
                "turns_per_s": in_window / self.args.seconds,
                "sent": sent,
                "stalled": out["stalled"],
            }
            result.turns.append(row)
            print(
                f"    turns, {len(bots)} process(es), {n} in parallel: {row['turns_per_s']:.1f}/s, "
                f"stored p50 {ms(pct(sent.to_store, 50))} ms (refused {sent.refused}, "
                f"not stored within {STALL:g}s {out['stalled']})",
                flush=True,
            )

    async def overload(self, bot: Proc, threads: list[dict]) -> dict:
        spec = self.spec(
            "o",
            [bot],
            threads,
            mode="open",
            rate=self.args.overload_rate,
            duration=self.args.overload_seconds,
        )
        samples: list[tuple[float, float]] = []  # (wall clock, MB)
        before = rss_mb(bot.pid)
        driver = asyncio.create_task(self.run(spec))
        while not driver.done():  # each second, during the load and while its backlog is worked off
            rss = rss_mb(bot.pid)
            if rss is not None:
                samples.append((time.time(), rss))
            await asyncio.wait({driver}, timeout=1.0)
        out = driver.result()
        during = [s for s in samples if s[0] <= out["load_end"]]
        half = [s for s in during if s[0] >= (out["begin"] + out["load_end"]) / 2]
        return {
            "rate": self.args.overload_rate,
            "seconds": self.args.overload_seconds,
            "sent": Sent.of(out),
            "rss_start": before,
            "rss_peak": max((s[1] for s in samples), default=float("nan")),
            "rss_end": during[-1][1] if during else float("nan"),
            "rss_after_drain": rss_mb(bot.pid),
            "slope": slope_per_minute([(t - out["begin"], mb) for t, mb in half]),
            "late": out["late"],
        }

    async def one_database(self, name: str, url: str) -> Pass:
        from storage import migrate
        from storage.db import Database
        from tests.slack.standin import SlackStandIn

        result = Pass(name)
        standin = SlackStandIn()
        api_url = await standin.start()
        self.standin = standin
        db = Database(url)
        procs: list[Proc] = []
        try:
            await migrate.upgrade(db)
            started = time.perf_counter()
            threads = await convene(db, standin, max(self.args.parallel), name[:2].upper())
            result.walk_seconds = time.perf_counter() - started
            print(f"  {name}: {len(threads)} discussions convened in {result.walk_seconds:.0f}s", flush=True)
            standin.calls.clear()  # the stand-in keeps what it is sent; only its state matters from here
            env = child_env(
                {
                    "DATABASE_URL": url,
                    "SLACK_SIGNING_SECRET": signing.SECRET,
                    "SLACK_BOT_TOKEN": BOT_TOKEN,
                    "SLACK_API_URL": api_url,
                    "SCHEDULER_ENABLED": "false",  # the inbound path only; no reminders sweeps in the figures
                    "LOG_LEVEL": "WARNING",
                }
            )
            bare = await start_process(
                f"{name}-bare",
                ["-m", "bench.ingest", "_bare", "--api-url", api_url],
                child_env({}),
                self.workdir,
                "/healthz",
            )
            procs.append(bare)
            bot = await start_process(f"{name}-bot1", ["-m", "bot", "serve"], env, self.workdir, "/readyz")
            procs.append(bot)
            self.db_url = url
            if "ack" in self.args.phases:
                await self.ack(result, bot, bare, threads)
            if "turns" in self.args.phases:
                await self.turns(result, [bot], threads)
                second = await start_process(
                    f"{name}-bot2", ["-m", "bot", "serve"], env, self.workdir, "/readyz"
                )
                procs.append(second)
                await self.turns(result, [bot, second], threads)
                await second.stop()
            if "overload" in self.args.phases and name.lower() in self.args.overload_on:
                result.overload = await self.overload(bot, threads)
                print(f"    overload: {describe_overload(result.overload)}", flush=True)
            for c in standin.calls:
                result.calls[c.method] = result.calls.get(c.method, 0) + 1
        finally:
            for p in procs:
                await p.stop()  # the serve command lets background work finish for up to 10 s
                result.errors += [f"{p.name}: {line}" for line in p.errors()]
            await db.dispose()
            await standin.close()
        reader = await Reader(url).open()
        try:
            rows = await reader.rows(
                f"SELECT text, count(*) FROM contribution WHERE text LIKE '{TEXT} %' GROUP BY text"
            )
            result.contributions = len(rows)  # distinct replies stored
            result.duplicates = sum(int(n) - 1 for _t, n in rows)  # a reply stored more than once
        finally:
            await reader.close()
        result.answered = self.answered
        self.answered = 0
        return result


# --- entry points ---------------------------------------------------------------------------------------


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python bench/run.py ingest", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a smoke run: tiny loads, a few seconds per database")
    p.add_argument("--only", choices=["sqlite", "postgresql"])
    p.add_argument("--seconds", type=float, help="seconds per load level (default 10; quick 1)")
    p.add_argument("--rates", help="replies/s for the ack figures (default 10,25,50,100)")
    p.add_argument("--parallel", help="discussions in parallel for turns/s (default 1,8,32; quick 1,4)")
    p.add_argument("--overload-rate", type=float, default=200)
    p.add_argument("--overload-seconds", type=float, help="default 60; quick 3")
    p.add_argument("--overload-on", default="sqlite,postgresql", help="databases to run the overload on")
    p.add_argument("--drain", type=float, help="seconds to wait for a backlog to be stored (default 300)")
    p.add_argument("--phases", default="ack,turns,overload")
    p.add_argument(
        "--warmup", type=float, help="seconds of replies at 10/s before the ack levels (default 3)"
    )
    p.add_argument("--postgres-url", default=POSTGRES_URL, help="a server on which a database is created")
    args = p.parse_args(argv)
    q = args.quick
    args.seconds = args.seconds or (1.0 if q else 10.0)
    args.rates = [float(x) for x in (args.rates or "10,25,50,100").split(",")]
    args.parallel = [int(x) for x in (args.parallel or ("1,4" if q else "1,8,32")).split(",")]
    args.overload_seconds = args.overload_seconds or (2.0 if q else 60.0)
    args.overload_on = args.overload_on.lower().split(",")
    args.drain = args.drain or (10.0 if q else 300.0)
    args.phases = args.phases.split(",")
    args.warmup = args.warmup or (0.5 if q else 3.0)
    return args


async def postgres_database(url: str) -> tuple[str, Any]:
    """A new database on the server at `url` (the bot reads only DATABASE_URL, so not a schema)."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from storage.db import Database

    name = f"bench_ingest_{uuid.uuid4().hex[:8]}"
    admin = Database(url)
    async with admin.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f"CREATE DATABASE {name}"))

    async def drop() -> None:
        async with admin.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        await admin.dispose()

    return make_url(url).set(database=name).render_as_string(hide_password=False), drop


async def main(argv: list[str]) -> str:
    args = parse(argv)
    passes = []
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        bench = Bench(args, Path(tmp))
        if args.only in (None, "sqlite"):
            passes.append(await bench.one_database("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}"))
        if args.only in (None, "postgresql"):
            url, drop = await postgres_database(args.postgres_url)
            try:
                passes.append(await bench.one_database("postgresql", url))
            finally:
                await drop()
    return report(passes, args)


def run(argv: list[str]) -> None:
    print(asyncio.run(main(argv)))


def _child(argv: list[str]) -> None:
    if argv[0] == "_drive":
        spec = json.loads(Path(argv[1]).read_text())
        Path(argv[2]).write_text(json.dumps(asyncio.run(drive(spec))))
    elif argv[0] == "_bare":
        p = argparse.ArgumentParser()
        p.add_argument("--api-url", required=True)
        p.add_argument("--port", type=int, required=True)
        a = p.parse_args(argv[1:])
        serve_bare(a.port, a.api_url, signing.SECRET)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        _child(sys.argv[1:])
    else:
        run(sys.argv[1:])
