"""The playground served over real HTTP on a real SQLite file, with people at browsers."""

from datetime import UTC, datetime

import pytest
from aiohttp.test_utils import TestServer

from bot.config import Settings
from bot.services import Services
from bot.timesource import TimeSource
from bot.web import build_app
from tests.playground.webpage import User

# Tuesday 24 November 2026, 10:00 in London (GMT): office hours.
TUESDAY_10AM = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


class StoppedTime(TimeSource):
    """The process clock, stopped at a chosen moment: it moves only when the clock control moves it."""

    def __init__(self, at: datetime) -> None:
        super().__init__()
        self.at = at

    def now(self) -> datetime:
        return self.at + self.offset


class Playground:
    def __init__(self, services: Services, server: TestServer) -> None:
        self.services = services
        self.server = server
        self.users: dict[str, User] = {}

    async def as_(self, slug: str) -> User:
        """The browser of the person with this playground identity, signed in."""
        if slug not in self.users:
            user = User(self.server, slug)
            await user.sign_in()
            self.users[slug] = user
        return self.users[slug]

    @property
    def store(self):
        from bot.playground import PLAYGROUND

        return self.server.app[PLAYGROUND].store


@pytest.fixture
async def playground(sqlite_db):
    # No .env: a developer's Slack or Teams credentials would mount those instead of the playground.
    services = Services.create(Settings(_env_file=None), sqlite_db, time=StoppedTime(TUESDAY_10AM))
    server = TestServer(build_app(services))
    await server.start_server()
    pg = Playground(services, server)
    try:
        yield pg
    finally:
        for user in pg.users.values():
            await user.close()
        await server.close()
