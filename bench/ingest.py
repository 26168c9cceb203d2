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
import os
import signal
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as a script or as a child process: bench.*, tests.slack.*

from bench.databases import POSTGRES_URL  # noqa: E402
from tests.slack import signing  # noqa: E402
from tests.slack.standin import BOT_TOKEN, BOT_USER, TEAM  # noqa: E402

EVENTS = "/slack/events"
CHAIR, POLICE, HEALTH = "U0CHAIR", "U0POLICE", "U0HEALTH"
CAST = {  # Slack id: (name, agency, role)
    CHAIR: ("Dana Duty", "social_care", "duty_manager"),
    POLICE: ("Pat Police", "police", "police_officer"),
    HEALTH: ("Harper Health", "health", "health_professional"),
}
REPLIERS = (POLICE, HEALTH)
TEXT = "Bench reply"  # every reply's text: "Bench reply <token>"
REFUSED = -1  # the status recorded when no HTTP answer came (connection refused, reset, timeout)
WATCH_EVERY = 0.01  # seconds between looks at the contribution table ("stored" is that late at most)
WATCH_WINDOW = 200  # ids below the newest seen that are looked at again (commits out of id order)
QUIET = 1.0  # seconds without a Web API call from the bot that count as idle, between load levels
STALL = 10.0  # closed loop: seconds a discussion waits for its reply to be stored before the next


# --- small helpers ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def rss_mb(pid: int) -> float | None:
    """The process's resident set size from /proc (psutil is not a dependency)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def slope_per_minute(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) samples, in MB per minute; NaN from fewer than 5."""
    if len(samples) < 5:
        return float("nan")
    xs, ys = [s[0] for s in samples], [s[1] for s in samples]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return 60 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else float("nan")


def reply_body(thread: dict, user: str, token: str, n: int) -> str:
    ts = f"{int(time.time())}.{n % 1_000_000:06d}"
    event = {
        "type": "message",
        "user": user,
        "text": f"{TEXT} {token}",
        "ts": ts,
        "thread_ts": thread["thread_ts"],
        "channel": thread["channel"],
        "channel_type": "group",
        "event_ts": ts,
        "team": TEAM,
    }
    return json.dumps(
        {
            "token": "t",
            "team_id": TEAM,
            "api_app_id": "A0STRATEGY",
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{token}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
        }
    )


# --- reading the database (read only, never through the bot's code) --------------------------------


