"""The async engine and sessions, for SQLite (embedded default) and PostgreSQL (production)."""

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, event, text
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
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
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
    # Let SQLAlchemy, not the driver, decide when transactions begin (see _sqlite_begin).
    dbapi_conn.isolation_level = None


_READER = "storage_reader"  # the execution option Database.read() sets on its connection


def _sqlite_begin(conn: Connection) -> None:
    # A writer takes the write lock at BEGIN: a transaction that reads and then writes (the audit
    # chain, the scheduler's claim) would otherwise fail with "database is locked" when another
    # writer got in between; it waits up to busy_timeout for the lock instead. A reader (see
    # Database.read) begins deferred: in WAL mode it reads a snapshot and neither waits for nor
    # blocks the writer.
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(_READER) else "BEGIN IMMEDIATE")


class Failure(StrEnum):
    """Why a database call failed, when it was not the statement's own fault."""

    CONTENTION = "contention"  # a lock or a conflict with another writer: run the transaction again
    OUTAGE = "outage"  # the database cannot be reached: report it; retrying at once will not help


_CONTENTION_SQLSTATES = {"40001", "40P01", "55P03"}  # serialization failure, deadlock, lock not available
_OUTAGE_SQLSTATES = {"57P01", "57P02", "57P03", "53300"}  # shut down, crashed, starting, too many clients
_SQLITE_CONTENTION = {"SQLITE_BUSY", "SQLITE_LOCKED"}
_SQLITE_OUTAGE = {"SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_FULL"}


def failure(exc: BaseException) -> Failure | None:
    """CONTENTION, OUTAGE, or None for anything else (a bug, a constraint, bad SQL: not transient).

    Looks through SQLAlchemy's wrapper to the driver's error and its causes."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        err = todo.pop()
        if err is None or id(err) in seen:
            continue
        seen.add(id(err))
        if getattr(err, "connection_invalidated", False):
            return Failure.OUTAGE
        code = getattr(err, "sqlstate", None) or getattr(err, "pgcode", None)
        if isinstance(code, str):
            if code in _CONTENTION_SQLSTATES:
                return Failure.CONTENTION
            if code.startswith("08") or code in _OUTAGE_SQLSTATES:
                return Failure.OUTAGE
        if isinstance(err, sqlite3.Error):
            name = getattr(err, "sqlite_errorname", "")
            message = str(err).lower()
            if name in _SQLITE_CONTENTION or "database is locked" in message or "is busy" in message:
                return Failure.CONTENTION
            if name in _SQLITE_OUTAGE or "unable to open database" in message:
                return Failure.OUTAGE
        if isinstance(err, OSError | TimeoutError) or type(err).__name__ in _ASYNCPG_OUTAGES:
            return Failure.OUTAGE
        todo += [getattr(err, "orig", None), err.__cause__, err.__context__]
    return None


# asyncpg's errors for a lost or unusable connection (by name: asyncpg is only there for PostgreSQL).
_ASYNCPG_OUTAGES = {"ConnectionDoesNotExistError", "ConnectionFailureError", "CannotConnectNowError"}


def is_transient(exc: BaseException) -> bool:
    """Lock contention (SQLite busy or locked; PostgreSQL serialization failure, deadlock, lock not
    available): the transaction was rolled back and may simply be run again. A database that cannot
    be reached is not this: see is_outage."""
    return failure(exc) is Failure.CONTENTION


def is_outage(exc: BaseException) -> bool:
    """The database cannot be reached (refused, lost, shutting down, the file cannot be opened)."""
    return failure(exc) is Failure.OUTAGE


class Database:
    """One engine and its session factory; the object the layers above pass around."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = create_engine(url, **engine_kwargs)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer. Writers of this process queue here, first come first served, instead
        # of in SQLite's busy handler, which sleeps in growing steps (up to 100 ms) and lets a
        # newcomer overtake: under load that turned 50 ms of work into seconds. Other processes
        # still wait in busy_timeout.
        self._writers = asyncio.Lock() if self.dialect == "sqlite" else None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A writer's session in a transaction: committed on success, rolled back on error. On SQLite
        it holds the database's write lock from BEGIN (waiting up to busy_timeout for it)."""
        async with self.writing(), self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        """Hold this process's turn to write (SQLite; nothing on PostgreSQL), for a writer that uses
        the engine's connections directly rather than `session()`."""
        if self._writers is None:
            yield
            return
        async with self._writers:
            yield

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A reader's session: one consistent snapshot, never committed. It takes no write lock, so it
        neither waits for writers nor holds them up: on SQLite it BEGINs deferred (WAL keeps its
        snapshot), on PostgreSQL the transaction is REPEATABLE READ (one snapshot; a read-only one is
        never refused for serialization) and READ ONLY (a write in it fails)."""
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(**{_READER: True})
            async with conn.begin() as transaction:
                if self.dialect == "postgresql":
                    await conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
                async with self.sessions(bind=conn, join_transaction_mode="rollback_only") as session:
                    try:
                        yield session
                    finally:
                        await transaction.rollback()

    async def dispose(self) -> None:
        await self.engine.dispose()
