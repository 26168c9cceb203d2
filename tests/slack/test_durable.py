"""Issue 11: a thread reply Slack was told we have (a 2xx) is in the record, whatever the database did
meanwhile; one we could not store was answered non-2xx, so Slack sends it again. The inbox and the
bounded workers under overload, a reply that fails for good, and Slack's retries."""

import asyncio
import json
from collections import Counter

import pytest
from sqlalchemy import func, select, text

from storage import refs
from storage.models import Contribution, Discussion, InboundEvent, InboxItem
from tests.proxy import eventually, pg_proxy  # noqa: F401 - a fixture
from tests.slack import signing
from tests.slack.conftest import check_standin, make_harness
from tests.slack.people import seed_discussion, seed_people
from tests.slack.standin import BOT_USER, TEAM

CHANNEL = "C0SDABC"
THREAD = "1764000000.000100"
FAST = {"inbox_lease_seconds": 1, "inbox_sweep_seconds": 0.2, "inbox_retry_seconds": 0.1}


async def _discussion(slack) -> int:
    """A discussion under way whose thread is CHANNEL/THREAD; police and health take part."""
    db = slack.services.db
    cast = await seed_people(db, slack.services.procedure, slack.standin)
    d_id = await seed_discussion(db, cast, invited=("police",))
    slack.standin.add_channel(
        CHANNEL, name="sd-abc-123", members=[BOT_USER, "U0DUTY", "U0POLICE"], private=True
    )
    async with db.session() as s:
        await refs.save_ref(
            s,
            platform="slack",
            kind="thread",
            key=f"{CHANNEL}:{THREAD}",
            discussion_id=d_id,
            reference={"channel": CHANNEL, "ts": THREAD},
        )
        (await s.get(Discussion, d_id)).state = "in_progress"
    return d_id


def _event(text_: str, event_id: str, n: int) -> str:
    ts = f"1764000100.{n:06d}"
    return json.dumps(
        {
            "token": "t",
            "team_id": TEAM,
            "api_app_id": "A0STRATEGY",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": 1764000100,
            "authorizations": [{"team_id": TEAM, "user_id": "UBOT", "is_bot": True}],
            "event": {
                "type": "message",
                "user": "U0POLICE",
                "text": text_,
                "ts": ts,
                "thread_ts": THREAD,
                "channel": CHANNEL,
                "channel_type": "group",
                "event_ts": ts,
                "team": TEAM,
            },
        }
    )


async def _send(slack, body: str, retry: int | None = None) -> int:
    """POST as Slack does (signed; with X-Slack-Retry-Num on a retry); the HTTP status. No waiting."""
    headers = signing.signed_headers(body, content_type=signing.JSON)
    if retry is not None:
        headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_error"}
    return (await slack.raw(body, headers)).status


async def _recorded(db) -> Counter:
    async with db.session() as s:
        return Counter((await s.execute(select(Contribution.text))).scalars())


async def _pending(db) -> int:
    async with db.session() as s:
        query = select(func.count()).select_from(InboxItem).where(InboxItem.status == "pending")
        return (await s.execute(query)).scalar_one()


async def _settled(slack) -> bool:
    await slack.settle()
    return await _pending(slack.services.db) == 0


async def test_replies_while_postgresql_is_away_are_recorded_or_refused(pg_proxy, standin):  # noqa: F811
    proxy, db = pg_proxy
    slack = await make_harness(db, standin, **FAST)
    try:
        await _discussion(slack)
        bodies = {f"Reply {n}": _event(f"Reply {n}", f"Ev{n:03d}", n) for n in range(12)}
        status: dict[str, int] = {}

        for n in range(3):  # the database is there
            status[f"Reply {n}"] = await _send(slack, bodies[f"Reply {n}"])
        # Acknowledged, and the database goes away while the workers have them.
        sends = [_send(slack, bodies[f"Reply {n}"]) for n in range(3, 6)]
        for n, code in zip(range(3, 6), await asyncio.gather(*sends), strict=True):
            status[f"Reply {n}"] = code
        await proxy.shut()
        for n in range(6, 12):  # the database is away
            status[f"Reply {n}"] = await _send(slack, bodies[f"Reply {n}"])
        await slack.settle()
        await proxy.open()

        acked = {t for t, code in status.items() if 200 <= code < 300}
        refused = {t for t, code in status.items() if code >= 300}
        assert acked | refused == set(bodies)
        assert {f"Reply {n}" for n in range(6)} <= acked  # stored while the database was there
        assert {f"Reply {n}" for n in range(6, 12)} <= refused  # not stored: Slack was told so
        assert {status[t] for t in refused} == {503}

        # Back: every reply that got a 2xx is in the record, without anything sent again.
        await eventually(lambda: _settled(slack), what="the inbox worked off")
        recorded = await _recorded(db)
        assert set(recorded) == acked and set(recorded.values()) == {1}

        # Slack retries what it got a 503 for (and, as it may, one it got a 200 for): once each.
        for retry, t in enumerate(sorted(refused | {"Reply 0"}), start=1):
            assert await _send(slack, bodies[t], retry=min(retry, 3)) == 200
        await eventually(lambda: _settled(slack), what="the retries worked off")
        recorded = await _recorded(db)
        assert set(recorded) == set(bodies) and set(recorded.values()) == {1}
        async with db.session() as s:
            events = (await s.execute(select(func.count()).select_from(InboundEvent))).scalar_one()
            stored = (await s.execute(select(InboxItem.status, InboxItem.payload))).all()
        assert events == len(bodies) and len(stored) == len(bodies)
        assert all(row.status == "done" and row.payload == {} for row in stored)  # no case text kept
        check_standin(standin)
    finally:
        await slack.settle()
        await slack.client.close()


