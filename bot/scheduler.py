"""The reminders engine: every SCHEDULER_INTERVAL_SECONDS it queues what has fallen due, then sends.

One sweep (a "tick"):
1. claims the due items whose next moment has come (storage.claims: a lease, so replicas never take
   the same row and a dead process's rows come back after SCHEDULER_LEASE_SECONDS);
2. for each, in one transaction, queues its cards in the outbox and moves the item to its next
   moment (dialogs.reminders). A process that was down catches up: whatever fell due meanwhile is
   sent once, marked late;
3. at the start of a working day, queues the out-of-hours handover for the duty place;
4. sends the outbox through the surfaces (services.router), one lane per recipient so that a
   recipient's messages go out in order, retrying with exponential back-off and jitter (a 429's
   Retry-After is honoured; 5xx and timeouts are retried; other errors fail the message), and marks
   rows sent. A DIRECT or CHANNEL card that no surface can deliver goes to the discussion's
   THREAD instead (a surface that cannot send direct messages).

"Now" for what is due is services.time.now(), so the playground's clock control drives reminders.
Leases and retry times are on the real clock: they are about processes and remote services.

Delivery is exactly once except in one window: a process killed after the platform accepted a
message but before the row was marked sent (milliseconds) leaves it to be sent again after the
lease. Each card's `key` is stable per reminder, so a surface that stores what it posted under that
key updates the first message instead of posting a second.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.delivery import DeliveryError, Router
from dialogs import handover, reminders
from dialogs.cards_json import card_from_dict
from dialogs.model import Card, Target, TargetKind
from dialogs.procedure import Procedure
from storage import claims, outbox, refs
from storage.db import Database
from storage.types import utcnow

log = logging.getLogger(__name__)


@dataclass
class TickReport:
    claimed: int = 0  # due items claimed
    queued: int = 0  # messages queued in the outbox
    handover: bool = False
    sent: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0  # reminders whose deadline ended while they waited to be sent
    errors: list[str] = field(default_factory=list)


def backoff(attempt: int, *, base: float, cap: float, retry_after: float | None = None) -> float:
    """Seconds to wait before try number `attempt` + 1: the server's Retry-After if it gave one, else
    exponential back-off with "equal jitter" (half fixed, half random) so that many processes
    retrying at once spread out."""
    if retry_after is not None:
        return max(0.0, retry_after) * random.uniform(1.0, 1.1)
    delay = min(cap, base * 2 ** max(0, attempt - 1))
    return delay / 2 + random.uniform(0, delay / 2)


class Scheduler:
    def __init__(
        self,
        db: Database,
        procedure: Procedure,
        router: Router,
        *,
        now: Callable[[], datetime],
        tz: str = "Europe/London",
        nation: str = "england-and-wales",
        interval: float = 30,
        lease: float = 120,
        worker_id: str | None = None,
        batch_size: int = 200,
        lanes: int = 20,
        send_timeout: float | None = None,
        backoff_base: float = 2.0,
        backoff_cap: float = 600.0,
        max_attempts: int = 15,
        send: bool = True,
    ) -> None:
        self.db, self.procedure, self.router, self.now = db, procedure, router, now
        self.tz, self.nation = tz, nation
        self.interval = interval
        self.lease = timedelta(seconds=lease)
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.batch_size, self.lanes = batch_size, lanes
        # A send must end well inside the lease, or another process could take the row meanwhile.
        self.send_timeout = send_timeout if send_timeout is not None else min(30.0, lease / 3)
        self.backoff_base, self.backoff_cap, self.max_attempts = backoff_base, backoff_cap, max_attempts
        self.send = send
        # Handled more than this after its time (a pause, not a normal sweep delay) counts as late.
        self.late_after = timedelta(seconds=max(2 * interval, 300))
        self._aps: AsyncIOScheduler | None = None
        self._running: asyncio.Task | None = None
        self._forgot_at: datetime | None = None  # when old event ids were last pruned

    @classmethod
    def from_services(cls, services, **overrides) -> Scheduler:
        s = services.settings
        kwargs = dict(
            now=services.time.now,
            tz=s.timezone,
            nation=s.nation,
            interval=s.scheduler_interval_seconds,
            lease=s.scheduler_lease_seconds,
        )
        return cls(services.db, services.procedure, services.router, **{**kwargs, **overrides})

    # --- one sweep ---------------------------------------------------------------------------------

    async def tick(self, now: datetime | None = None) -> TickReport:
        report = TickReport()
        now = now or self.now()
        await self._queue_due(now, report)
        try:
            async with self.db.session() as session:
                report.handover = await handover.queue_handover(
                    session,
                    self.procedure,
                    now=now,
                    tz=self.tz,
                    nation=self.nation,
                    late_after=self.late_after,
                )
        except Exception as exc:
            log.exception("could not queue the handover")
            report.errors.append(type(exc).__name__)
        if self.send:
            await self.drain(report)
        await self._forget_old_events()
        return report

    async def _forget_old_events(self) -> None:
        """Platforms retry for minutes, not days: event ids older than a week can go. Hourly is plenty,
        and keeps a scan of that table off every sweep."""
        real = utcnow()
        if self._forgot_at is not None and real - self._forgot_at < timedelta(hours=1):
            return
        async with self.db.session() as session:
            await refs.forget_events_before(session, real - timedelta(days=7))
        self._forgot_at = real

    async def _queue_due(self, now: datetime, report: TickReport, max_batches: int = 500) -> None:
        for _ in range(max_batches):
            real = utcnow()
            async with self.db.session() as session:
                ids = await claims.claim_due_items(
                    session,
                    worker=self.worker_id,
                    now=now,
                    real_now=real,
                    lease_until=real + self.lease,
                    limit=self.batch_size,
                )
            if not ids:
                return
            report.claimed += len(ids)
            try:
                report.queued += await self._advance(ids, now)
            except Exception:
                # One bad item must not hold up the others: try them one by one. An item that still
                # fails stays claimed, so it is tried again (and logged) once per lease, not per tick.
                log.exception("a batch of %d due items failed; trying them one at a time", len(ids))
                for one in ids:
                    try:
                        report.queued += await self._advance([one], now)
                    except Exception as exc:
                        log.exception("due item %s could not be handled; retried after its lease", one)
                        report.errors.append(type(exc).__name__)

    async def _advance(self, ids: list[int], now: datetime) -> int:
        async with self.db.session() as session:
            return await reminders.advance_due_items(
                session,
                self.procedure,
                ids,
                worker=self.worker_id,
                now=now,
                tz=self.tz,
                nation=self.nation,
                late_after=self.late_after,
            )

    # --- sending the outbox ------------------------------------------------------------------------

    async def drain(self, report: TickReport | None = None, max_rounds: int = 1000) -> TickReport:
        """Send what may be sent now: the first waiting message of each recipient, then the next..."""
        report = report or TickReport()
        for _ in range(max_rounds):
            real = utcnow()
            async with self.db.session() as session:
                heads = await claims.claim_outbox_heads(
                    session,
                    worker=self.worker_id,
                    real_now=real,
                    lease_until=real + self.lease,
                    limit=self.lanes,
                )
            if not heads:
                break
            await asyncio.gather(*(self._lane(head, report) for head in heads))
        return report

    async def _lane(self, row, report: TickReport) -> None:
        """Send one recipient's messages in order, until one has to wait or none is left.

        `row` is a claimed outbox row (storage.claims.CLAIMED_OUTBOX); marking it sent and claiming the
        recipient's next message happen in one transaction.
        """
        while row is not None:
            if row.claim_expires_at - utcnow() < timedelta(seconds=self.send_timeout):
                async with self.db.session() as session:  # too little lease left to send safely
                    await outbox.release(session, row.id, worker=self.worker_id)
                return
            if row.due_item_id is not None:
                async with self.db.session() as session:
                    if await outbox.drop_if_ended(session, row.id, worker=self.worker_id):
                        report.dropped += 1
                        row = await self._next(session, row.recipient_key)
                        continue
            try:
                surface = await self._deliver(card_from_dict(row.card))
            except Exception as exc:
                retryable, retry_after, reason = _classify(exc)
                attempt = row.attempts + 1
                async with self.db.session() as session:
                    if retryable and attempt < self.max_attempts:
                        wait = backoff(
                            attempt, base=self.backoff_base, cap=self.backoff_cap, retry_after=retry_after
                        )
                        at = utcnow() + timedelta(seconds=wait)
                        await outbox.retry_later(session, row.id, worker=self.worker_id, at=at, error=reason)
                        report.retried += 1
                        log.info("outbox %s: %s; try %d in %.1fs", row.id, reason, attempt + 1, wait)
                        return  # the lane waits: nothing later for this recipient goes first
                    await outbox.mark_failed(session, row.id, worker=self.worker_id, error=reason)
                    report.failed += 1
                    log.error(
                        "outbox %s to %s failed for good after %d tries: %s",
                        row.id,
                        row.recipient_key,
                        attempt,
                        reason,
                    )
                    row = await self._next(session, row.recipient_key)
                continue
            async with self.db.session() as session:
                if not await outbox.mark_sent(
                    session, row.id, worker=self.worker_id, surface=surface, at=utcnow()
                ):
                    log.warning("outbox %s was sent after this process's claim lapsed", row.id)
                report.sent += 1
                row = await self._next(session, row.recipient_key)

    async def _next(self, session, recipient_key: str):
        real = utcnow()
        return await claims.claim_next_in_lane(
            session, recipient_key, worker=self.worker_id, real_now=real, lease_until=real + self.lease
        )

    async def _deliver(self, card: Card) -> str:
        surface = await self.router.surface_for(card)
        if (
            surface is None
            and card.target.kind in (TargetKind.DIRECT, TargetKind.CHANNEL)
            and card.target.discussion_id is not None
        ):
            # The thread fallback: a surface that cannot message the person, or has no duty or
            # out-of-hours channel configured, posts in the discussion's thread rather than losing it.
            card = card.to(Target(TargetKind.THREAD, discussion_id=card.target.discussion_id))
            surface = await self.router.surface_for(card)
        if surface is None:
            raise DeliveryError(f"no surface can reach {card.target.kind} yet", retryable=True)
        async with asyncio.timeout(self.send_timeout):
            await surface.deliver(card)
        return surface.name

    # --- running in the web process ----------------------------------------------------------------

    def start(self) -> None:
        """Sweep now (to catch up on anything that fell due while no process ran), then every interval."""
        self._aps = AsyncIOScheduler(timezone=UTC)
        self._aps.add_job(
            self._job,
            "interval",
            seconds=self.interval,
            next_run_time=datetime.now(UTC),
            max_instances=1,  # a long sweep is not overlapped by the next one...
            coalesce=True,  # ...and missed runs collapse into one
            misfire_grace_time=None,
        )
        self._aps.start()
        log.info(
            "scheduler %s started: every %ss, lease %ss", self.worker_id, self.interval, self.lease.seconds
        )

    async def _job(self) -> None:
        self._running = asyncio.current_task()
        try:
            await self.tick()
        except Exception:
            log.exception("scheduler sweep failed; the next one retries")
        finally:
            self._running = None

    async def stop(self, grace: float = 10.0) -> None:
        """Stop sweeping; let a sweep in progress finish (or cancel it after `grace` seconds)."""
        if self._aps is not None:
            self._aps.shutdown(wait=False)
            self._aps = None
        task = self._running
        if task is not None and not task.done():
            done, _ = await asyncio.wait({task}, timeout=grace)
            if not done:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)


def _classify(exc: Exception) -> tuple[bool, float | None, str]:
    """(retryable, retry_after, a reason fit for logs: never case details)."""
    if isinstance(exc, DeliveryError):
        return exc.retryable, exc.retry_after, str(exc)[:300]
    if isinstance(exc, TimeoutError):
        return True, None, "timed out"
    # An unexpected error in a surface: try again later rather than lose the reminder.
    return True, None, f"unexpected {type(exc).__name__}"


def setup(app, services) -> None:
    """Run the scheduler alongside the aiohttp app (started and stopped with it)."""
    scheduler = Scheduler.from_services(services)

    async def on_startup(_app) -> None:
        scheduler.start()

    async def on_cleanup(_app) -> None:
        await scheduler.stop()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
