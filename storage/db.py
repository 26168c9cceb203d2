"""The async engine and sessions, for SQLite (embedded default) and PostgreSQL (production)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

import storage.versions  # noqa: F401  (registers the row-version bump on every session)

ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}


def async_url(url: str) -> str:
    """`sqlite:///x.db` or `postgresql://...` -> the same URL with the async driver we ship."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in ASYNC_DRIVERS:
        raise ValueError(f"unsupported database {backend!r}: use sqlite:///path.db or postgresql://...")
    return parsed.set(drivername=ASYNC_DRIVERS[backend]).render_as_string(hide_password=False)


def create_engine(url: str, *, foreign_keys: bool = True, **kwargs: Any) -> AsyncEngine:
    """`foreign_keys=False` is for migrations on SQLite only: rebuilding a table that others point at
    (how SQLite alters a table) must not trip over the references; storage.migrate checks them after."""
    # Bound parameters hold case details; keep them out of error messages and so out of logs.
    kwargs.setdefault("hide_parameters", True)
    engine = create_async_engine(async_url(url), **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(
            engine.sync_engine, "connect", _sqlite_pragmas if foreign_keys else _sqlite_pragmas_no_fk
        )
        event.listen(engine.sync_engine, "begin", _sqlite_begin_immediate)
    return engine


def _sqlite_pragmas_no_fk(dbapi_conn: Any, record: ConnectionPoolEntry) -> None:
    _sqlite_pragmas(dbapi_conn, record, foreign_keys=False)


def _sqlite_pragmas(dbapi_conn: Any, _record: ConnectionPoolEntry, foreign_keys: bool = True) -> None:
    # dbapi_conn is aiosqlite's connection as SQLAlchemy adapts it: no type describes what is used here.
    # WAL lets the playground read while the scheduler writes; foreign keys are off by default.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()
    # Let SQLAlchemy, not the driver, decide when transactions begin (see _sqlite_begin_immediate).
    dbapi_conn.isolation_level = None


def _sqlite_begin_immediate(conn: Connection) -> None:
    # Take the write lock at BEGIN: a transaction that reads and then writes (the audit chain, the
    # scheduler's claim) would otherwise fail with "database is locked" when another writer got in
    # between. Readers are not blocked in WAL mode.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """One engine and its session factory; the object the layers above pass around."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = create_engine(url, **engine_kwargs)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