class Reader:
    """Counts and finds stored contributions. SQLite: a read-only connection, so the bench never takes
    the write lock (storage.db begins every transaction IMMEDIATE); PostgreSQL: asyncpg."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._sqlite: sqlite3.Connection | None = None
        self._pg: Any = None

    async def open(self) -> Reader:
        if self.url.startswith("sqlite:///"):
            path = self.url.removeprefix("sqlite:///")
            self._sqlite = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        else:
            import asyncpg

            self._pg = await asyncpg.connect(self.url)
        return self

    async def close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
        if self._pg is not None:
            await self._pg.close()

    async def rows(self, sql: str) -> list[tuple]:
        if self._pg is not None:
            return [tuple(r) for r in await self._pg.fetch(sql)]
        conn = self._sqlite
        assert conn is not None
        return await asyncio.to_thread(lambda: conn.execute(sql).fetchall())

    async def max_id(self) -> int:
        return int((await self.rows("SELECT coalesce(max(id), 0) FROM contribution"))[0][0])

    async def count(self, prefix: str) -> int:
        assert prefix.isalnum()
        sql = f"SELECT count(*) FROM contribution WHERE text LIKE '{TEXT} {prefix}%'"
        return int((await self.rows(sql))[0][0])


# --- the load generator (a child process, so it does not share a core's event loop with the stand-in)


async def drive(spec: dict) -> dict:
    """Send replies (open loop: at fixed times; closed loop: each discussion's next once its last is
    stored) while watching the contribution table for them; then wait until every reply answered 2xx
    is stored, or `drain` seconds. Returns one record per reply and what was seen when."""
    import aiohttp

    threads, targets = spec["threads"], spec["targets"]
    prefix, secret = spec["prefix"], spec["secret"]
    loop = asyncio.get_running_loop()
    # token -> [wall clock sent, seconds to the HTTP answer, status, wall clock first seen stored]
    records: dict[str, list] = {}
    seen: dict[str, float] = {}
    waiting: dict[str, asyncio.Future] = {}
    reader = await Reader(spec["db"]).open()
    last_id = await reader.max_id()

    async def watch() -> None:
        nonlocal last_id
        like = f"{TEXT} {prefix}%"
        while True:
            # A window below the newest id seen: transactions may commit out of id order.
            rows = await reader.rows(
                f"SELECT id, text FROM contribution WHERE id > {max(0, last_id - WATCH_WINDOW)} "
                f"AND text LIKE '{like}'"
            )
            now = time.time()
            for id_, text_ in rows:
                last_id = max(last_id, int(id_))
                token = text_.rsplit(" ", 1)[-1]
                if token not in seen:
                    seen[token] = now
                    fut = waiting.pop(token, None)
                    if fut is not None and not fut.done():
                        fut.set_result(None)
            await asyncio.sleep(WATCH_EVERY)

    connector = aiohttp.TCPConnector(limit=4000)
    timeout = aiohttp.ClientTimeout(total=spec.get("timeout", 30))
    watcher = asyncio.create_task(watch())
    out: dict[str, Any] = {"late": 0.0, "stalled": 0}
    try:
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:

            async def send(n: int, thread: dict, user: str) -> tuple[str, int]:
                token = f"{prefix}{n:07d}"
                body = reply_body(thread, user, token, n)
                headers = signing.signed_headers(body, secret=secret, content_type=signing.JSON)
                url = targets[thread.get("target", 0)] + EVENTS
                wall, started = time.time(), time.perf_counter()
                records[token] = [wall, None, REFUSED, None]
                try:
                    async with http.post(url, data=body.encode(), headers=headers) as resp:
                        await resp.read()
                        status = resp.status
                except (aiohttp.ClientError, TimeoutError):
                    status = REFUSED
                records[token][1:3] = [time.perf_counter() - started, status]
                return token, status

            out["begin"] = time.time()
            if spec["mode"] == "open":
                rate, count = spec["rate"], int(spec["rate"] * spec["duration"])
                start = loop.time() + 0.1
                tasks = []
                for n in range(count):  # bounded: rate x duration requests, at fixed times
                    delay = start + n / rate - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    else:
                        out["late"] = max(out["late"], -delay)
                    thread = threads[n % len(threads)]
                    user = REPLIERS[(n // len(threads)) % len(REPLIERS)]
                    tasks.append(asyncio.create_task(send(n, thread, user)))
                await asyncio.gather(*tasks)
            else:
                deadline = loop.time() + spec["duration"]

                async def client(k: int, thread: dict) -> None:
                    n = k
                    while loop.time() < deadline:
                        token = f"{prefix}{n:07d}"
                        waiting[token] = loop.create_future()
                        _, status = await send(n, thread, REPLIERS[(n // len(threads)) % len(REPLIERS)])
                        n += len(threads)
                        if not 200 <= status < 300:
                            waiting.pop(token, None)
                            await asyncio.sleep(0.05)
                            continue
                        if token in seen:
                            continue
                        try:
                            await asyncio.wait_for(waiting[token], STALL)
                        except TimeoutError:
                            out["stalled"] += 1

                await asyncio.gather(*(client(k, t) for k, t in enumerate(threads)))
                out["end"] = out["begin"] + spec["duration"]
            out["load_end"] = time.time()
        ok = {t for t, r in records.items() if 200 <= r[2] < 300 and spec.get("stores", True)}
        for _ in range(int(spec["drain"] / 0.05)):  # bounded wait for the backlog
            if ok <= seen.keys():
                break
            await asyncio.sleep(0.05)
        out["drained"] = max([seen[t] for t in ok if t in seen], default=out["load_end"]) - out["load_end"]
        if not ok <= seen.keys():
            out["drained"] = None
        await stop(watcher)  # one connection: the watch must be over before the count
        out["stored"] = await reader.count(prefix)  # also those the watch missed, if any
    finally:
        await stop(watcher)
        await reader.close()
    for token, r in records.items():
        r[3] = seen.get(token)
    out["records"] = [[t, *r] for t, r in records.items()]
    return out


async def stop(task: asyncio.Task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


# --- the bare baseline: slack-bolt on aiohttp, a message listener that only acks ---------------------


def serve_bare(port: int, api_url: str, secret: str) -> None:
    from aiohttp import web
    from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
    from slack_bolt.app.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    bolt = AsyncApp(
        signing_secret=secret,
        client=AsyncWebClient(token=BOT_TOKEN, base_url=api_url, timeout=15),
        process_before_response=False,  # as the bot: ack first
    )

    @bolt.event("message")
    async def on_message() -> None:
        return None

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post(EVENTS, events)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=port, print=None, handle_signals=True)


# --- processes ---------------------------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    proc: asyncio.subprocess.Process
    url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGINT)  # the serve command cleans up on KeyboardInterrupt
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()

    def errors(self) -> list[str]:
        lines = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return [line for line in lines if " ERROR " in line or "Traceback" in line]


async def start_process(name: str, args: list[str], env: dict, workdir: Path, ready: str) -> Proc:
    port = free_port()
    log = workdir / f"{name}.log"
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, *args, "--port", str(port), env=env, cwd=workdir, stdout=out, stderr=out
        )
    p = Proc(name, proc, f"http://127.0.0.1:{port}", log)
    import aiohttp

    async with aiohttp.ClientSession() as http:
        for _ in range(600):
            if proc.returncode is not None:
                break
            try:
                async with http.get(p.url + ready) as resp:
                    if resp.status == 200:
                        return p
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    await p.stop()
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
    raise RuntimeError(f"{name} did not become ready:\n{tail}")


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment without this shell's own bot settings (the children run in a temporary folder,
    so no .env file is read either)."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MICROSOFT_", "TEAMS_"))}
    for k in ("DATABASE_URL", "PROCEDURE_FILE", "COUNCIL"):
        keep.pop(k, None)
    return keep | {"PYTHONPATH": str(REPO)} | extra


async def run_driver(spec: dict, workdir: Path) -> dict:
    spec_file = workdir / f"spec-{uuid.uuid4().hex[:6]}.json"
    out_file = spec_file.with_suffix(".out.json")
    spec_file.write_text(json.dumps(spec))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.ingest",
        "_drive",
        str(spec_file),
        str(out_file),
        cwd=REPO,
        env=child_env({}),
    )
    if await proc.wait() != 0:
        raise RuntimeError("the load generator failed")
    return json.loads(out_file.read_text())


# --- setting up discussions, through the bot as a chair would ---------------------------------------


def engine_button(blocks: list[dict], action: str) -> dict:
    for b in blocks or []:
        if b.get("type") == "actions":
            for e in b["elements"]:
                if e["action_id"].startswith("d:") and e["action_id"].split(":", 2)[2] == action:
                    return e
    raise RuntimeError(f"no {action!r} button")


async def convene(db, standin, n: int, prefix: str) -> list[dict]:
    """n discussions convened with /strategy, the convene and invite modals, two acceptances by direct
    message and the chair's Start: the walk of tests/slack/test_scenario.py, on an in-process app
    against the same database and stand-in Slack the bot processes use afterwards."""
    from sqlalchemy import select

    from storage.models import Discussion
    from tests.slack.conftest import make_harness
    from tests.slack.people import seed_people

    harness = await make_harness(db, standin)
    procedure = harness.services.procedure
    seeded = await seed_people(
        db, procedure, standin, {u.lower(): (u, *who, True) for u, who in CAST.items()}
    )
    ids = {user: seeded.ids[user.lower()] for user in CAST}
    standin.add_channel("C0DUTY", name="duty-team", members=[BOT_USER, CHAIR])
    answers = {
        "category": "physical",
        "concern": "(benchmark)",
        "immediate_risk": "no",
        "referring_agency": "health",
        "format": "meeting",
    } | {f"c_{c.id}": "no" for c in procedure.circumstances}
    people = [str(ids[u]) for u in REPLIERS]
    threads = []
    try:
        for i in range(n):
            await harness.command(CHAIR, "convene", channel="C0DUTY")
            form = harness.last_view("views.open")
            done = await harness.submit(CHAIR, form, answers | {"case_ref": f"{prefix}-{100001 + i}"})
            view = done.json()["view"]
            await harness.click(
                CHAIR, engine_button(view["blocks"], "invite"), view={**view, "id": form["id"]}
            )
            invite = harness.last_view("views.push")
            await harness.submit(CHAIR, invite, {invite["blocks"][-1]["block_id"]: people})
            for user in REPLIERS:
                dm = standin.messages(f"D{user}")[-1]
                accept = engine_button(dm["blocks"], "accept")
                await harness.click(user, accept, channel=f"D{user}", message_ts=dm["ts"])
            name = standin.called("conversations.create")[-1]["name"]
            channel = next(c for c in standin.channels.values() if c.name == name)
            thread_ts = channel.pins[0]
            main = channel.messages[thread_ts]
            start = engine_button(main["blocks"], "start")
            await harness.click(CHAIR, start, channel=channel.id, message_ts=thread_ts)
            did = await harness.app.surface.discussion_for_thread(channel.id, thread_ts)
            async with db.session() as s:
                state = (await s.execute(select(Discussion.state).where(Discussion.id == did))).scalar_one()
            if state != "in_progress":
                raise RuntimeError(f"discussion {did} is {state}, not in progress, after the walk")
            threads.append({"channel": channel.id, "thread_ts": thread_ts, "discussion_id": did})
    finally:
        await harness.settle()
        await harness.client.close()
    if standin.problems:
        raise RuntimeError(f"the stand-in Slack saw problems: {standin.problems[:3]}")
    return threads


# --- the phases ---------------------------------------------------------------------------------------


@dataclass
class Sent:
    """What one load level's replies got: HTTP answers, and how long each 2xx took to be stored."""

    ok: int = 0
    refused: int = 0  # non-2xx answers and no answer at all
    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)  # of the 2xx answers
    to_store: list[float] = field(default_factory=list)  # sent -> seen stored, of the 2xx answers
    lost: int = 0  # 2xx answers whose reply was not seen stored by the end of the wait ("unstored")
    drained: float | None = None  # seconds after the load until every 2xx reply was stored
    stored: int = 0  # contributions stored for this level (a count, in case the watch missed one)

    @classmethod
    def of(cls, out: dict) -> Sent:
        s = cls(drained=out["drained"], stored=out["stored"])
        for _token, wall, latency, status, seen in out["records"]:
            s.statuses[status] = s.statuses.get(status, 0) + 1
            if 200 <= status < 300:
                s.ok += 1
                s.latencies.append(latency)
                if seen is None:
                    s.lost += 1
                else:
                    s.to_store.append(seen - wall)
            else:
                s.refused += 1
        return s


