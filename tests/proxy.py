"""A TCP proxy on 127.0.0.1 in front of PostgreSQL that a test can shut and open again: while shut,
connections are refused and those open are cut, as when the database server goes away."""

import asyncio
import contextlib

import pytest
from sqlalchemy.engine import make_url

from storage.db import Database
from tests.conftest import POSTGRES_URL


class Proxy:
    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.server: asyncio.Server | None = None
        self.links: set[asyncio.StreamWriter] = set()

    async def open(self) -> None:
        self.server = await asyncio.start_server(self._link, "127.0.0.1", self.port, reuse_address=True)
        self.port = self.server.sockets[0].getsockname()[1]

    async def shut(self) -> None:
        """Refuse new connections and cut the open ones."""
        server, self.server = self.server, None
        if server is not None:
            server.close()
        for writer in list(self.links):
            writer.transport.abort()
        self.links.clear()
        if server is not None:
            await server.wait_closed()

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.links |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self.links.discard(writer)
            with contextlib.suppress(Exception):
                writer.transport.abort()


@pytest.fixture
async def pg_proxy(pg_schema):
    """(proxy, db): an empty migrated PostgreSQL schema, and a Database that reaches it only through
    the proxy. The test's own checks use `direct(pg_schema)`, which does not."""
    from tests.conftest import _truncate, pg_database

    direct = pg_database(pg_schema)
    await _truncate(direct)
    await direct.dispose()
    url = make_url(POSTGRES_URL)
    proxy = Proxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.open()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    db = Database(proxied, connect_args={"server_settings": {"search_path": pg_schema}, "timeout": 5})
    yield proxy, db
    await proxy.shut()
    await db.dispose()


async def eventually(check, *, what: str, limit: float = 60.0, step: float = 0.2) -> None:
    """Wait until `check()` (async) is true; fail after `limit` seconds rather than hang the run."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    while not await check():
        if loop.time() > end:
            raise AssertionError(f"still not true after {limit:.0f} s: {what}")
        await asyncio.sleep(step)
