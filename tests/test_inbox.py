"""The inbox table's functions on both databases, and the bounded pool of workers."""

import asyncio
from datetime import timedelta

from sqlalchemy import select

from bot.background import Tasks, retrying, transient
from storage import inbox
from storage.models import InboxItem
from storage.types import utcnow


async def _store(db, key: str, worker: str = "a", lease: float = 30) -> inbox.Stored:
    async with db.session() as s:
        return await inbox.store(
            s,
            platform="slack",
            event_key=key,
            kind="reply",
            payload={"event_id": key},
            worker=worker,
            lease_until=utcnow() + timedelta(seconds=lease),
        )


async def test_a_key_is_stored_once_and_a_retry_finds_it(db):
    first = await _store(db, "event:Ev1")
    again = await _store(db, "event:Ev1")
    assert first.new and not again.new and again.id == first.id and again.status == "pending"
    async with db.session() as s:
        assert len((await s.execute(select(InboxItem))).scalars().all()) == 1


async def test_a_held_row_is_not_swept_until_its_lease_runs_out(db):
    held = await _store(db, "event:held")
    free = await _store(db, "event:free", lease=-1)  # its process died: the lease ran out
    async with db.session() as s:
        now = utcnow()
        claimed = await inbox.claim(
            s, platform="slack", worker="b", real_now=now, lease_until=now + timedelta(seconds=30), limit=10
        )
    assert claimed == [free.id]
    async with db.session() as s:  # a second sweeper finds nothing: both rows are held
        now = utcnow()
        assert not await inbox.claim(
            s, platform="slack", worker="c", real_now=now, lease_until=now + timedelta(seconds=30), limit=10
        )
        # the process that stored it may go on; another may not
        assert await inbox.take(s, held.id, worker="a", real_now=now, lease_until=now) is not None
        assert await inbox.take(s, free.id, worker="a", real_now=now, lease_until=now) is None


async def test_done_empties_the_payload_failed_keeps_it_and_retries_count(db):
    one, two = await _store(db, "event:1"), await _store(db, "event:2")
    async with db.session() as s:
        assert await inbox.retry_later(s, two.id, error="OperationalError", not_before=utcnow()) == 1
        assert await inbox.retry_later(s, two.id, error="OperationalError", not_before=utcnow()) == 2
        await inbox.mark_done(s, one.id)
        await inbox.mark_failed(s, two.id, "IntegrityError")
        assert await inbox.retry_later(s, two.id, error="x", not_before=utcnow()) == 0  # finished
    async with db.session() as s:
        done, failed = await s.get(InboxItem, one.id), await s.get(InboxItem, two.id)
        assert (done.status, done.payload, done.claimed_by) == ("done", {}, None)
        assert (failed.status, failed.attempts, failed.last_error) == ("failed", 2, "IntegrityError")
        assert failed.payload == {"event_id": "event:2"}
        assert await inbox.counts(s) == {"done": 1, "failed": 1}
        assert await inbox.forget_done_before(s, utcnow() + timedelta(seconds=1)) == 1


async def test_the_queue_refuses_what_it_cannot_hold_and_every_accepted_job_runs_once():
    tasks = Tasks("test", workers=2, queue_size=10)
    ran: list[int] = []

    def job(n: int):
        async def work() -> None:
            await asyncio.sleep(0)
            ran.append(n)

        return work

    # Nothing runs until the loop is given a chance: the first ten are taken, the rest refused at once.
    accepted = [n for n in range(1000) if tasks.submit(job(n))]
    assert accepted == list(range(10)) and tasks.refused == 990
    assert tasks.high_water == 10 and tasks.queue.qsize() == 10 and tasks.free == 0
    await tasks.drain()
    assert sorted(ran) == accepted and not tasks.running
    # Room again; a job that fails does not stop the worker.
    assert tasks.submit(job(2000))

    async def broken() -> None:
        raise RuntimeError("no")

    assert tasks.submit(broken) and tasks.submit(job(2001))
    await tasks.drain()
    assert ran[-2:] == [2000, 2001]
    await tasks.close()


async def test_transient_failures_are_retried_and_others_are_not():
    calls = {"n": 0}

    async def flaky() -> str:
        calls["n"] += 1
        if calls["n"] < 3:
            raise ConnectionRefusedError()
        return "ok"

    async for attempt in retrying(first_wait=0.001):
        with attempt:
            result = await flaky()
    assert result == "ok" and calls["n"] == 3
    assert transient(ConnectionRefusedError()) and not transient(ValueError())
    calls["n"] = 0
    try:
        async for attempt in retrying(first_wait=0.001):
            with attempt:
                calls["n"] += 1
                raise ValueError("a fault")
    except ValueError:
        pass
    assert calls["n"] == 1
