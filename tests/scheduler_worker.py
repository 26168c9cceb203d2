"""A reminders engine in a process of its own, for the multi-process tests in test_scheduler.py.

It runs the real Scheduler (APScheduler, claims, outbox) on a PostgreSQL schema and delivers through
`PostSurface`, a small surface that POSTs each card as JSON to the test's stand-in receiver. It prints
"ready", waits for a line on stdin ("go"), runs until SIGTERM, then stops cleanly.

--crash-at-batch N makes it kill itself (SIGKILL: no clean-up, no rollback message to anyone) right
after it has claimed its N-th batch of due items and before it handles them: a crash mid-batch.
"""

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

from aiohttp import ClientError, ClientSession

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.delivery import DeliveryError, Router  # noqa: E402
from bot.scheduler import Scheduler  # noqa: E402
from dialogs.cards_json import card_to_dict  # noqa: E402
from dialogs.model import Card  # noqa: E402
from dialogs.procedure import load_procedure  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.types import utcnow  # noqa: E402


class PostSurface:
    """Delivers a card by POSTing it; maps HTTP answers to DeliveryError as a real surface would."""

    name = "http"

    def __init__(self, url: str, worker: str) -> None:
        self.url, self.worker = url, worker
        self.session: ClientSession | None = None

    async def can_reach(self, card: Card) -> bool:
        return True

    async def deliver(self, card: Card) -> None:
        self.session = self.session or ClientSession()
        body = {"worker": self.worker, "key": card.key, "card": card_to_dict(card)}
        try:
            async with self.session.post(self.url, json=body) as resp:
                if resp.status == 200:
                    return
                if resp.status == 429:
                    retry_after = float(resp.headers.get("Retry-After", "1"))
                    raise DeliveryError("rate limited (429)", retryable=True, retry_after=retry_after)
                raise DeliveryError(f"HTTP {resp.status}", retryable=resp.status >= 500)
        except ClientError as exc:
            raise DeliveryError(f"connection failed ({type(exc).__name__})", retryable=True) from None

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()


class CrashingScheduler(Scheduler):
    crash_at: int = 0
    batches: int = 0

    async def _advance(self, ids, now):
        self.batches += 1
        if self.batches == self.crash_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return await super()._advance(ids, now)


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--schema", required=True)
    p.add_argument("--receiver", required=True)
    p.add_argument("--worker", required=True)
    p.add_argument("--interval", type=float, default=0.2)
    p.add_argument("--lease", type=float, default=9.0)  # each send gets a third: 3 s, even on a busy machine
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--lanes", type=int, default=50)
    p.add_argument("--crash-at-batch", type=int, default=0)
    args = p.parse_args()

    db = Database(args.url, connect_args={"server_settings": {"search_path": args.schema}})
    surface = PostSurface(args.receiver, args.worker)
    router = Router()
    router.add(surface)
    scheduler = CrashingScheduler(
        db,
        load_procedure(),
        router,
        now=utcnow,
        interval=args.interval,
        lease=args.lease,
        worker_id=args.worker,
        batch_size=args.batch,
        lanes=args.lanes,
        backoff_base=0.2,
        backoff_cap=1.0,
        max_attempts=100,
    )
    scheduler.crash_at = args.crash_at_batch
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)  # "go": the test starts the engines together
    scheduler.start()
    await stop.wait()
    await scheduler.stop()
    await surface.close()
    await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
