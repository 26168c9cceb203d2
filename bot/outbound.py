"""Sending the outbox: every card the bot sends goes through here, one lane per recipient.

A turn's cards and the scheduler's reminders are both rows of the outbox (storage.outbox), committed
with the change that caused them. `send_now` sends a turn's rows at once, from the process that ran
the turn; `drain` sends whatever is waiting (the scheduler calls it every sweep, and at start, so a
process killed after a commit and before sending loses nothing). Each recipient's messages go out in
order; failures are retried with exponential back-off and jitter (a 429's Retry-After is honoured;
5xx and timeouts are retried; other errors fail the message). A row whose card is replaced by a later
one with the same key, to the same recipient, is not sent (a burst of redraws of a post becomes one
update). A DIRECT or CHANNEL card that no surface can deliver goes to the discussion's THREAD instead.

Delivery is exactly once except in one window: a process killed after the platform accepted a
message but before the row was marked sent (milliseconds) leaves it to be sent again after the
lease. Each card's `key` is stable, so a surface that stores what it posted under that key updates
the first message instead of posting a second.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from bot.background import retrying
from bot.delivery import DeliveryError, Router, dedicated
from dialogs.cards_json import card_from_dict
from dialogs.model import Card, Target, TargetKind
from storage import claims, outbox
from storage.db import Database
from storage.models import Outbox
from storage.types import utcnow

log = logging.getLogger(__name__)

TURN = "turn"  # the outbox kind of a turn's cards (dialogs.engine.queue_cards)


@dataclass
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0  # reminders whose deadline ended while they waited to be sent
    replaced: int = 0  # cards replaced by a later one with the same key before they were sent
    failures: dict[int, Failure] = field(default_factory=dict)  # outbox id -> what failed for good


@dataclass(frozen=True)
class Failure:
    card: Card
    error: Exception


def backoff(attempt: int, *, base: float, cap: float, retry_after: float | None = None) -> float:
    """Seconds to wait before try number `attempt` + 1: the server's Retry-After if it gave one, else
    exponential back-off with "equal jitter" (half fixed, half random) so that many processes
    retrying at once spread out."""
    if retry_after is not None:
        return max(0.0, retry_after) * random.uniform(1.0, 1.1)
    delay = min(cap, base * 2 ** max(0, attempt - 1))
    return delay / 2 + random.uniform(0, delay / 2)


class OutboxSender:
    def __init__(
        self,
        db: Database,
        router: Router,
        *,
        worker_id: str,
        lease: float = 120,
        lanes: int = 20,
        send_timeout: float | None = None,
        backoff_base: float = 2.0,
        backoff_cap: float = 600.0,
        max_attempts: int = 15,
    ) -> None:
        self.db, self.router, self.worker_id = db, router, worker_id
        self.lease = timedelta(seconds=lease)
        self.lanes = lanes
        # A send must end well inside the lease, or another process could take the row meanwhile.
        self.send_timeout = send_timeout if send_timeout is not None else min(30.0, lease / 3)
        self.backoff_base, self.backoff_cap, self.max_attempts = backoff_base, backoff_cap, max_attempts

    async def send_now(self, ids: Collection[int]) -> SendReport:
        """Send the lanes these rows are in, now (earlier rows of a lane first). A row another process
        or an earlier send holds, or one waiting for a retry, is left to them and to the scheduler."""
        report = SendReport()
        if not ids:
            return report
        async with self.db.read() as session:
            query = select(col(Outbox.recipient_key)).where(col(Outbox.id).in_(list(ids))).distinct()
            recipients = set((await session.execute(query)).scalars())
        await self.drain(report, recipients=recipients)
        report.failures = {i: f for i, f in report.failures.items() if i in ids}
        return report

    async def drain(
        self, report: SendReport | None = None, *, recipients: set[str] | None = None, max_rounds: int = 1000
    ) -> SendReport:
        """Send what may be sent now: the first waiting message of each recipient, then the next..."""
        report = report or SendReport()
        for _ in range(max_rounds):
            real = utcnow()
            async with self.db.session() as session:
                heads = await claims.claim_outbox_heads(
                    session,
                    worker=self.worker_id,
                    real_now=real,
                    lease_until=real + self.lease,
                    limit=self.lanes,
                    recipients=recipients,
                )
            if not heads:
                break
            outcomes = await asyncio.gather(
                *(self._lane(head, report) for head in heads), return_exceptions=True
            )
            for failed in (o for o in outcomes if isinstance(o, Exception)):
                # The database went away mid-lane: the claimed rows come back after their lease.
                log.error(
                    "outbox: a lane stopped (%s); its rows are sent after the lease", type(failed).__name__
                )
        return report

    async def _lane(self, row: claims.ClaimedOutbox, report: SendReport) -> None:
        """Send one recipient's messages in order, until one has to wait or none is left.

        `row` is a claimed outbox row (storage.claims.CLAIMED_OUTBOX); marking it sent and claiming the
        recipient's next message happen in one transaction.
        """
        next_row: claims.ClaimedOutbox | None = row
        while next_row is not None:
            row = next_row
            assert row.id is not None
            assert row.claim_expires_at is not None  # claimed rows have a lease
            if row.claim_expires_at - utcnow() < timedelta(seconds=self.send_timeout):
                async with self.db.session() as session:  # too little lease left to send safely
                    await outbox.release(session, row.id, worker=self.worker_id)
                return
            if row.due_item_id is not None or row.card_key is not None:  # else nothing to look at
                async with self.db.session() as session:
                    if row.due_item_id is not None and await outbox.drop_if_ended(
                        session, row.id, worker=self.worker_id
                    ):
                        report.dropped += 1
                        next_row = await self._next(session, row.recipient_key)
                        continue
                    if row.card_key is not None and await outbox.replace_if_superseded(
                        session,
                        row.id,
                        worker=self.worker_id,
                        recipient_key=row.recipient_key,
                        card_key=row.card_key,
                        origin=row.origin,
                    ):
                        report.replaced += 1
                        next_row = await self._next(session, row.recipient_key)
                        continue
            card = card_from_dict(row.card)
            try:
                surface = await self.deliver(card, row.origin, wait=row.kind != TURN)
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
                    report.failures[row.id] = Failure(card, exc)
                    log.error(
                        "outbox %s to %s failed for good after %d tries: %s",
                        row.id,
                        row.recipient_key,
                        attempt,
                        reason,
                    )
                    next_row = await self._next(session, row.recipient_key)
                continue
            # Sent: a database blip now must not leave the row to be sent again after the lease.
            async for attempt in retrying():
                with attempt:
                    async with self.db.session() as session:
                        if not await outbox.mark_sent(
                            session, row.id, worker=self.worker_id, surface=surface, at=utcnow()
                        ):
                            log.warning("outbox %s was sent after this process's claim lapsed", row.id)
                        next_row = await self._next(session, row.recipient_key)
            report.sent += 1

    async def _next(self, session, recipient_key: str) -> claims.ClaimedOutbox | None:
        real = utcnow()
        return await claims.claim_next_in_lane(
            session, recipient_key, worker=self.worker_id, real_now=real, lease_until=real + self.lease
        )

    async def deliver(self, card: Card, origin: dict[str, Any] | None = None, *, wait: bool = True) -> str:
        """Send one card through the surface it was queued from (else the first that can reach it);
        returns the surface's name. `wait`: when no surface can reach the target yet, try again later
        (a reminder for a discussion being posted) rather than fail (a turn's card, whose person is
        told at once)."""
        surface = await self.router.surface_for(card, origin=origin)
        if (
            surface is None
            and card.target.kind in (TargetKind.DIRECT, TargetKind.CHANNEL)
            and card.target.discussion_id is not None
        ):
            # The thread fallback: a surface that cannot message the person, or has no duty or
            # out-of-hours channel configured, posts in the discussion's thread rather than losing it.
            card = card.to(Target(TargetKind.THREAD, discussion_id=card.target.discussion_id))
            surface = await self.router.surface_for(card, origin=origin)
        if surface is None:
            # A dedicated place (the export folder) waits for the process that serves it.
            retry = wait or dedicated(card) is not None
            raise DeliveryError(f"no surface can reach {card.target.kind} yet", retryable=retry)
        async with asyncio.timeout(self.send_timeout):
            await self.router.send(surface, card, origin)
        return surface.name


def _classify(exc: Exception) -> tuple[bool, float | None, str]:
    """(retryable, retry_after, a reason fit for logs: never case details)."""
    if isinstance(exc, DeliveryError):
        return exc.retryable, exc.retry_after, str(exc)[:300]
    if isinstance(exc, TimeoutError):
        return True, None, "timed out"
    # An unexpected error in a surface: try again later rather than lose the card.
    return True, None, f"unexpected {type(exc).__name__}"
