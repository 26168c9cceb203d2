import asyncio
import sqlite3

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from storage import audit
from storage import db as db_module
from storage.db import Database
from storage.models import AuditEvent
from tests.conftest import _truncate, pg_database


async def _write(db, n):
    async with db.session() as s:
        for i in range(n):
            await audit.append(s, actor=f"person:{i}", channel="cli", action="test.event", detail={"i": i})


async def test_chain_verifies(db):
    await _write(db, 5)
    async with db.session() as s:
        result = await audit.verify(s)
    assert result.ok and result.checked == 5


async def test_empty_trail_verifies(db):
    async with db.session() as s:
        result = await audit.verify(s)
    assert result.ok and result.checked == 0


async def test_database_refuses_update_and_delete(db):
    await _write(db, 2)
    for sql in ("UPDATE auditevent SET actor = 'x' WHERE id = 1", "DELETE FROM auditevent WHERE id = 1"):
        with pytest.raises((DBAPIError, IntegrityError), match="append-only"):
            async with db.session() as s:
                await s.execute(text(sql))


async def _bypass_triggers(db, *statements):
    """What someone with direct database access could do: switch the guard off and edit.
    Each statement is SQL, or (SQL, parameters)."""
    async with db.engine.begin() as conn:
        if db.dialect == "sqlite":
            await conn.execute(text("DROP TRIGGER IF EXISTS auditevent_no_update"))
            await conn.execute(text("DROP TRIGGER IF EXISTS auditevent_no_delete"))
        else:
            await conn.execute(text("ALTER TABLE auditevent DISABLE TRIGGER auditevent_append_only"))
        for statement in statements:
            sql, params = (statement, {}) if isinstance(statement, str) else statement
            await conn.execute(text(sql), params)
        if db.dialect == "postgresql":
            await conn.execute(text("ALTER TABLE auditevent ENABLE TRIGGER auditevent_append_only"))


async def test_verify_catches_an_edited_row(db):
    await _write(db, 4)
    await _bypass_triggers(db, "UPDATE auditevent SET actor = 'someone else' WHERE id = 3")
    async with db.session() as s:
        result = await audit.verify(s)
    assert not result.ok
    assert result.broken_at == 3 and result.checked == 2
    assert "changed" in result.problem


async def test_verify_catches_a_deleted_row(db):
    await _write(db, 4)
    await _bypass_triggers(db, "DELETE FROM auditevent WHERE id = 2")
    async with db.session() as s:
        result = await audit.verify(s)
    assert result.broken_at == 3 and "deleted" in result.problem and result.checked == 1


async def test_verify_catches_a_rehashed_edit(db):
    """Editing a row and recomputing its own hash still breaks the link from the next row."""
    await _write(db, 3)
    async with db.session() as s:
        first = (await s.execute(select(AuditEvent).order_by(AuditEvent.id))).scalars().first()
    first.actor = "someone else"
    forged = audit._digest(first)
    await _bypass_triggers(
        db, f"UPDATE auditevent SET actor = 'someone else', hash = '{forged}' WHERE id = 1"
    )
    async with db.session() as s:
        result = await audit.verify(s)
    assert result.broken_at == 2 and "edited" in result.problem


async def test_database_errors_do_not_carry_case_details(db):
    """A failing statement's message must not echo what was being written (it may reach a log)."""
    async with db.session() as s:
        await audit.append(s, actor="x", channel="cli", action="t")  # stored at the commit
    with pytest.raises(DBAPIError) as caught:
        async with db.session() as s:
            await s.execute(text("UPDATE auditevent SET actor = :secret"), {"secret": "Child Name"})
    assert "Child Name" not in str(caught.value)


# --- a chain per discussion, anchored into the council chain ----------------------------------


async def _append(db, discussion_id, n=1, actor="person:1"):
    """n entries about one discussion (None: the council chain), in one transaction."""
    async with db.session() as s:
        for i in range(n):
            await audit.append(
                s,
                actor=actor,
                channel="cli",
                action="test.event",
                discussion_id=discussion_id,
                detail={"i": i},
            )


async def _anchor(db):
    async with db.session() as s:
        return await audit.anchor(s)


async def _verify(db):
    async with db.read() as s:
        return await audit.verify(s)


async def _chain(db, chain):
    async with db.read() as s:
        query = select(AuditEvent).where(AuditEvent.chain == chain).order_by(AuditEvent.seq)
        return list((await s.execute(query)).scalars())


