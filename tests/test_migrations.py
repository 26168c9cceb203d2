"""Migrations: from nothing to head, idempotent, and safe when several processes start at once."""

import asyncio

from sqlalchemy import text

from storage import migrate
from tests.conftest import _pg, pg_database


async def test_upgrade_is_idempotent(db):
    await migrate.upgrade(db)
    assert await migrate.is_up_to_date(db)


async def test_concurrent_upgrades_on_postgresql():
    """Five processes' worth of engines racing to migrate a fresh schema: one does it, none fail."""
    schema = "t_race_" + __import__("uuid").uuid4().hex[:8]
    await _pg(f"CREATE SCHEMA {schema}")
    dbs = [pg_database(schema) for _ in range(5)]
    try:
        await asyncio.gather(*(migrate.upgrade(d) for d in dbs))
        assert all([await migrate.is_up_to_date(d) for d in dbs])
        async with dbs[0].engine.connect() as conn:
            count = (await conn.execute(text("SELECT count(*) FROM alembic_version"))).scalar()
        assert count == 1
    finally:
        for d in dbs:
            await d.dispose()
        await _pg(f"DROP SCHEMA {schema} CASCADE")


async def test_models_match_migrations(db):
    """No table or column in the models that the migrations forgot (alembic autogenerate diff)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlmodel import SQLModel

    def diff(conn):
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        return compare_metadata(ctx, SQLModel.metadata)

    async with db.engine.connect() as conn:
        changes = await conn.run_sync(diff)
    assert changes == []


async def _downgrade(db, target):
    from alembic import command

    def run(connection):
        cfg = migrate.alembic_config()
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, target)

    async with db.engine.begin() as conn:
        await conn.run_sync(run)


async def test_audit_chains_go_back_only_while_the_trail_has_no_chained_entries(db):
    """0007 can be undone on an empty trail; once entries are chained per discussion the previous
    release could not verify them, and the append-only trail cannot drop them: refused."""
    from storage import audit

    await _downgrade(db, "0004")
    assert await migrate.current_revision(db) == "0004"
    await migrate.upgrade(db)
    async with db.session() as s:
        await audit.append(s, actor="system", channel="cli", action="t", discussion_id=1)
    try:
        await _downgrade(db, "0004")
    except RuntimeError as exc:
        assert "per-discussion chains" in str(exc)
    else:
        raise AssertionError("went back to 0004 with chained entries")
    assert await migrate.current_revision(db) == migrate.head_revision()
