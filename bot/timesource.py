"""The one "now" of the process. The playground's clock control moves it forward in tests and demos."""

from datetime import UTC, datetime, timedelta


class TimeSource:
    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        if delta < timedelta(0):
            raise ValueError("time only moves forward")
        self.offset += delta
