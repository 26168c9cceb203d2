"""The outbox and the claims: cards kept as JSON, leases, order per recipient, retries with back-off."""

import asyncio
import json
from datetime import timedelta

from sqlalchemy import select, text, update

from bot.delivery import DeliveryError, Router
from bot.outbound import backoff
from bot.scheduler import Scheduler
from dialogs.cards_json import card_from_dict, card_to_dict
from dialogs.model import Button, Card, Form, Input, InputKind, Option, Target, TargetKind
from storage import claims, outbox
from storage.db import Database
from storage.models import DueItem, Outbox
from storage.types import utcnow
from tests.conftest import pg_database
from tests.reminder_fixtures import NATION, PROCEDURE, TZ, discussion, london, team


def test_card_round_trips_through_json():
    card = Card(
        target=Target(TargetKind.DIRECT, discussion_id=7, person_id=3),
        title="Reminder: record to be circulated",
        text="Case CR-1: *by* end of Mon 30 Mar 2026.\n- a line",
        facts=(("Case", "CR-1"), ("Deadline", "end of Mon 30 Mar 2026")),
        form=Form(
            id="due.snooze",
            title="Snooze reminder",
            inputs=(
                Input(
                    "until",
                    "When",
                    InputKind.CHOICE,
                    required=True,
                    options=(Option("60", "In 1 hour"),),
                    value="60",
                ),
                Input(
                    "people", "Who", InputKind.PEOPLE, value=["1", "2"], max_length=None, hint="h", error="e"
                ),
            ),
            submit_label="Snooze",
            context="12",
            error="fix it",
        ),
        buttons=(Button("discussion.open", "Open", "7", "primary"), Button("due.snooze", "Snooze", "12")),
        key="due:12:reminded:recipient:20260329T225959",
        preview="CR-1: Reminder",
    )
    stored = json.loads(json.dumps(card_to_dict(card)))  # what the JSON column gives back
    assert card_from_dict(stored) == card
    assert stored["target"]["kind"] == "direct" and stored["form"]["inputs"][1]["kind"] == "people"


def _card(key: str, person_id: int) -> dict:
    return card_to_dict(Card(target=Target(TargetKind.DIRECT, person_id=person_id), title=key, key=key))


async def _queue(db, *pairs) -> None:
    async with db.session() as s:
        await outbox.add(
            s, [outbox.Message(card=_card(k, p), recipient_key=f"person:{p}", dedupe_key=k) for k, p in pairs]
        )


class Scripted:
    """A surface whose sends fail as scripted per card key (an exception per try, None = success)."""

    name = "scripted"

    def __init__(self, script=None, delay: float = 0.0):
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.delay = delay
        self.tries: list[str] = []
        self.delivered: list[str] = []

    async def can_reach(self, card: Card) -> bool:
        return True

    async def deliver(self, card: Card) -> None:
        self.tries.append(card.key)
        outcomes = self.script.get(card.key)
        outcome = outcomes.pop(0) if outcomes else None
        if self.delay:
            await asyncio.sleep(self.delay)
        if outcome is not None:
            raise outcome
        self.delivered.append(card.key)


def _scheduler(db, surface, **kw) -> Scheduler:
    router = Router()
    router.add(surface)
    kw = {"backoff_base": 30, "backoff_cap": 300, **kw}
    return Scheduler(db, PROCEDURE, router, now=utcnow, tz=TZ, nation=NATION, interval=1, lease=30, **kw)


async def _drain_until_done(scheduler: Scheduler, db, rounds: int = 50) -> None:
    for _ in range(rounds):
        await scheduler.drain()
        async with db.session() as s:
            if not (await outbox.counts(s)).get("pending"):
                return
            # The back-off passes: what waits for a retry may be tried now.
            await s.execute(update(Outbox).where(Outbox.status == "pending").values(next_attempt_at=utcnow()))
    raise AssertionError("the outbox never emptied")


async def _row(db, key: str) -> Outbox:
    async with db.session() as s:
        return (await s.execute(select(Outbox).where(Outbox.dedupe_key == key))).scalar_one()


def _err(status: int, retry_after=None) -> DeliveryError:
    return DeliveryError(f"HTTP {status}", retryable=status == 429 or status >= 500, retry_after=retry_after)


async def test_a_recipients_later_message_waits_for_the_earlier_one(db):
    await _queue(db, ("a1", 1), ("a2", 1), ("b1", 2), ("a3", 1))
    surface = Scripted({"a1": [_err(500), _err(503)]})
    scheduler = _scheduler(db, surface)
    await scheduler.drain()
    assert surface.delivered == ["b1"]  # person 2 is not held up by person 1's trouble
    assert "a2" not in surface.tries
    a1 = await _row(db, "a1")
    assert (a1.status, a1.attempts, a1.claimed_by, a1.last_error) == ("pending", 1, None, "HTTP 500")
    await _drain_until_done(scheduler, db)
    assert [k for k in surface.tries if k.startswith("a")] == ["a1", "a1", "a1", "a2", "a3"]
    assert [k for k in surface.delivered if k.startswith("a")] == ["a1", "a2", "a3"]
    assert {(await _row(db, k)).status for k in ("a1", "a2", "a3", "b1")} == {"sent"}
    assert (await _row(db, "a1")).surface == "scripted"