async def test_overload_waits_in_the_inbox_not_in_memory(sqlite_db, standin):
    """One worker and three places in the queue against forty replies at once: Slack gets 200 for each
    (each is stored), the queue never holds more than three, and the sweep brings in the rest."""
    slack = await make_harness(
        sqlite_db,
        standin,
        background_workers=1,
        background_queue_size=3,
        inbox_lease_seconds=0.5,
        inbox_sweep_seconds=3600,  # only when the test asks
    )
    try:
        await _discussion(slack)
        bodies = [_event(f"Busy {n}", f"EvB{n:03d}", n) for n in range(40)]
        codes = await asyncio.gather(*[_send(slack, body) for body in bodies])
        assert set(codes) == {200}
        await slack.settle()
        tasks = slack.app.work.tasks
        assert tasks.refused > 0 and tasks.high_water <= 3
        assert await _pending(sqlite_db) > 0  # waiting in the database, not in memory

        async def swept() -> bool:
            await slack.app.inbox.sweep()
            assert tasks.queue.qsize() <= 3
            return await _settled(slack)

        await eventually(swept, what="the sweep brought in every waiting reply")
        recorded = await _recorded(sqlite_db)
        assert set(recorded) == {f"Busy {n}" for n in range(40)} and set(recorded.values()) == {1}
        assert tasks.high_water <= 3
        check_standin(standin)
    finally:
        await slack.settle()
        await slack.client.close()


async def test_a_reply_that_fails_for_good_is_reported_in_the_thread_by_reference(sqlite_db, standin):
    slack = await make_harness(
        sqlite_db, standin, inbox_max_attempts=2, inbox_retry_seconds=0, inbox_sweep_seconds=3600
    )
    try:
        await _discussion(slack)
        async with sqlite_db.engine.begin() as conn:  # the record refuses every contribution
            await conn.execute(
                text(
                    "CREATE TRIGGER no_contributions BEFORE INSERT ON contribution "
                    "BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
        secret = "Mother says the bruise came from a fall at the park."
        assert await _send(slack, _event(secret, "EvF001", 1)) == 200
        await slack.settle()
        async with sqlite_db.session() as s:
            [row] = (await s.execute(select(InboxItem))).scalars().all()
        assert row.status == "pending" and row.attempts == 1 and row.last_error == "IntegrityError"
        assert not standin.messages(CHANNEL, thread=THREAD)  # not yet: it is tried again

        await slack.app.inbox.sweep()
        await slack.settle()
        async with sqlite_db.session() as s:
            row = await s.get(InboxItem, row.id)
        assert row.status == "failed" and row.attempts == 2 and row.last_error == "IntegrityError"
        [told] = standin.messages(CHANNEL, thread=THREAD)
        said = told["text"]
        assert "<@U0POLICE>" in said and "<@U0DUTY>" in said and "ABC-123" in said
        assert "post it again" in said and "bruise" not in said.lower() and "park" not in said
        assert await _recorded(sqlite_db) == Counter()
        check_standin(standin)
    finally:
        await slack.settle()
        await slack.client.close()


@pytest.mark.parametrize("retries", [1, 3])
async def test_a_retry_of_a_stored_event_is_acknowledged_and_not_processed_again(sqlite_db, standin, retries):
    slack = await make_harness(sqlite_db, standin)
    try:
        await _discussion(slack)
        body = _event("Known to police.", "EvR001", 1)
        assert await _send(slack, body) == 200
        for n in range(1, retries + 1):  # Slack did not see our 200 in time
            assert await _send(slack, body, retry=n) == 200
        await slack.settle()
        assert await _recorded(sqlite_db) == Counter({"Known to police.": 1})
        async with sqlite_db.session() as s:
            rows = (await s.execute(select(InboxItem.status))).scalars().all()
        assert rows == ["done"]
        # Answered once: no second acknowledgement in the thread for the retried delivery.
        assert len(standin.called("chat.postEphemeral")) <= 1
        check_standin(standin)
    finally:
        await slack.settle()
        await slack.client.close()


async def test_more_requests_waiting_than_allowed_are_refused_at_once_and_sent_again(sqlite_db, standin):
    """Two requests may wait to be stored at once: while the database is held by another writer, a
    third is answered 503 at once (before its body is read), and Slack's retry of it lands once."""
    slack = await make_harness(sqlite_db, standin, inbound_max_waiting=2)
    try:
        await _discussion(slack)
        bodies = [_event(f"Held {n}", f"EvH{n}", n) for n in range(3)]
        async with sqlite_db.session():  # the write lock: storing has to wait
            waiting = [asyncio.ensure_future(_send(slack, body)) for body in bodies[:2]]
            await eventually(lambda: _async(slack.app._waiting == 2), what="two requests waiting")
            assert await asyncio.wait_for(_send(slack, bodies[2]), 10) == 503  # not left waiting
        assert await asyncio.gather(*waiting) == [200, 200]
        assert await _send(slack, bodies[2], retry=1) == 200
        await eventually(lambda: _settled(slack), what="every reply worked off")
        assert await _recorded(sqlite_db) == Counter({f"Held {n}": 1 for n in range(3)})
    finally:
        await slack.settle()
        await slack.client.close()


async def _async(value: bool) -> bool:
    return value
