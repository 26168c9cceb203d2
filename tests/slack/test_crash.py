"""The bot killed (SIGKILL, a real process) at several points of a whole discussion, on SQLite and
PostgreSQL: after convening, after inviting, during replies and after sign-off. Each time the Slack
stand-in holds the first Web API call the bot makes after the turn committed, the test kills the bot
while that call waits (the call is never carried out), and starts a new process. Afterwards every
card committed is in Slack exactly once (nothing lost, no message posted twice) and every reply
Slack was told we received is a contribution in the record, once."""

import asyncio
import json
import signal
import socket
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime

import pytest
from aiohttp import ClientSession
from sqlalchemy import func, select

from storage.models import Circulation, Contribution, Discussion, InboxItem, Outbox
from tests.conftest import REPO
from tests.slack.conftest import Sent, SlackHarness
from tests.slack.people import seed_people
from tests.slack.standin import BOT_USER
from tests.slack.test_scenario import ANSWERS, PEOPLE, TUESDAY_10AM, engine_button

pytestmark = pytest.mark.parametrize("db", ["sqlite", "postgresql"], indirect=True)
PROCESS = REPO / "tests" / "slack" / "bot_process.py"
CASE = ANSWERS["case_ref"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ProcessHarness(SlackHarness):
    """Signed Slack requests to the bot in a process of its own; `settle` waits until the bot has
    nothing left to send and Slack has heard nothing new for a moment."""

    def __init__(self, standin, services, db_url: str, schema: str) -> None:
        super().__init__(None, standin, services)
        self.db_url, self.schema = db_url, schema
        self.proc: subprocess.Popen | None = None
        self.http: ClientSession | None = None
        self.mark = 0  # how many Web API calls Slack had seen when the last request was sent

    async def start(self) -> None:
        port = _free_port()
        cmd = [sys.executable, str(PROCESS), "--db", self.db_url, "--schema", self.schema]
        cmd += ["--api", str(self.standin.server.make_url("/api/")), "--port", str(port)]
        cmd += ["--at", (TUESDAY_10AM + (datetime.now(UTC) - STARTED)).isoformat()]
        self.proc = subprocess.Popen(  # noqa: ASYNC220 - started once per restart, returns at once
            cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        line = await asyncio.wait_for(asyncio.to_thread(self.proc.stdout.readline), 60)
        assert line.strip() == "ready", "the bot process did not start"
        self.http = ClientSession(base_url=f"http://127.0.0.1:{port}")

    async def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        await asyncio.to_thread(self.proc.wait, 30)
        await self.http.close()

    async def raw(self, body: str, headers: dict, path: str = "/slack/events") -> Sent:
        self.mark = len(self.standin.calls)
        async with self.http.post(path, data=body.encode(), headers=headers) as resp:
            return Sent(resp.status, await resp.text())

    async def settle(self, limit: float = 60.0) -> None:
        loop = asyncio.get_running_loop()
        deadline, calls, quiet_since = loop.time() + limit, -1, loop.time()
        while loop.time() < deadline:
            await asyncio.sleep(0.1)
            async with self.services.db.read() as s:
                # A turn's cards not yet sent, and replies stored but not yet worked off.
                outbox = select(func.count()).where(Outbox.status == "pending", Outbox.kind == "turn")
                inbox = select(func.count()).where(InboxItem.status == "pending")
                pending = (await s.execute(outbox)).scalar_one() + (await s.execute(inbox)).scalar_one()
            if len(self.standin.calls) != calls or pending:
                calls, quiet_since = len(self.standin.calls), loop.time()
            elif loop.time() - quiet_since > 0.6:
                return
        async with self.services.db.session() as s:
            rows = (
                await s.execute(select(Outbox.id, Outbox.status, Outbox.last_error, Outbox.card_key))
            ).all()
        raise AssertionError(f"the bot did not settle: {rows}")

    async def view(self, method: str = "views.open") -> dict:
        """The view the bot opened since the last request (its work runs after the ack)."""
        for _ in range(600):
            if any(c.method == method for c in self.standin.calls[self.mark :]):
                return self.last_view(method)
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {method} call")

    async def kill_when_called(self, method: str, send) -> Sent:
        """Hold `method`, do `send()` (a signed request), kill the bot while the call waits, and start
        a new bot process. The held call is never carried out."""
        gate = self.standin.hold(method)
        before = len(self.standin.called(method))
        sent = await send()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while len(self.standin.called(method)) == before and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        assert len(self.standin.called(method)) > before, f"the bot never called {method}"
        await self.kill()
        self.standin.gates.pop(method)  # the held requests wait for `gate` for ever, never answered
        assert not gate.is_set()
        await self.start()
        await self.settle()
        return sent


STARTED = datetime.now(UTC)


@pytest.fixture
async def bot(db, standin, request):
    from bot.services import Services
    from bot.timesource import TimeSource
    from tests.slack.conftest import slack_settings

    settings = slack_settings(db.url, str(standin.server.make_url("/api/")))
    services = Services.create(settings, db, TimeSource(TUESDAY_10AM - datetime.now(UTC)))
    schema = request.getfixturevalue("pg_schema") if db.dialect == "postgresql" else ""
    harness = ProcessHarness(standin, services, db.url, schema)
    cast = {slug: (*who, True) for slug, who in PEOPLE.items()}
    ids = (await seed_people(db, services.procedure, standin, cast)).ids
    standin.add_channel("C0DUTY", name="duty-team", members=[BOT_USER, "U0CHAIR"])
    await harness.start()
    yield harness, ids
    if harness.proc is not None and harness.proc.poll() is None:
        await harness.kill()


def _posted_twice(standin) -> list[tuple]:
    """Messages Slack accepted more than once with the same place, thread and content."""
    seen = Counter(
        (ch.id, m.get("thread_ts"), m.get("text"), json.dumps(m.get("blocks"), sort_keys=True))
        for ch in standin.channels.values()
        for m in ch.messages.values()
    )
    return [k[:3] for k, n in seen.items() if n > 1]


async def _outbox(db) -> Counter:
    async with db.session() as s:
        # A turn's cards (the day's handover waits for a duty channel these tests do not set up).
        return Counter((await s.execute(select(Outbox.status).where(Outbox.kind == "turn"))).scalars())


async def test_killed_at_each_point_of_a_discussion_loses_and_repeats_nothing(bot):
    slack, ids = bot
    standin, db = slack.standin, slack.services.db

    # 1. Killed after convening, while the bot creates the discussion's channel.
    await slack.command("U0CHAIR", "convene", channel="C0DUTY")
    form = await slack.view()
    done = await slack.kill_when_called(
        "conversations.create", lambda: slack.submit("U0CHAIR", form, dict(ANSWERS), settle=False)
    )
    assert done.status == 200 and "Convened" in done.text
    [channel] = [c for c in standin.channels.values() if c.name.startswith("sd-")]
    [summary_ts] = channel.pins
    assert len(standin.messages(channel.id, thread=summary_ts)) == 1  # the first prompt, once
    assert (await _outbox(db)).keys() == {"sent"}

    # 2. Killed after inviting four people, while the bot opens the first direct message.
    main = channel.messages[summary_ts]
    await slack.click(
        "U0CHAIR", engine_button(main["blocks"], "invite"), channel=channel.id, message_ts=summary_ts
    )
    invite = await slack.view()
    people = [str(ids[k]) for k in ("police", "police_manager", "health", "referrer")]
    await slack.kill_when_called(
        "conversations.open",
        lambda: slack.submit("U0CHAIR", invite, {invite["blocks"][-1]["block_id"]: people}, settle=False),
    )
    for user in ("U0POLICE", "U0PM", "U0HEALTH", "U0REF"):
        [invitation] = standin.messages(f"D{user}")
        assert CASE in invitation["text"]
    for user in ("U0POLICE", "U0HEALTH"):
        [dm] = standin.messages(f"D{user}")
        await slack.click(
            user, engine_button(dm["blocks"], "accept"), channel=f"D{user}", message_ts=dm["ts"]
        )

    # 3. Killed during replies: every reply answered 2xx is in the record once.
    main = channel.messages[summary_ts]
    await slack.click(
        "U0CHAIR", engine_button(main["blocks"], "start"), channel=channel.id, message_ts=summary_ts
    )
    texts = [f"Police check {n}: nothing further known." for n in range(10)]
    sends = [
        slack.reply(
            "U0POLICE" if n % 2 else "U0HEALTH", channel.id, summary_ts, t, f"EvKill{n}", settle=False
        )
        for n, t in enumerate(texts)
    ]
    answers = await asyncio.gather(*sends)
    await slack.kill()
    await slack.start()
    await slack.settle()
    acked = {t for t, a in zip(texts, answers, strict=True) if 200 <= a.status < 300}
    refused = [t for t, a in zip(texts, answers, strict=True) if not 200 <= a.status < 300]
    for n, t in enumerate(texts):  # Slack retries what was refused
        if t in refused:
            await slack.reply(
                "U0POLICE" if n % 2 else "U0HEALTH", channel.id, summary_ts, t, f"EvKill{n}", retry=1
            )
    async with db.session() as s:
        stored = Counter((await s.execute(select(Contribution.text))).scalars())
    assert acked and all(stored[t] == 1 for t in acked), (acked, stored)
    assert all(stored[t] == 1 for t in texts)

    # 4. Killed after sign-off, while the record's circulation goes out by direct message.
    main = channel.messages[summary_ts]
    await slack.click(
        "U0CHAIR", engine_button(main["blocks"], "decide"), channel=channel.id, message_ts=summary_ts
    )
    decide = await slack.view()
    await slack.submit(
        "U0CHAIR",
        decide,
        {
            "outcome": "no_s47",
            "reasons": "Explained by the GP; no further concern.",
            "risks": "Low.",
            "alternative": "Early help.",
            "override_reason": "Police manager consulted by phone.",
        },
    )
    main = channel.messages[summary_ts]
    await slack.click(
        "U0CHAIR", engine_button(main["blocks"], "review"), channel=channel.id, message_ts=summary_ts
    )
    review = await slack.view()
    before = {u: len(standin.messages(f"D{u}")) for u in ("U0POLICE", "U0HEALTH")}
    await slack.kill_when_called(
        "chat.postMessage",
        lambda: slack.submit("U0CHAIR", review, {"monitoring": "Team manager reviews weekly."}, settle=False),
    )
    async with db.session() as s:
        d = (await s.execute(select(Discussion))).scalar_one()
        circulated = (await s.execute(select(Circulation.person_id))).scalars().all()
    assert d.state == "signed_off" and circulated
    for user in ("U0POLICE", "U0HEALTH"):
        assert len(standin.messages(f"D{user}")) == before[user] + 1  # the record, once
    assert (await _outbox(db)).keys() <= {"sent", "replaced"}
    assert _posted_twice(standin) == []