@dataclass
class Pass:
    """One database's figures."""

    name: str
    ack: list[dict] = field(default_factory=list)
    turns: list[dict] = field(default_factory=list)
    overload: dict | None = None
    errors: list[str] = field(default_factory=list)
    walk_seconds: float = 0.0
    calls: dict[str, int] = field(default_factory=dict)  # Web API calls the bot processes made
    contributions: int = 0  # replies stored by the bot processes, counted after they stopped
    answered: int = 0  # replies the bot processes answered 2xx
    duplicates: int = 0  # extra contributions for a reply already stored


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


# --- the report -----------------------------------------------------------------------------------------


def ms(x: float) -> str:
    return f"{x * 1000:.1f}"


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def describe_ack(row: dict) -> str:
    bare, bot = row["bare"], row["bot"]
    return (
        f"bare p50/p99 {ms(pct(bare.latencies, 50))}/{ms(pct(bare.latencies, 99))} ms, "
        f"bot {ms(pct(bot.latencies, 50))}/{ms(pct(bot.latencies, 99))} ms "
        f"({ratio(pct(bot.latencies, 99), pct(bare.latencies, 99)):.2f}x), refused {bot.refused}, "
        f"stored p50/p99 {ms(pct(bot.to_store, 50))}/{ms(pct(bot.to_store, 99))} ms, unstored {bot.lost}"
    )