async def test_each_discussion_has_a_chain_of_its_own(db):
    await _append(db, 1, 2)
    await _append(db, 2)
    await _append(db, None)
    await _append(db, 1, 2)
    async with db.session() as s:  # one transaction writing to several chains
        for discussion_id in (2, 1, None, 2):
            await audit.append(
                s, actor="system", channel="cli", action="test.many", discussion_id=discussion_id
            )
    one, two, council = [await _chain(db, c) for c in ("discussion:1", "discussion:2", "council")]
    assert [r.seq for r in one] == [1, 2, 3, 4, 5] and [r.seq for r in two] == [1, 2, 3]
    assert [r.seq for r in council] == [1, 2]
    for chain in (one, two, council):
        assert chain[0].prev_hash == audit.GENESIS
        assert all(b.prev_hash == a.hash for a, b in zip(chain, chain[1:], strict=False))
    assert {r.discussion_id for r in one} == {1}
    result = await _verify(db)
    assert result.ok and result.checked == 10, result


async def test_a_rolled_back_entry_is_not_stored(db):
    with pytest.raises(RuntimeError):
        async with db.session() as s:
            await audit.append(s, actor="x", channel="cli", action="t", discussion_id=1)
            raise RuntimeError("the turn failed")
    async with db.session() as s:
        await audit.append(s, actor="x", channel="cli", action="kept", discussion_id=1)
        try:
            async with s.begin_nested():
                await audit.append(s, actor="x", channel="cli", action="undone", discussion_id=1)
                raise RuntimeError("the savepoint failed")
        except RuntimeError:
            pass
        async with s.begin_nested():
            await audit.append(s, actor="x", channel="cli", action="released", discussion_id=1)
    assert [(r.action, r.seq) for r in await _chain(db, "discussion:1")] == [("kept", 1), ("released", 2)]
    assert (await _verify(db)).ok


async def test_anchor_records_the_heads_that_moved(db):
    assert await _anchor(db) == 0  # nothing written, nothing to anchor
    await _append(db, 1, 3)
    await _append(db, 2, 1)
    await _append(db, None, 1)  # the council chain is not anchored into itself
    assert await _anchor(db) == 2
    assert await _anchor(db) == 0  # nothing moved since
    await _append(db, 2, 2)
    assert await _anchor(db) == 1
    anchors = [r for r in await _chain(db, "council") if r.action == audit.ANCHOR]
    heads = [r.detail["heads"] for r in anchors]
    one = (await _chain(db, "discussion:1"))[-1]
    two = await _chain(db, "discussion:2")
    assert heads[0] == {
        "discussion:1": {"seq": 3, "id": one.id, "hash": one.hash},
        "discussion:2": {"seq": 1, "id": two[0].id, "hash": two[0].hash},
    }
    assert heads[1] == {"discussion:2": {"seq": 3, "id": two[-1].id, "hash": two[-1].hash}}
    assert all(r.actor == "system" and r.discussion_id is None for r in anchors)
    result = await _verify(db)
    assert result.ok and result.checked == 9, result


async def _anchored_discussion(db):
    """Discussion 7's chain of 4 entries, anchored; discussion 8 around it; the rows of 7 by seq."""
    await _append(db, 7, 2)
    await _append(db, 8, 1)
    await _append(db, 7, 2)
    assert await _anchor(db) == 2
    await _append(db, 8, 1)
    return await _chain(db, "discussion:7")


async def test_verify_catches_an_edited_row_in_a_discussion_chain(db):
    rows = await _anchored_discussion(db)
    await _bypass_triggers(
        db, ("UPDATE auditevent SET detail = '{\"i\": 9}' WHERE id = :id", {"id": rows[1].id})
    )
    result = await _verify(db)
    assert result.broken_at == rows[1].id and "changed" in result.problem, result


async def test_verify_catches_a_row_deleted_from_the_middle_of_a_discussion_chain(db):
    rows = await _anchored_discussion(db)
    await _bypass_triggers(db, ("DELETE FROM auditevent WHERE id = :id", {"id": rows[1].id}))
    result = await _verify(db)
    assert result.broken_at == rows[2].id and "deleted" in result.problem, result


async def test_verify_catches_a_discussion_chain_rehashed_after_an_edit(db):
    """Edit an entry and recompute it and every later entry of the chain: the chain fits together
    again, but its head no longer matches what the anchor recorded."""
    rows = await _anchored_discussion(db)
    rows[1].actor = "person:666"
    prev_hash, statements = rows[0].hash, []
    for row in rows[1:]:
        row.prev_hash = prev_hash
        row.hash = prev_hash = audit._digest(row)
        statements.append(
            (
                "UPDATE auditevent SET actor = :actor, prev_hash = :prev, hash = :hash WHERE id = :id",
                {"actor": row.actor, "prev": row.prev_hash, "hash": row.hash, "id": row.id},
            )
        )
    await _bypass_triggers(db, *statements)
    result = await _verify(db)
    assert result.broken_at == rows[-1].id and "anchored" in result.problem, result


