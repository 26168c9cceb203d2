"""The reminders engine: every SCHEDULER_INTERVAL_SECONDS it queues what has fallen due, then sends.

One sweep (a "tick"):
1. claims the due items whose next moment has come (storage.claims: a lease, so replicas never take
   the same row and a dead process's rows come back after SCHEDULER_LEASE_SECONDS);
2. for each, in one transaction, queues its cards in the outbox and moves the item to its next
   moment (dialogs.reminders). A process that was down catches up: whatever fell due meanwhile is
   sent once, marked late;
3. at the start of a working day, queues the out-of-hours handover for the duty place;
4. sends the outbox (bot.outbound): reminders, and any card of a turn that was not sent at once
   (the process stopped after the turn committed, or the platform asked to wait).

"Now" for what is due is services.time.now(), so the playground's clock control drives reminders.
Leases and retry times are on the real clock: they are about processes and remote services.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.delivery import Router
from bot.outbound import OutboxSender, SendReport
from dialogs import handover, reminders
from dialogs.procedure import Procedure
from storage import audit, claims, refs
from storage.db import Database
from storage.types import utcnow

log = logging.getLogger(__name__)


@dataclass
class TickReport(SendReport):
    claimed: int = 0  # due items claimed
    queued: int = 0  # messages queued in the outbox
    handover: bool = False
    errors: list[str] = field(default_factory=list)


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
        sender: OutboxSender | None = None,
    ) -> None:
        self.db, self.procedure, self.router, self.now = db, procedure, router, now
        self.tz, self.nation = tz, nation
        self.interval = interval
        self.lease = timedelta(seconds=lease)
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.batch_size = batch_size
        self.sender = sender or OutboxSender(
            db,
            router,
            worker_id=self.worker_id,
            lease=lease,
            lanes=lanes,
            send_timeout=send_timeout,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            max_attempts=max_attempts,
        )
        self.send = send
        # Handled more than this after its time (a pause, not a normal sweep delay) counts as late.
        self.late_after = timedelta(seconds=max(2 * interval, 300))
        self._aps: AsyncIOScheduler | None = None
        self._running: asyncio.Task | None = None
        self._forgot_at: datetime | None = None  # when old event ids were last pruned
        self._anchored_at: datetime | None = None  # when the audit chains were last anchored

    @classmethod
    def from_services(cls, services, **overrides) -> Scheduler:
        s = services.settings
        kwargs = dict(
            sender=services.sender,
            worker_id=services.sender.worker_id,
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
        await self._anchor(report)
        return report

    async def _anchor(self, report: TickReport) -> None:
        """Record each discussion's audit chain head in the council chain (storage.audit.anchor), so
        that a chain's tail cannot be cut off unseen. Once a minute is plenty; nothing is written when
        no chain moved."""
        real = utcnow()
        if self._anchored_at is not None and real - self._anchored_at < timedelta(minutes=1):
            return
        try:
            async with self.db.session() as session:
                await audit.anchor(session)
            self._anchored_at = real
        except Exception as exc:
            log.exception("could not anchor the audit chains; the next sweep tries again")
            report.errors.append(type(exc).__name__)

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

    async def drain(self, report: TickReport | None = None) -> TickReport:
        """Send what may be sent now (bot.outbound)."""
        report = report or TickReport()
        await self.sender.drain(report)
        return report

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


def setup(app, services) -> None:
    """Run the scheduler alongside the aiohttp app (started and stopped with it)."""
    scheduler = Scheduler.from_services(services)

    async def on_startup(_app) -> None:
        scheduler.start()

    async def on_cleanup(_app) -> None:
        await scheduler.stop()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
