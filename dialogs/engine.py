"""The strategy discussion as a conversation: `Dialogs.handle(turn)` returns the cards to send."""

from collections.abc import Callable
from datetime import datetime

from dialogs.model import Card, Turn
from dialogs.procedure import Procedure
from storage.db import Database


class Dialogs:
    def __init__(
        self,
        db: Database,
        procedure: Procedure,
        *,
        nation: str = "england-and-wales",
        tz: str = "Europe/London",
        now: Callable[[], datetime],
    ) -> None:
        self.db = db
        self.procedure = procedure
        self.nation = nation
        self.tz = tz
        self.now = now

    async def handle(self, turn: Turn) -> list[Card]:
        raise NotImplementedError
