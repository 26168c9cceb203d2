"""Bring a database to the newest schema, safely when several processes start at once."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from storage.db import Database, create_engine

MIGRATIONS = Path(__file__).with_name("migrations")
_PG_MIGRATION_LOCK = 0x4D49475241  # "MIGRA": any constant shared by every process


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # only when the package was installed without its migration scripts
        raise RuntimeError(f"no migrations found in {MIGRATIONS}")
    return head


def _upgrade(connection: Connection, target: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, target)


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade(db: Database, target: str = "head") -> None:
    """Apply the migrations up to `target` ("head", or a revision such as "0003" for tests)."""
    if db.dialect == "sqlite":
        await _upgrade_sqlite(db, target)
        return
    async with db.engine.begin() as conn:
        # The second process waits here, then finds nothing left to do.
        await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        await conn.run_sync(_upgrade, target)


async def _upgrade_sqlite(db: Database, target: str) -> None:
    """SQLite alters a table by copying it, which references from other tables would refuse: migrate
    with foreign keys off (they can only be switched outside a transaction, so on a connection of
    its own), then check every reference before committing."""
    engine = create_engine(db.url, foreign_keys=False)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade, target)
            broken = (await conn.execute(text("PRAGMA foreign_key_check"))).all()
            if broken:
                tables = sorted({row[0] for row in broken})
                raise RuntimeError(f"migration left broken references in: {', '.join(tables)}")
    finally:
        await engine.dispose()


async def current_revision(db: Database) -> str | None:
    async with db.engine.connect() as conn:
        return await conn.run_sync(_current)


async def is_up_to_date(db: Database) -> bool:
    return await current_revision(db) == head_revision()