async def test_retry_after_from_a_429_is_honoured(db):
    await _queue(db, ("a1", 1), ("a2", 1))
    scheduler = _scheduler(db, Scripted({"a1": [_err(429, retry_after=30)]}))
    before = utcnow()
    await scheduler.drain()
    a1 = await _row(db, "a1")
    assert a1.status == "pending" and a1.attempts == 1
    assert a1.next_attempt_at >= before + timedelta(seconds=30)
    assert (await _row(db, "a2")).attempts == 0  # and nothing after it went first


async def test_a_refused_message_fails_without_blocking_the_next(db):
    await _queue(db, ("a1", 1), ("a2", 1))
    surface = Scripted({"a1": [_err(400)]})
    await _scheduler(db, surface).drain()
    assert (await _row(db, "a1")).status == "failed"
    assert surface.delivered == ["a2"]


async def test_timeouts_are_retried_and_give_up_after_max_attempts(db):
    await _queue(db, ("a1", 1))
    surface = Scripted(delay=1.0)
    scheduler = _scheduler(db, surface, send_timeout=0.05, max_attempts=2)
    await scheduler.drain()
    row = await _row(db, "a1")
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "timed out")
    await _drain_until_done(scheduler, db)
    row = await _row(db, "a1")
    assert (row.status, row.attempts) == ("failed", 2)
    assert surface.delivered == []


async def test_direct_card_falls_back_to_the_discussion_thread():
    class ThreadOnly(Scripted):
        async def can_reach(self, card):
            return card.target.kind == TargetKind.THREAD

    surface = ThreadOnly()
    scheduler = _scheduler(None, surface)
    card = Card(target=Target(TargetKind.DIRECT, discussion_id=9, person_id=4), title="t", key="k")
    assert await scheduler.sender.deliver(card) == "scripted"
    assert surface.delivered == ["k"]


async def test_a_dedupe_key_is_queued_once(db):
    async with db.session() as s:
        first = await outbox.add(
            s, [outbox.Message(card=_card("k", 1), recipient_key="person:1", dedupe_key="k")]
        )
    async with db.session() as s:
        again = await outbox.add(
            s, [outbox.Message(card=_card("k", 1), recipient_key="person:1", dedupe_key="k")]
        )
        assert (len(first), again) == (1, [])
        assert (await outbox.counts(s)) == {"pending": 1}


def test_backoff_grows_is_capped_and_jittered():
    for attempt in range(1, 12):
        full = min(60.0, 1.0 * 2 ** (attempt - 1))
        waits = [backoff(attempt, base=1.0, cap=60.0) for _ in range(50)]
        assert all(full / 2 <= w <= full for w in waits)
    assert len({backoff(5, base=1.0, cap=60.0) for _ in range(20)}) > 1
    assert 7.0 <= backoff(1, base=1.0, cap=60.0, retry_after=7) <= 7.7


async def _second(db: Database) -> Database:
    if db.dialect == "sqlite":
        return Database(db.url)
    async with db.engine.connect() as conn:
        schema = (await conn.execute(text("SELECT current_schema()"))).scalar()
    return pg_database(schema)


async def _due_rows(db, n: int) -> None:
    async with db.session() as s:
        t = await team(s)
        d = await discussion(s, chair=t.chair, convened_at=london(2026, 3, 1, 10))
        due = london(2026, 3, 2, 10)
        s.add_all(
            DueItem(
                discussion_id=d.id,
                kind="action",
                subject=str(i),
                due_at=due,
                next_at=due + timedelta(seconds=i),
            )
            for i in range(n)
        )


async def test_two_claimers_at_once_take_different_due_items(db):
    await _due_rows(db, 100)
    other = await _second(db)
    real = utcnow()

    async def claim(database, worker):
        async with database.session() as s:
            return await claims.claim_due_items(
                s,
                worker=worker,
                now=london(2026, 3, 3),
                real_now=real,
                lease_until=real + timedelta(minutes=1),
                limit=60,
            )

    try:
        a, b = await asyncio.gather(claim(db, "w1"), claim(other, "w2"))
    finally:
        await other.dispose()
    assert not set(a) & set(b)
    assert len(a) + len(b) == 100
    assert sorted(a + b) == list(range(1, 101))


