"""What drives the ingest bench (bench/ingest.py): its constants, the load generator and the bare
slack-bolt baseline (child processes of their own), the read-only watcher of the contribution table,
and starting and stopping processes."""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as a script or as a child process: bench.*, tests.slack.*

from tests.slack import signing  # noqa: E402
from tests.slack.standin import BOT_USER, TEAM  # noqa: E402

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
