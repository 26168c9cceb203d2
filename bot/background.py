"""Work started after a platform has had its answer (Slack's 3 seconds, Teams' 15), tracked so that
shutdown and tests can wait for it."""

import asyncio
import logging
import traceback
from collections.abc import Awaitable

log = logging.getLogger(__name__)


def where(exc: BaseException) -> str:
    """An exception's type and innermost line, never its message: database errors quote the values
    they were given, and those can be case details."""
    frames = traceback.extract_tb(exc.__traceback__)
    at = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}{at}"


class Tasks:
    def __init__(self, label: str) -> None:
        self.label = label  # names the surface in logs
        self.running: set[asyncio.Task] = set()

    def spawn(self, work: Awaitable) -> asyncio.Task:
        task = asyncio.ensure_future(work)
        self.running.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task) -> None:
        self.running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: background work failed: %s", self.label, where(task.exception()))

    async def drain(self) -> None:
        # Await only unfinished tasks: awaiting finished ones never yields to the loop, so their
        # done-callbacks (which empty `running`) would never run and this would spin for ever.
        while pending := [t for t in self.running if not t.done()]:
            await asyncio.gather(*pending, return_exceptions=True)
        await asyncio.sleep(0)  # let the finished tasks' callbacks run
