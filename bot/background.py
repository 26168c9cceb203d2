"""Work done after a platform has had its answer, within fixed bounds (docs/durability.md).

`Tasks` is one process's pool for a surface: a fixed number of worker coroutines taking jobs from a
bounded queue. `submit(job)` never waits: it returns False when the queue is full, and the caller
decides what that means (an inbox row simply waits for the sweep; other work is dropped with a
warning that gives counts only). So a burst of events costs at most `queue_size` waiting jobs of
memory, however long it lasts.

`spawn(work)` is for work tied to one request already answered (a modal's answer being computed
within its ack budget, a committed Teams turn's cards going out): it starts at once and is tracked
so that shutdown and tests can wait for it (`drain`).

Retries use tenacity: `retrying()` for a few quick in-process attempts at transient failures
(the database or the network briefly away); longer waits belong to the inbox's sweep.
"""

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from bot.delivery import DeliveryError

log = logging.getLogger(__name__)

WORKERS = 8
QUEUE_SIZE = 200


def where(exc: BaseException) -> str:
    """An exception's type and innermost line, never its message: database errors quote the values
    they were given, and those can be case details."""
    frames = traceback.extract_tb(exc.__traceback__)
    at = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}{at}"


def transient(exc: BaseException) -> bool:
    """A failure that may well not happen again in a moment: the database or a network unreachable,
    a pool exhausted, a platform asking us to wait. Anything else is a fault to count, not to rush."""
    if isinstance(exc, DeliveryError):
        return exc.retryable
    if isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeout):
        return True
    if isinstance(exc, DBAPIError):
        return bool(exc.connection_invalidated)
    return isinstance(exc, OSError | ConnectionError | TimeoutError)


def retrying(attempts: int = 3, *, first_wait: float = 0.2, max_wait: float = 2.0) -> AsyncRetrying:
    """`async for attempt in retrying(): with attempt: ...`: transient failures are tried again
    (exponential back-off); the last failure, or any other, is raised."""
    return AsyncRetrying(
        stop=stop_after_attempt(max(1, attempts)),
        wait=wait_exponential(multiplier=first_wait, max=max_wait),
        retry=retry_if_exception(transient),
        reraise=True,
    )


class Tasks:
    """A fixed pool of workers and a bounded queue (see the module's docstring)."""

    def __init__(self, label: str, *, workers: int = WORKERS, queue_size: int = QUEUE_SIZE) -> None:
        self.label = label  # names the surface in logs
        self.workers = max(1, workers)
        self.queue: asyncio.Queue[tuple[Callable[[], Awaitable[Any]], asyncio.Future]] = asyncio.Queue(
            max(1, queue_size)
        )
        self._spawned: set[asyncio.Future] = set()
        self._jobs: set[asyncio.Future] = set()  # queued or being worked on
        self._workers: list[asyncio.Task] = []
        self.refused = 0  # jobs turned away because the queue was full
        self.high_water = 0  # the most jobs ever waiting at once (never more than the queue's size)

    @property
    def running(self) -> set[asyncio.Future]:
        """What is still to finish: spawned work and submitted jobs (queued or in progress)."""
        return self._spawned | self._jobs

    @property
    def free(self) -> int:
        """How many more jobs the queue takes now."""
        return self.queue.maxsize - self.queue.qsize()

    def submit(self, job: Callable[[], Awaitable[Any]]) -> bool:
        """Queue `job` (a coroutine function) for a worker; False, at once, when the queue is full."""
        self._start()
        done = asyncio.get_running_loop().create_future()
        try:
            self.queue.put_nowait((job, done))
        except asyncio.QueueFull:
            self.refused += 1
            return False
        self.high_water = max(self.high_water, self.queue.qsize())
        self._jobs.add(done)
        done.add_done_callback(self._jobs.discard)
        return True

    def _start(self) -> None:
        if not self._workers:
            self._workers = [
                asyncio.create_task(self._work(), name=f"{self.label}-worker-{n}")
                for n in range(self.workers)
            ]

    async def _work(self) -> None:
        while True:
            job, done = await self.queue.get()
            try:
                await job()
            except Exception as exc:
                log.error("%s: background work failed: %s", self.label, where(exc))
            finally:
                self.queue.task_done()
                if not done.done():
                    done.set_result(None)

    def spawn(self, work: Awaitable) -> asyncio.Future:
        task = asyncio.ensure_future(work)
        self._spawned.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Future) -> None:
        self._spawned.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: background work failed: %s", self.label, where(task.exception()))

    async def drain(self) -> None:
        """Wait until everything submitted or spawned so far (and what it started) has finished."""
        # Await only unfinished ones: awaiting finished ones never yields to the loop, so their
        # done-callbacks (which empty `running`) would never run and this would spin for ever.
        while pending := [t for t in self.running if not t.done()]:
            await asyncio.gather(*pending, return_exceptions=True)
        await asyncio.sleep(0)  # let the finished tasks' callbacks run

    async def close(self) -> None:
        """Stop the workers (after `drain`, to finish what was accepted)."""
        workers, self._workers = self._workers, []
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