@pytest.mark.parametrize("deleted", ["tail", "all"])
async def test_verify_catches_a_discussion_chain_cut_back_before_its_anchor(db, deleted):
    """Deleting a chain's last entries (or all of them) up to its last anchor: the anchored head is gone."""
    rows = await _anchored_discussion(db)
    gone = rows[2:] if deleted == "tail" else rows
    await _bypass_triggers(db, *(("DELETE FROM auditevent WHERE id = :id", {"id": r.id}) for r in gone))
    anchor = next(r for r in await _chain(db, "council") if r.action == audit.ANCHOR)
    result = await _verify(db)
    assert result.broken_at == anchor.id and "deleted" in result.problem, result


async def test_verify_catches_an_entry_moved_to_another_chain(db):
    rows = await _anchored_discussion(db)
    await _bypass_triggers(
        db, ("UPDATE auditevent SET chain = 'discussion:8' WHERE id = :id", {"id": rows[3].id})
    )
    assert not (await _verify(db)).ok


async def test_appends_to_different_discussions_do_not_wait_for_each_other_on_postgresql(pg_schema):
    """A transaction in the middle of committing to discussion 1 (holding that chain's lock) does not
    hold up a transaction writing to discussion 2; one writing to discussion 1 waits for it, then
    chains after it: no fork."""
    db = pg_database(pg_schema)
    try:
        await _truncate(db)
        await _append(db, 1)
        async with db.sessions() as first:
            await first.begin()
            await audit.append(first, actor="person:1", channel="cli", action="first", discussion_id=1)
            await first.run_sync(audit._chain_pending)  # what its commit does first: lock 1, chain, insert

            async def commit_to(discussion_id, action):
                await _append_action(db, discussion_id, action)

            await asyncio.wait_for(commit_to(2, "other"), timeout=10)  # did not block
            same = asyncio.create_task(commit_to(1, "same"))
            await asyncio.sleep(0.5)
            assert not same.done(), "a second writer to discussion 1 did not wait for the first"
            await first.commit()
        await asyncio.wait_for(same, timeout=10)
        rows = await _chain(db, "discussion:1")
        assert [(r.seq, r.action) for r in rows] == [(1, "test.event"), (2, "first"), (3, "same")]
        assert (await _verify(db)).ok
    finally:
        await db.dispose()


async def _append_action(db, discussion_id, action):
    async with db.session() as s:
        await audit.append(s, actor="person:2", channel="cli", action=action, discussion_id=discussion_id)


async def test_an_open_turn_holds_no_chain_lock(db):
    """A transaction that has appended but not yet committed (a turn still running) holds up no
    other writer of the trail on PostgreSQL, not even one writing the same discussion."""
    if db.dialect == "sqlite":
        pytest.skip("SQLite has one writer at a time (BEGIN IMMEDIATE)")
    async with db.session() as open_turn:
        await audit.append(open_turn, actor="person:1", channel="cli", action="slow", discussion_id=1)
        await asyncio.wait_for(_append_action(db, 1, "quick"), timeout=10)
        await asyncio.wait_for(_append_action(db, 2, "other"), timeout=10)
    assert [(r.seq, r.action) for r in await _chain(db, "discussion:1")] == [(1, "quick"), (2, "slow")]
    assert (await _verify(db)).ok


async def test_many_writers_to_one_chain_take_turns(db):
    await asyncio.gather(*(_append_action(db, 5, f"w{i}") for i in range(12)), _append(db, 6, 3))
    rows = await _chain(db, "discussion:5")
    assert [r.seq for r in rows] == list(range(1, 13))
    assert {r.action for r in rows} == {f"w{i}" for i in range(12)}
    result = await _verify(db)
    assert result.ok and result.checked == 15, result


async def test_the_database_refuses_a_fork(db):
    """Should anything chain without the lock, the UNIQUE (chain, seq) index refuses the second entry."""
    await _append(db, 3)
    first = (await _chain(db, "discussion:3"))[0]
    fork = AuditEvent(
        at=first.at,
        actor="x",
        channel="cli",
        action="fork",
        discussion_id=3,
        detail={},
        chain="discussion:3",
        seq=1,
        prev_hash=audit.GENESIS,
        hash="",
    )
    fork.hash = audit._digest(fork)
    with pytest.raises(IntegrityError):
        async with db.session() as s:
            s.add(fork)


# --- readers take no write lock ------------------------------------------------------------------


async def test_a_reader_does_not_block_a_writer_on_sqlite(sqlite_db):
    await _append(sqlite_db, 1)
    async with sqlite_db.read() as reader:
        before = (await reader.execute(select(func.count()).select_from(AuditEvent))).scalar_one()
        # busy_timeout is 5 s: a writer held up by the reader would still be waiting after 3.
        await asyncio.wait_for(_append_action(sqlite_db, 1, "written"), timeout=3)
        again = (await reader.execute(select(func.count()).select_from(AuditEvent))).scalar_one()
        assert before == again == 1  # the reader's snapshot
    result = await _verify(sqlite_db)
    assert result.ok and result.checked == 2


