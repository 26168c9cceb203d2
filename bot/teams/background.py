"""Work started after Teams has had its answer: a turn's cards, sent in the background.

Teams waits at most 15 seconds for the answer to an activity, and sends it again if it gets an error;
the engine's de-duplication then drops the resend. So the turn is committed within the request, the
request is answered, and the sending (which may be many calls: a sign-off reaches everyone) follows
here. The app awaits what is still running when it shuts down; tests wait for it with `drain`.
"""

import asyncio
import logging
import traceback
from collections.abc import Awaitable

log = logging.getLogger(__name__)


class Tasks:
    def __init__(self) -> None:
        self.running: set[asyncio.Task] = set()

    def spawn(self, work: Awaitable) -> asyncio.Task:
        task = asyncio.ensure_future(work)
        self.running.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task) -> None:
        self.running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("Teams: sending a turn's cards failed: %s", where(task.exception()))

    async def drain(self) -> None:
        # Await only unfinished tasks: awaiting finished ones never yields to the loop, so their
        # done-callbacks (which empty `running`) would never run and this would spin for ever.
        while pending := [t for t in self.running if not t.done()]:
            await asyncio.gather(*pending, return_exceptions=True)
        await asyncio.sleep(0)  # let the finished tasks' callbacks run


def where(exc: BaseException) -> str:
    """An exception's type and innermost line, never its message (which could quote case details)."""
    frames = traceback.extract_tb(exc.__traceback__)
    at = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}{at}"
