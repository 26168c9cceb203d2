"""Shared fixtures: real databases (a SQLite file and the PostgreSQL server), never mocks."""

import asyncio
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text

from storage import migrate
from storage.db import Database

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SHARED_DIR", REPO.parent / "shared"))
CONFORMANCE = SHARED / "conformance"
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def _pg(sql: str) -> None:
    admin = Database(POSTGRES_URL)
    try:
        async with admin.engine.begin() as conn:
            await conn.execute(text(sql))
    finally:
        await admin.dispose()


def _run(coro):
    """Run a coroutine to completion from sync code, even inside a running test loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture(scope="session")
def pg_schema():
    """A schema of our own in the `test` database, migrated once, dropped at the end.

    A missing server fails the run loudly: the storage tests must run on PostgreSQL as well.
    """
    schema = f"t_{uuid.uuid4().hex[:12]}"
    _run(_pg(f"CREATE SCHEMA {schema}"))

    async def setup():
        db = pg_database(schema)
        try:
            await migrate.upgrade(db)
        finally:
            await db.dispose()

    _run(setup())
    yield schema
    _run(_pg(f"DROP SCHEMA {schema} CASCADE"))


def pg_database(schema: str) -> Database:
    return Database(POSTGRES_URL, connect_args={"server_settings": {"search_path": schema}})


async def _truncate(db: Database) -> None:
    # TRUNCATE fires no row triggers, so it clears the append-only audit trail between tests.
    async with db.engine.begin() as conn:
        query = (
            "SELECT tablename FROM pg_tables"
            " WHERE schemaname = current_schema() AND tablename != 'alembic_version'"
        )
        tables = (await conn.execute(text(query))).scalars().all()
        await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request, tmp_path):
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'test.db'}")
        await migrate.upgrade(database)
    else:
        database = pg_database(request.getfixturevalue("pg_schema"))
        await _truncate(database)
    yield database
    await database.dispose()


@pytest.fixture
async def sqlite_db(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'test.db'}")
    await migrate.upgrade(database)
    yield database
    await database.dispose()