async def test_a_writer_does_not_block_a_reader_on_sqlite(sqlite_db):
    await _append(sqlite_db, 1)
    async with sqlite_db.session() as writer:
        await writer.execute(text("INSERT INTO inboundevent VALUES ('cli', 'x', '2026-01-01 00:00:00')"))
        result = await asyncio.wait_for(_verify(sqlite_db), timeout=3)
    assert result.ok and result.checked == 1


async def test_a_reader_sees_one_snapshot(db):
    await _append(db, 1)
    count = select(func.count()).select_from(AuditEvent)
    async with db.read() as reader:
        before = (await reader.execute(count)).scalar_one()
        await asyncio.wait_for(_append_action(db, 1, "written"), timeout=3)
        assert (await reader.execute(count)).scalar_one() == before == 1
    async with db.read() as reader:
        assert (await reader.execute(count)).scalar_one() == 2


async def test_a_reader_cannot_write_on_postgresql(pg_schema):
    db = pg_database(pg_schema)
    try:
        with pytest.raises(DBAPIError, match="read-only"):
            async with db.read() as s:
                await s.execute(text("INSERT INTO inboundevent VALUES ('cli', 'x', now())"))
    finally:
        await db.dispose()


# --- which failures are worth retrying -------------------------------------------------------------


async def test_sqlite_busy_is_contention(tmp_path):
    path = tmp_path / "busy.db"
    holder = sqlite3.connect(path, timeout=0, isolation_level=None)
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError) as caught:
            other.execute("BEGIN IMMEDIATE")
    finally:
        holder.close()
        other.close()
    assert db_module.failure(caught.value) is db_module.Failure.CONTENTION
    assert db_module.is_transient(caught.value) and not db_module.is_outage(caught.value)


async def test_postgresql_deadlock_is_contention(pg_schema):
    db = pg_database(pg_schema)
    try:
        async with db.engine.connect() as a, db.engine.connect() as b:
            await a.begin()
            await b.begin()
            await a.execute(text("SELECT pg_advisory_xact_lock(1, 1)"))
            await b.execute(text("SELECT pg_advisory_xact_lock(1, 2)"))
            first = asyncio.create_task(a.execute(text("SELECT pg_advisory_xact_lock(1, 2)")))
            await asyncio.sleep(0.2)
            second = asyncio.create_task(b.execute(text("SELECT pg_advisory_xact_lock(1, 1)")))
            done = await asyncio.gather(first, second, return_exceptions=True)
            errors = [e for e in done if isinstance(e, BaseException)]
            await a.rollback()
            await b.rollback()
    finally:
        await db.dispose()
    assert len(errors) == 1, done
    assert db_module.is_transient(errors[0]) and not db_module.is_outage(errors[0])


async def test_an_unreachable_database_is_an_outage_not_contention(tmp_path):
    unreachable = [
        Database("postgresql://postgres@127.0.0.1:1/test"),  # nothing listens on port 1
        Database(f"sqlite:///{tmp_path / 'no such folder' / 'x.db'}"),
    ]
    for db in unreachable:
        try:
            with pytest.raises(Exception) as caught:
                async with db.session() as s:
                    await s.execute(text("SELECT 1"))
        finally:
            await db.dispose()
        assert db_module.failure(caught.value) is db_module.Failure.OUTAGE, repr(caught.value)
        assert db_module.is_outage(caught.value) and not db_module.is_transient(caught.value)


async def test_a_broken_constraint_is_not_transient(db):
    await _append(db, 3)
    with pytest.raises(IntegrityError) as caught:
        async with db.session() as s:
            await s.execute(text("INSERT INTO inboundevent VALUES ('cli', 'x', '2026-01-01 00:00:00+00')"))
            await s.execute(text("INSERT INTO inboundevent VALUES ('cli', 'x', '2026-01-01 00:00:00+00')"))
    assert db_module.failure(caught.value) is None


async def test_transactions_writing_several_discussions_in_any_order_do_not_deadlock(db):
    """A series refresh closes other discussions, a reminders sweep audits many: whatever order the
    entries are appended in, the chains are locked in one order, at the commit."""

    async def turn(i):
        order = [1, 2, 3] if i % 2 else [3, 2, 1]
        async with db.session() as s:
            for discussion_id in order:
                await audit.append(
                    s, actor=f"person:{i}", channel="cli", action="t", discussion_id=discussion_id
                )
                await asyncio.sleep(0)  # let the others interleave

    await asyncio.wait_for(asyncio.gather(*(turn(i) for i in range(10))), timeout=60)
    for discussion_id in (1, 2, 3):
        assert [r.seq for r in await _chain(db, f"discussion:{discussion_id}")] == list(range(1, 11))
    result = await _verify(db)
    assert result.ok and result.checked == 30, result
