"""Processing what a surface stored in the inbox (storage.inbox) before answering the platform.

The surface stores a row inside the request (`store`), answers, and hands the work to the bounded
pool (`submit`). Each job runs with a few quick tenacity retries of transient failures; when it
still fails, the row is left for later with back-off, and after `inbox_max_attempts` it is marked
failed and the surface's `gave_up` tells the person. A row that waits (the queue was full, the
process died, the database was away when the outcome was to be written) is found by `sweep`, which
runs at startup and every `inbox_sweep_seconds` (`start`/`stop`), and replayed from its payload by
the surface's `replay`.

Delivery is at least once: a row can be processed again when its outcome could not be written. The
engine de-duplicates turns by the platform's event id (storage.refs.first_delivery), so the effect
on the record is once. See docs/durability.md.
"""

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from bot.background import Tasks, retrying, where
from bot.config import Settings
from storage import inbox
from storage.db import Database
from storage.models import InboxItem
from storage.types import utcnow

log = logging.getLogger(__name__)

FORGET_AFTER = timedelta(days=1)  # done rows are kept this long, so a late platform retry is still known
MAX_BACKOFF = 600.0  # seconds


@dataclass
class Item:
    """A stored row as a job sees it."""

    id: int
    kind: str
    payload: dict[str, Any]
    held_since: float = field(default_factory=time.monotonic)  # when our lease on it last began