def describe_drain(sent: Sent) -> str:
    if sent.drained is not None:
        return f"every 2xx reply stored {sent.drained:.1f}s after the load"
    return f"{sent.lost} 2xx replies not stored by the end of the wait ({sent.stored} stored)"


def describe_overload(o: dict) -> str:
    sent = o["sent"]
    return (
        f"{sent.ok} 2xx, {sent.refused} refused {dict(sorted(sent.statuses.items()))}; RSS start "
        f"{o['rss_start']:.0f} MB, peak {o['rss_peak']:.0f}, end of load {o['rss_end']:.0f}, "
        f"slope over its last half {o['slope']:+.1f} MB/min; {describe_drain(sent)}"
    )


FLAT = 2.0  # MB/min: the overload's RSS slope over its last half that counts as flat


def report(passes: list[Pass], args) -> str:
    lines = [f"== Slack ingest: {args.seconds:g}s per level, loopback, bot with SCHEDULER_ENABLED=false"]
    ack_header = [
        "   ack: open loop, latency of the HTTP answer to a signed `message` event; baseline: bare Bolt",
        "   stored: from sending a reply to its contribution being seen in the database (polled every "
        f"{WATCH_EVERY * 1000:g} ms); unstored: answered 2xx, not stored by the end of the wait",
        f"   {'database':<10} {'rate/s':>6} {'bare p50':>9} {'bare p99':>9} {'bot p50':>9} {'bot p99':>9} "
        f"{'p99 ratio':>9} {'refused':>7} {'stored p50':>10} {'stored p99':>10} {'unstored':>8}",
    ]
    if any(p.ack for p in passes):
        lines += ack_header
    targets = []
    for p in passes:
        worst = 0.0
        for row in p.ack:
            bare, bot = row["bare"], row["bot"]
            r = ratio(pct(bot.latencies, 99), pct(bare.latencies, 99))
            worst = max(worst, r)
            lines.append(
                f"   {p.name:<10} {row['rate']:>6g} "
                f"{ms(pct(bare.latencies, 50)):>6} ms {ms(pct(bare.latencies, 99)):>6} ms "
                f"{ms(pct(bot.latencies, 50)):>6} ms {ms(pct(bot.latencies, 99)):>6} ms "
                f"{r:>8.2f}x {bot.refused:>7} "
                f"{ms(pct(bot.to_store, 50)):>7} ms {ms(pct(bot.to_store, 99)):>7} ms {bot.lost:>8}"
            )
        if p.ack:
            targets.append(f"{p.name}: ack p99 within 1.3x of bare Bolt at every load: {met(worst <= 1.3)}")
    if any(p.turns for p in passes):
        lines.append(
            "   turns: closed loop, contributions stored per second; ratios to 1 discussion, 1 process"
        )
        lines.append(
            f"   {'database':<10} {'processes':>9} {'parallel':>8} {'turns/s':>8} {'vs 1 disc':>9} "
            f"{'vs 1 proc':>9} {'stored p50':>10} {'refused':>7} {'stalled':>7}"
        )
    for p in passes:
        by = {(r["processes"], r["parallel"]): r["turns_per_s"] for r in p.turns}
        for r in p.turns:
            sent = r["sent"]
            lines.append(
                f"   {p.name:<10} {r['processes']:>9} {r['parallel']:>8} {r['turns_per_s']:>8.1f} "
                f"{ratio(r['turns_per_s'], by.get((r['processes'], min(args.parallel)), 0)):>8.2f}x "
                f"{ratio(r['turns_per_s'], by.get((1, r['parallel']), 0)):>8.2f}x "
                f"{ms(pct(sent.to_store, 50)):>7} ms {sent.refused:>7} {r['stalled']:>7}"
            )
        lo, hi = min(args.parallel), max(args.parallel)
        if p.name == "postgresql" and (1, lo) in by and (1, hi) in by:
            grows = ratio(by[(1, hi)], by[(1, lo)])
            targets.append(
                f"{p.name}: turns/s {hi} vs {lo} discussions >= 2x: {grows:.2f}x, {met(grows >= 2)}"
            )
            if (2, hi) in by:
                second = ratio(by[(2, hi)], by[(1, hi)])
                targets.append(
                    f"{p.name}: turns/s grow with a second process ({hi} discussions): "
                    f"{second:.2f}x, {met(second > 1.1)}"
                )
    for p in passes:
        if p.overload:
            o = p.overload
            lines.append(
                f"   overload on {p.name}: {o['rate']:g} replies/s for {o['seconds']:g}s, one process"
            )
            lines.append(f"     {describe_overload(o)}")
            rss_after, stored = o["rss_after_drain"] or float("nan"), o["sent"].to_store
            lines.append(
                f"     stored p50/p99 {ms(pct(stored, 50))}/{ms(pct(stored, 99))} ms; "
                f"RSS after the wait for the backlog {rss_after:.0f} MB; generator late by at most "
                f"{o['late'] * 1000:.0f} ms"
            )
            flat = met(o["slope"] <= FLAT) if o["slope"] == o["slope"] else "not measured (load too short)"
            targets.append(f"{p.name}: memory flat under {o['rate']:g}/s (slope <= {FLAT:g} MB/min): {flat}")
    for p in passes:
        lines.append(
            f"   {p.name}: {p.answered} replies answered 2xx, {p.contributions} stored by the time the "
            f"processes had stopped: {p.answered - p.contributions} never stored; "
            f"{p.duplicates} stored twice or more"
        )
    for p in passes:
        if p.contributions:
            per = ", ".join(
                f"{m} {n / p.contributions:.2f}" for m, n in sorted(p.calls.items(), key=lambda x: -x[1])
            )
            lines.append(f"   {p.name}: Web API calls per stored reply: {per}")
    lines.append("   targets (issue 11, item 6):")
    lines += [f"     {t}" for t in targets]
    for p in passes:
        if p.errors:
            lines.append(f"   {p.name}: {len(p.errors)} error line(s) in the processes' logs, e.g.:")
            lines += [f"     {e[:200]}" for e in p.errors[:5]]
    return "\n".join(lines)


def met(ok: bool) -> str:
    return "met" if ok else "MISSED"


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
