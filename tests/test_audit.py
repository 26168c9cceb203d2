import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from storage import audit
from storage.models import AuditEvent


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


async def _bypass_triggers(db, sql):
    """What someone with direct database access could do: switch the guard off and edit."""
    async with db.engine.begin() as conn:
        if db.dialect == "sqlite":
            await conn.execute(text("DROP TRIGGER auditevent_no_update"))
            await conn.execute(text("DROP TRIGGER auditevent_no_delete"))
            await conn.execute(text(sql))
        else:
            await conn.execute(text("ALTER TABLE auditevent DISABLE TRIGGER auditevent_append_only"))
            await conn.execute(text(sql))
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