async def test_a_claim_is_a_lease(db):
    await _due_rows(db, 3)
    real = utcnow()
    lease_until = real + timedelta(minutes=2)

    async def claim(worker, at):
        async with db.session() as s:
            return await claims.claim_due_items(
                s,
                worker=worker,
                now=london(2026, 3, 3),
                real_now=at,
                lease_until=at + timedelta(minutes=2),
                limit=10,
            )

    assert await claim("w1", real) == [1, 2, 3]
    assert await claim("w2", real + timedelta(minutes=1)) == []  # w1 is (as far as anyone knows) alive
    assert await claim("w2", lease_until + timedelta(seconds=1)) == [1, 2, 3]  # w1 died: its lease ran out
    async with db.session() as s:
        holders = (await s.execute(select(DueItem.claimed_by))).scalars().all()
    assert set(holders) == {"w2"}
    assert lease_until > real


async def test_only_the_first_waiting_message_of_each_recipient_is_claimable(db):
    await _queue(db, *[(f"p{p}m{m}", p) for m in range(3) for p in range(1, 6)])
    other = await _second(db)
    real = utcnow()

    async def heads(database, worker):
        async with database.session() as s:
            return await claims.claim_outbox_heads(
                s, worker=worker, real_now=real, lease_until=real + timedelta(minutes=1), limit=10
            )

    try:
        a, b = await asyncio.gather(heads(db, "w1"), heads(other, "w2"))
    finally:
        await other.dispose()
    async with db.session() as s:
        rows = {r.id: r for r in (await s.execute(select(Outbox))).scalars()}
    claimed = [rows[head.id] for head in a + b]
    assert sorted(r.dedupe_key for r in claimed) == [f"p{p}m0" for p in range(1, 6)]


async def test_old_inbound_event_ids_are_forgotten(db):
    from datetime import timedelta

    from storage.models import InboundEvent
    from storage.refs import first_delivery, forget_events_before
    from storage.types import utcnow

    async with db.session() as s:
        assert await first_delivery(s, "slack", "Ev-old")
        (await s.get(InboundEvent, ("slack", "Ev-old"))).received_at = utcnow() - timedelta(days=8)
        assert await first_delivery(s, "slack", "Ev-new")
    async with db.session() as s:
        await forget_events_before(s, utcnow() - timedelta(days=7))
    async with db.session() as s:
        assert await first_delivery(s, "slack", "Ev-old")  # forgotten, so new again
        assert not await first_delivery(s, "slack", "Ev-new")


class WithOrigin(Scripted):
    """A surface that places cards by the origin queued with them (as Slack and Teams do)."""

    def __init__(self) -> None:
        super().__init__()
        self.origins: list[dict | None] = []

    async def can_reach(self, card: Card, origin: dict | None = None) -> bool:
        return True

    async def deliver(self, card: Card, origin: dict | None = None) -> None:
        self.origins.append(origin)
        await super().deliver(card)


def _redraw(version: int, surface: str, channel: str = "C1") -> outbox.Message:
    card = Card(target=Target(TargetKind.MAIN_POST, discussion_id=7), title=f"v{version}", key="discussion:7")
    return outbox.Message(
        card=card_to_dict(card),
        recipient_key="discussion:7",
        kind="turn",
        card_key=card.key,
        origin={"surface": surface, "channel": channel},
    )


async def test_a_burst_of_redraws_of_one_post_is_sent_once_with_its_origin(db):
    surface = WithOrigin()
    surface.name = "slack"
    async with db.session() as s:
        # Four redraws from Slack turns in one channel, one from another channel (a post not yet made
        # is made where its origin says, so the one before must still go), one from another surface,
        # then a prompt without a key.
        redraws = [_redraw(n, "slack") for n in range(1, 5)] + [
            _redraw(5, "slack", "C2"),
            _redraw(6, "teams"),
        ]
        ids = await outbox.add(s, redraws)
        prompt = Card(target=Target(TargetKind.THREAD, discussion_id=7), title="prompt")
        ids += await outbox.add(s, [outbox.Message(card_to_dict(prompt), "discussion:7", kind="turn")])
    report = await _scheduler(db, surface).sender.send_now(ids[:1])
    assert (report.sent, report.replaced) == (4, 3)
    assert surface.delivered == ["discussion:7", "discussion:7", "discussion:7", None]
    # The Slack redraws go with their own origins; the Teams one and the prompt without one.
    assert [o and o["channel"] for o in surface.origins] == ["C1", "C2", None, None]
    async with db.session() as s:
        statuses = (await s.execute(select(Outbox.status).order_by(Outbox.id))).scalars().all()
    assert statuses == ["replaced", "replaced", "replaced", "sent", "sent", "sent", "sent"]


async def test_a_turns_card_no_surface_reaches_fails_at_once_and_is_reported(db):
    class Nowhere(Scripted):
        async def can_reach(self, card):
            return False

    card = Card(target=Target(TargetKind.THREAD, discussion_id=3), title="A prompt", key="k")
    async with db.session() as s:
        ids = await outbox.add(s, [outbox.Message(card_to_dict(card), "discussion:3", kind="turn")])
    report = await _scheduler(db, Nowhere()).sender.send_now(ids)
    assert report.failed == 1 and report.failures[ids[0]].card == card
    async with db.session() as s:
        assert (await outbox.get(s, ids[0])).status == "failed"