class Inbox:
    def __init__(
        self,
        platform: str,
        db: Database,
        settings: Settings,
        tasks: Tasks,
        *,
        replay: Callable[[Item], Awaitable[None]],
        gave_up: Callable[[Item], Awaitable[None]],
    ) -> None:
        self.platform = platform
        self.db = db
        self.tasks = tasks
        self.replay = replay  # the work for a row found by the sweep, from its payload
        self.gave_up = gave_up  # tell the person that their message could not be processed
        self.lease = float(settings.inbox_lease_seconds)
        self.interval = float(settings.inbox_sweep_seconds)
        self.max_attempts = int(settings.inbox_max_attempts)
        self.retry_seconds = float(settings.inbox_retry_seconds)
        self.worker = f"{platform}:{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.in_hand: set[int] = set()  # rows queued or being worked on in this process
        self._sweeping: asyncio.Task | None = None
        self._last_forget: float | None = None

    # --- in the request -------------------------------------------------------------------------

    async def store(self, kind: str, key: str, payload: dict[str, Any]) -> inbox.Stored:
        """One transaction, no retry: when it fails the platform is answered non-2xx and sends again."""
        # No ORM session: the ack waits for this.
        async with self.db.writing(), self.db.engine.begin() as connection:
            return await inbox.store(
                connection,
                platform=self.platform,
                event_key=key,
                kind=kind,
                payload=payload,
                worker=self.worker,
                lease_until=utcnow() + timedelta(seconds=self.lease),
            )

    def submit(self, item: Item, work: Callable[[], Awaitable[None]]) -> bool:
        """Queue the row's work; False when the queue is full (the row then waits for a sweep)."""
        if item.id in self.in_hand:
            return True
        if not self.tasks.submit(lambda: self._run(item, work)):
            log.warning(
                "%s: the work queue is full (%d waiting, %d turned away): an inbox row waits for the sweep",
                self.platform,
                self.tasks.queue.qsize(),
                self.tasks.refused,
            )
            return False
        self.in_hand.add(item.id)
        return True

    # --- the work -------------------------------------------------------------------------------

    async def _run(self, item: Item, work: Callable[[], Awaitable[None]]) -> None:
        try:
            if time.monotonic() - item.held_since > self.lease / 2 and not await self._renew(item):
                return  # another process took it (our lease ran out while it waited in the queue)
            try:
                async for attempt in retrying():
                    with attempt:
                        await work()
            except Exception as exc:
                await self._failed(item, exc)
                return
            await self.done(item)
        finally:
            self.in_hand.discard(item.id)

    async def _renew(self, item: Item) -> bool:
        try:
            async for attempt in retrying():
                with attempt:
                    async with self.db.session() as session:
                        now = utcnow()
                        taken = await inbox.take(
                            session,
                            item.id,
                            worker=self.worker,
                            real_now=now,
                            lease_until=now + timedelta(seconds=self.lease),
                        )
        except Exception as exc:
            log.warning(
                "%s: inbox row %d left for the sweep (%s)", self.platform, item.id, type(exc).__name__
            )
            return False
        item.held_since = time.monotonic()
        return taken is not None

    async def done(self, item: Item) -> None:
        """Mark the row done (retrying a moment if the database is away)."""
        try:
            async for attempt in retrying():
                with attempt:
                    async with self.db.session() as session:
                        await inbox.mark_done(session, item.id)
        except Exception as exc:  # processed, but not marked: a sweep runs it again, and the engine
            # recognises the event id, so nothing is recorded twice
            log.warning(
                "%s: inbox row %d processed but not marked done (%s)",
                self.platform,
                item.id,
                type(exc).__name__,
            )

    def backoff(self, attempts: int) -> float:
        return min(MAX_BACKOFF, self.retry_seconds * 2 ** max(0, attempts - 1))

    async def _failed(self, item: Item, exc: BaseException) -> None:
        error = type(exc).__name__
        log.warning("%s: inbox row %d (%s) failed: %s", self.platform, item.id, item.kind, where(exc))
        gave_up = False
        try:
            async for attempt in retrying():
                with attempt:
                    async with self.db.session() as session:
                        row = await session.get(InboxItem, item.id)
                        if row is None or row.status != inbox.PENDING:
                            return  # another process finished it
                        wait = timedelta(seconds=self.backoff(row.attempts + 1))
                        attempts = await inbox.retry_later(
                            session, item.id, error=error, not_before=utcnow() + wait
                        )
                        if attempts >= self.max_attempts:
                            await inbox.mark_failed(session, item.id, error)
                            gave_up = True
        except Exception as exc2:  # the row keeps its lease and is swept when that runs out
            log.error(
                "%s: could not record the failure of inbox row %d (%s)",
                self.platform,
                item.id,
                type(exc2).__name__,
            )
            return
        if gave_up:
            log.error(
                "%s: inbox row %d (%s) failed %d times: given up, telling the person",
                self.platform,
                item.id,
                item.kind,
                self.max_attempts,
            )
            try:
                await self.gave_up(item)
            except Exception as exc3:
                log.error(
                    "%s: could not tell anyone that row %d failed: %s", self.platform, item.id, where(exc3)
                )

    # --- the sweep ------------------------------------------------------------------------------

    async def sweep(self) -> int:
        """One pass: claim waiting rows (as many as the queue has room for) and queue them. Returns how
        many were queued. Safe with several processes (storage.inbox.claim)."""
        room = self.tasks.free
        if room <= 0:
            return 0
        async with self.db.session() as session:
            now = utcnow()
            ids = await inbox.claim(
                session,
                platform=self.platform,
                worker=self.worker,
                real_now=now,
                lease_until=now + timedelta(seconds=self.lease),
                limit=room,
            )
            ids = [i for i in ids if i not in self.in_hand]
            rows = (
                (
                    await session.execute(
                        select(InboxItem).where(col(InboxItem.id).in_(ids)).order_by(col(InboxItem.id))
                    )
                )
                .scalars()
                .all()
                if ids
                else []
            )
            items = [Item(row.id or 0, row.kind, dict(row.payload)) for row in rows]
        queued = 0
        for item in items:
            if self.submit(item, lambda item=item: self.replay(item)):
                queued += 1
        if queued:
            log.info("%s: the sweep queued %d waiting inbox row(s)", self.platform, queued)
        await self._forget()
        return queued

    async def _forget(self) -> None:
        if self._last_forget is not None and time.monotonic() - self._last_forget < 3600:
            return
        self._last_forget = time.monotonic()
        async with self.db.session() as session:
            await inbox.forget_done_before(session, utcnow() - FORGET_AFTER)

    async def _sweep_for_ever(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception as exc:  # the database away: try again next time
                log.warning("%s: the inbox sweep failed (%s)", self.platform, type(exc).__name__)
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        """Sweep now (rows left from before a restart) and every `inbox_sweep_seconds`."""
        if self._sweeping is None:
            self._sweeping = asyncio.create_task(self._sweep_for_ever(), name=f"{self.platform}-inbox-sweep")

    async def stop(self) -> None:
        task, self._sweeping = self._sweeping, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
