"""Data outlives code: a database made by a previous release upgrades to head with nothing lost.

Each fixture under tests/data/releases/<revision>/release.sqlite was written by that release's own
code (see the README beside it): 0003, from before the lifecycle (migration 0004) and the audit
chains (0007), and 0007, the release just before the newest migrations. On SQLite a copy of each is
upgraded in place; on PostgreSQL a fresh schema is migrated to the fixture's revision, given the same
rows, then upgraded. Either way every row of every table must still be there (matched by primary
key) with every value it had, unless the column is listed in that release's maps below.

The old data is read with plain SQL and compared as plain values, so this test does not depend on
the current models: from the project it uses only storage.migrate, storage.db.Database and
storage.audit (verify, and append/anchor to write after the upgrade).

The audit trail a release wrote must still prove itself after the upgrade, and tampering with it
afterwards must still be caught: release 0003's as the old global chain that migration 0007 keeps
and anchors, release 0007's as the per-discussion chains its anchors recorded.
"""

import hashlib
import json
import shutil
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import text

from storage import audit, migrate
from storage.audit import verify
from storage.db import Database
from tests.conftest import _pg, pg_database

RELEASES = Path(__file__).parent / "data" / "releases"

# What a migration since a fixture's release changed on purpose, and nothing else: each release has
# its own maps, and a migration that renames or changes data adds its entries to every release older
# than it.
# (table, old column) -> its new name, e.g. {("dueitem", "missed_reason"): "reason"}.
Renamed = dict[tuple[str, str], str]
# (table, old column) -> a function from the old value to the value expected after the upgrade, e.g.
# {("discussion", "state"): lambda old: {"in_discussion": "held"}.get(old, old)}; or a note naming the
# dedicated test that checks it instead (a column dropped, or moved to another table), which is then
# skipped here. Values reach the functions normalised: aware UTC datetimes, dates, bools, parsed JSON.
# A renamed column's value goes through the transformed map under its old name.
Transformed = dict[tuple[str, str], Callable[[Any], Any] | str]

RENAMED_0003: Renamed = {("dueitem", "missed_reason"): "reason"}  # 0004
TRANSFORMED_0003: Transformed = {
    # 0004: the lifecycle's states (dialogs/lifecycle.py); a close always asked for a reason.
    ("discussion", "state"): lambda old: {
        "in_discussion": "in_progress",
        "planned": "decided",
        "circulated": "signed_off",
        "closed": "closed_with_reason",
    }.get(old, old),
    ("dueitem", "state"): "assert_carried_into_the_lifecycle: done is met or late, cancelled withdrawn",
    ("dueitem", "next_at"): "assert_carried_into_the_lifecycle: a reopened deadline is swept again",
    ("dueitem", "missed_reason"): "assert_carried_into_the_lifecycle: kept, or the close's reason if empty",
    ("dueitem", "subject"): "assert_one_child_each: a child's own deadline takes the child's id",  # 0008
}

# Release 0007: nothing renamed; 0008 gives a child's own deadlines the child's id as subject.
RENAMED_0007: Renamed = {}
TRANSFORMED_0007: Transformed = {
    ("dueitem", "subject"): "assert_one_child_each: a child's own deadline takes the child's id",
}
# Migration 0008: these deadlines are each child's own (dialogs.deadlines.CHILD_KINDS).
CHILD_KINDS = {"record_circulation", "outcome_notification", "further_discussion", "reconvene", "icpc"}
CHILD_KINDS |= {"final_discussion"}


# Deadlines "done" in release 0003 when planned or convened; met now only when held (migration 0004).
HELD_NOW = {"icpc", "further_discussion", "reconvene", "final_discussion"}


@dataclass
class Table:
    key: list[str]  # the primary key's columns
    rows: dict[tuple, dict[str, Any]]  # by primary key value


def _kind(column_type: sa.types.TypeEngine) -> str:
    for kind, base in (("datetime", sa.DateTime), ("date", sa.Date), ("bool", sa.Boolean), ("json", sa.JSON)):
        if isinstance(column_type, base):
            return kind
    return "plain"


def normalise(kind: str, value: Any, dialect: str) -> Any:
    """One value as Python sees it whichever database it came from: SQLite keeps datetimes and dates
    as text, booleans as 0/1 and JSON as text; PostgreSQL hands back the types themselves."""
    if value is None:
        return None
    if kind == "datetime":
        value = datetime.fromisoformat(value) if isinstance(value, str) else value
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if kind == "date":
        return date.fromisoformat(value) if isinstance(value, str) else value
    if kind == "bool":
        return bool(value)
    if kind == "json" and dialect == "sqlite":
        return json.loads(value)
    return value


def _read(conn: sa.Connection) -> dict[str, Table]:
    inspector = sa.inspect(conn)
    tables = {}
    for name in inspector.get_table_names():
        if name == "alembic_version":
            continue
        kinds = {c["name"]: _kind(c["type"]) for c in inspector.get_columns(name)}
        key = inspector.get_pk_constraint(name)["constrained_columns"]
        table = tables[name] = Table(key, {})
        for raw in conn.execute(text(f'SELECT * FROM "{name}"')).mappings():
            row = {c: normalise(kinds[c], v, conn.dialect.name) for c, v in raw.items()}
            table.rows[tuple(row[c] for c in key)] = row
    return tables


async def snapshot(db: Database) -> dict[str, Table]:
    """Every table (but alembic_version) and its rows, values normalised."""
    async with db.engine.connect() as conn:
        return await conn.run_sync(_read)


def lost(
    before: dict[str, Table],
    after: dict[str, Table],
    renamed: dict[tuple[str, str], str],
    transformed: dict[tuple[str, str], Callable[[Any], Any] | str],
) -> list[str]:
    """What of `before` is not in `after`: tables, rows, columns and values, in words."""
    problems: list[str] = []
    for name, old in before.items():
        if name not in after:
            problems.append(f"table {name} is gone ({len(old.rows)} rows)")
            continue
        new_key = [renamed.get((name, c), c) for c in old.key]
        new_rows = {tuple(row.get(c) for c in new_key): row for row in after[name].rows.values()}
        missing_columns: set[str] = set()
        for key, old_row in old.rows.items():
            new_row = new_rows.get(key)
            if new_row is None:
                problems.append(f"{name} {dict(zip(old.key, key, strict=True))}: row is gone")
                continue
            for column, value in old_row.items():
                rule = transformed.get((name, column))
                if isinstance(rule, str):
                    continue  # checked by the assertion the note names
                new_column = renamed.get((name, column), column)
                if new_column not in new_row:
                    missing_columns.add(new_column)
                    continue
                expected = rule(value) if rule is not None else value
                if new_row[new_column] != expected:
                    label = column if new_column == column else f"{column} (now {new_column})"
                    problems.append(
                        f"{name} {dict(zip(old.key, key, strict=True))}: {label} was {value!r}, "
                        f"expected {expected!r}, is {new_row[new_column]!r}"
                    )
        problems += [f"column {name}.{c} is gone" for c in sorted(missing_columns)]
    return problems


def assert_nothing_lost(
    before: dict[str, Table], after: dict[str, Table], renamed: Renamed, transformed: Transformed
) -> None:
    problems = lost(before, after, renamed, transformed)
    assert not problems, f"{len(problems)} problems, first ones:\n" + "\n".join(problems[:40])


async def assert_upgraded(db: Database, before: dict[str, Table], release: "Release") -> None:
    assert await migrate.is_up_to_date(db)
    after = await snapshot(db)
    assert_nothing_lost(before, after, release.renamed, release.transformed)
    if release.carried is not None:
        release.carried(before, after)
    assert await _schema_differences(db) == [], "the upgraded schema differs from a new database's"
    async with db.session() as session:
        trail = await verify(session)
    assert trail.ok, trail
    assert trail.checked >= len(before["auditevent"].rows)
    # Migration 0001's triggers still refuse changes (a batch migration that copies the table drops them).
    for sql in ("UPDATE auditevent SET actor = actor", "DELETE FROM auditevent"):
        refusal = await _refused(db, sql)
        assert refusal and "append-only" in refusal, (
            f"the audit trail accepted {sql!r}: its triggers are gone"
        )


def assert_one_child_each(before: dict[str, Table], after: dict[str, Table]) -> None:
    """Migration 0008: every discussion is about one child, who took the discussion's id, case
    reference, series, number and previous discussion; what is now per child points at them."""
    discussions = after["discussion"].rows  # as before, checked by assert_nothing_lost (0003 had no series)
    children = {row["id"]: row for row in after["child"].rows.values()}
    assert set(children) == {d["id"] for d in discussions.values()}
    for d in discussions.values():
        c = children[d["id"]]
        assert (c["discussion_id"], c["series_id"], c["case_ref"], c["number"], c["previous_id"]) == (
            d["id"],
            d["series_id"],
            d["case_ref"],
            d["number"],
            d["previous_id"],
        )
        assert (c["position"], c["removed_at"], c["added_by_id"]) == (1, None, d["convened_by_id"])
    for table in ("decision", "plan", "planitem", "recordversion"):
        rows = after[table].rows.values()
        assert rows and all(r["child_id"] == r["discussion_id"] for r in rows), table
    actions = before["action"].rows.values()
    pairs = {(r["action_id"], r["child_id"]) for r in after["actionchild"].rows.values()}
    assert pairs == {(a["id"], a["discussion_id"]) for a in actions}
    assert all(r["for_all"] is True for r in after["contribution"].rows.values())
    assert not after["contributionchild"].rows
    for key, old in before["dueitem"].rows.items():
        new = after["dueitem"].rows[key]
        if old["kind"] in CHILD_KINDS:
            assert (new["child_id"], new["subject"]) == (old["discussion_id"], str(old["discussion_id"]))
        elif old["kind"] == "override_review":
            expected = f"{old['discussion_id']}:{old['subject']}"
            assert (new["child_id"], new["subject"]) == (old["discussion_id"], expected)
        else:
            assert (new["child_id"], new["subject"]) == (None, old["subject"])


def _since_0003(before: dict[str, Table], after: dict[str, Table]) -> None:
    assert_carried_into_the_lifecycle(before, after)
    assert_one_child_each(before, after)


def assert_carried_into_the_lifecycle(before: dict[str, Table], after: dict[str, Table]) -> None:
    """Migration 0004: series, how deadlines ended, and what the audit trail knew."""
    old, new = before["discussion"].rows, after["discussion"].rows
    series = after["series"].rows
    # Each chain (first, further, final) is one series; a case has at most one open series.
    for key, d in new.items():
        if old[key]["previous_id"] is not None:
            previous = new[(old[key]["previous_id"],)]
            assert d["series_id"] == previous["series_id"], (key, "left its chain's series")
        assert series[(d["series_id"],)]["case_ref"] == d["case_ref"]
    open_series = [s["case_ref"] for s in series.values() if s["closed_at"] is None]
    assert len(open_series) == len(set(open_series)), "a case has two open series"
    for s in series.values():
        members = [d for d in new.values() if d["series_id"] == s["id"]]
        assert members, f"series {s['id']} holds no discussion"
        all_closed = all(d["state"] == "closed_with_reason" for d in members)
        assert (s["closed_at"] is not None) == all_closed, s
    # The old close put its reason in the monitoring text; it is now the discussion's own.
    for key, d in new.items():
        if old[key]["state"] == "closed":
            reason = [x for x in old[key]["monitoring"].split("\n") if x.startswith("Closed: ")][-1]
            assert d["closed_reason"] == reason.removeprefix("Closed: ") and d["closed_at"] is not None
        else:
            assert d["closed_reason"] is None and d["closed_at"] is None
    started = {
        e["discussion_id"]: e["at"]
        for e in before["auditevent"].rows.values()
        if e["action"] == "discussion.started"
    }
    assert started and all(new[(i,)]["started_at"] == at for i, at in started.items())
    # How each deadline ended, in the lifecycle's terms (see migration 0004's docstring).
    for key, item in before["dueitem"].rows.items():
        now = after["dueitem"].rows[key]
        closed = old[(item["discussion_id"],)]["state"] == "closed"
        if item["state"] == "cancelled":
            expected = ("withdrawn", item["updated_at"])
        elif item["state"] == "done" and item["kind"] not in HELD_NOW:
            expected = ("met" if item["updated_at"] <= item["due_at"] else "late", item["updated_at"])
        elif closed and item["kind"] != "acknowledgement":  # left open by the old close
            chase = item["kind"] in ("invitation", "quorum")
            expected = ("missed" if chase else "closed", old[(item["discussion_id"],)]["updated_at"])
            reason = item["missed_reason"] or (
                None if chase else new[(item["discussion_id"],)]["closed_reason"]
            )
            assert now["reason"] == reason and now["next_at"] is None, (item, now)
        else:  # open, or "done" when planned or convened: now met only by holding it
            expected = ("open", None)
            assert now["next_at"] == (item["due_at"] if item["state"] == "done" else item["next_at"]), now
        assert (now["state"], now["ended_at"]) == expected, (item, now)
    states = {i["state"] for i in after["dueitem"].rows.values()}
    assert states >= {"open", "met", "late", "withdrawn", "closed"}
    reopened = [
        k for k, i in before["dueitem"].rows.items() if i["state"] == "done" and i["kind"] in HELD_NOW
    ]
    assert reopened, "the fixture should hold a conference planned but not held"
    done = [e for e in before["auditevent"].rows.values() if e["action"] == "action.done"]
    for e in done:
        action = after["action"].rows[(e["detail"]["action_id"],)]
        assert (action["done_at"], action["done_by_id"]) == (e["at"], int(e["actor"].split(":")[1]))
    for table in ("participant", "contribution", "decision", "plan"):
        assert {r["version"] for r in after[table].rows.values()} == {1}


async def _schema_differences(db: Database) -> list:
    """What alembic's autogenerate would change: tables, columns and indexes a table rebuild lost."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlmodel import SQLModel

    import storage.models  # noqa: F401  (the current tables)

    def diff(conn: sa.Connection) -> list:
        return compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": False}), SQLModel.metadata
        )

    async with db.engine.connect() as conn:
        return await conn.run_sync(diff)


async def _refused(db: Database, sql: str) -> str | None:
    """The database's refusal of `sql`, or None if it accepted it; rolled back either way."""
    async with db.engine.connect() as conn:
        transaction = await conn.begin()
        try:
            await conn.execute(text(sql))
        except sa.exc.DBAPIError as exc:
            return str(exc)
        finally:
            await transaction.rollback()
    return None


# --- the releases --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Release:
    """A fixture: the database a release left, and what the migrations since changed on purpose."""

    revision: str
    renamed: Renamed
    transformed: Transformed
    # Values the fixture must hold, by (table, column): a guard against a thin fixture.
    holds: dict[tuple[str, str], set[Any]]
    # What the migrations since carried over that a rename or a function cannot say (checked by hand).
    carried: Callable[[dict[str, Table], dict[str, Table]], None] | None
    # After the upgrade, new entries chain on and `tampering` with the release's entries is caught.
    guarded: Callable[[Database, str], Awaitable[None]]
    tamperings: tuple[str, ...]
    # The release's own checks of its fixture, beyond `holds`.
    checks: list[Callable[[dict[str, Table]], None]] = field(default_factory=list)

    @property
    def fixture(self) -> Path:
        return RELEASES / self.revision / "release.sqlite"


@pytest.fixture(params=["0003", "0007"])
def release(request) -> Release:
    return RELEASES_BY_REVISION[request.param]


def test_the_fixture_holds_a_bit_of_everything(release: Release):
    """A guard against an empty or truncated fixture making the upgrade tests pass for nothing."""
    con = sa.create_engine(f"sqlite:///file:{release.fixture}?mode=ro&uri=true")
    try:
        with con.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == release.revision
            tables = _read(conn)
    finally:
        con.dispose()
    empty = [name for name, table in tables.items() if not table.rows]
    assert not empty, f"tables with no rows in the fixture: {empty}"
    for (name, column), wanted in release.holds.items():
        found = {row[column] for row in tables[name].rows.values()}
        assert found >= wanted, f"{name}.{column}: {sorted(wanted - found, key=str)} missing"
    for check in release.checks:
        check(tables)


async def test_sqlite_database_of_the_previous_release_upgrades_with_nothing_lost(tmp_path, release):
    path = tmp_path / "release.sqlite"
    shutil.copyfile(release.fixture, path)  # never open the fixture itself: opening it switches it to WAL
    db = Database(f"sqlite:///{path}")
    try:
        assert await migrate.current_revision(db) == release.revision
        before = await snapshot(db)
        await migrate.upgrade(db)
        await assert_upgraded(db, before, release)
        async with db.engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA foreign_key_check"))).all() == []
    finally:
        await db.dispose()


def _insert(conn: sa.Connection, tables: dict[str, Table]) -> None:
    """The rows into a schema at the fixture's revision, parents first; then the id sequences on."""
    schema = sa.MetaData()
    schema.reflect(conn)
    for table in schema.sorted_tables:  # foreign-key order
        if table.name in tables and tables[table.name].rows:
            rows = [row for _, row in sorted(tables[table.name].rows.items())]
            conn.execute(table.insert(), rows)  # the audit trail's triggers refuse UPDATE and DELETE only
        for column in table.primary_key.columns:
            if isinstance(column.type, sa.Integer):  # a serial id: the next one after the copied rows
                next_id = f'SELECT coalesce(max("{column.name}"), 0) + 1 FROM "{table.name}"'
                conn.execute(
                    text(
                        f"SELECT setval(s, ({next_id}), false)"
                        " FROM pg_get_serial_sequence(:table, :column) AS s WHERE s IS NOT NULL"
                    ),
                    {"table": f'"{table.name}"', "column": column.name},
                )


async def test_postgresql_database_of_the_previous_release_upgrades_with_nothing_lost(tmp_path, release):
    path = tmp_path / "release.sqlite"
    shutil.copyfile(release.fixture, path)
    fixture = Database(f"sqlite:///{path}")
    schema = f"t_release_{uuid.uuid4().hex[:8]}"
    await _pg(f"CREATE SCHEMA {schema}")
    db = pg_database(schema)
    try:
        before = await snapshot(fixture)
        await migrate.upgrade(db, release.revision)
        async with db.engine.begin() as conn:
            await conn.run_sync(_insert, before)
        # The copy itself is faithful: at the fixture's revision nothing differs at all.
        assert_nothing_lost(before, await snapshot(db), renamed={}, transformed={})
        await migrate.upgrade(db)
        await assert_upgraded(db, before, release)
        await release.guarded(db, "delete the last")
    finally:
        await db.dispose()
        await fixture.dispose()
        await _pg(f"DROP SCHEMA {schema} CASCADE")


# --- release 0003's audit trail after the upgrade: the old global chain -------------------------


def _old_digest(row: dict[str, Any]) -> str:
    """How release 0003 hashed an entry (what someone rewriting the old trail would compute)."""
    body = {k: row[k] for k in ("actor", "channel", "action", "discussion_id", "detail", "prev_hash")}
    body["at"] = row["at"].isoformat()
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()


async def _old_rows(db: Database) -> list[dict[str, Any]]:
    async with db.engine.connect() as conn:
        rows = await conn.execute(text("SELECT * FROM auditevent WHERE chain IS NULL ORDER BY id"))
        return [
            {
                **row,
                "at": normalise("datetime", row["at"], db.dialect),
                "detail": normalise("json", row["detail"], db.dialect),
            }
            for row in rows.mappings()
        ]


async def _tamper(db: Database, *statements: tuple[str, dict[str, Any]]) -> None:
    """Someone with direct database access: the append-only triggers off, the change, triggers on."""
    async with db.engine.begin() as conn:
        if db.dialect == "sqlite":
            await conn.execute(text("DROP TRIGGER IF EXISTS auditevent_no_update"))
            await conn.execute(text("DROP TRIGGER IF EXISTS auditevent_no_delete"))
        else:
            await conn.execute(text("ALTER TABLE auditevent DISABLE TRIGGER auditevent_append_only"))
        for sql, params in statements:
            await conn.execute(text(sql), params)
        if db.dialect == "postgresql":
            await conn.execute(text("ALTER TABLE auditevent ENABLE TRIGGER auditevent_append_only"))


TAMPERING_0003 = ("edit one", "delete one", "delete the last", "rehash the last", "add one")


async def assert_old_trail_guarded(db: Database, tampering: str) -> None:
    """New entries chain per discussion beside the old trail; then `tampering` with the old trail
    is caught."""
    old = await _old_rows(db)
    assert len(old) > 3
    async with db.session() as session:
        await audit.append(session, actor="system", channel="cli", action="test.after", discussion_id=1)
        await audit.append(session, actor="system", channel="cli", action="test.after")
    async with db.session() as session:
        assert await audit.anchor(session) == 1
    async with db.read() as session:
        result = await verify(session)
    assert result.ok and result.checked == len(old) + 4, result  # + 0007's anchor, 2 entries, an anchor
    async with db.engine.connect() as conn:
        closed_by = (
            await conn.execute(text("SELECT id FROM auditevent WHERE chain = 'council' AND seq = 1"))
        ).scalar_one()
    middle, last = old[len(old) // 2], old[-1]
    if tampering == "edit one":
        await _tamper(db, ("UPDATE auditevent SET actor = 'person:666' WHERE id = :id", {"id": middle["id"]}))
        expected = middle["id"], "changed"
    elif tampering == "delete one":
        await _tamper(db, ("DELETE FROM auditevent WHERE id = :id", {"id": middle["id"]}))
        expected = old[len(old) // 2 + 1]["id"], "deleted"
    elif tampering == "delete the last":
        await _tamper(db, ("DELETE FROM auditevent WHERE id = :id", {"id": last["id"]}))
        expected = closed_by, "deleted"
    elif tampering == "rehash the last":
        forged = _old_digest({**last, "actor": "person:666"})
        await _tamper(
            db,
            (
                "UPDATE auditevent SET actor = 'person:666', hash = :h WHERE id = :id",
                {"h": forged, "id": last["id"]},
            ),
        )
        expected = closed_by, "edited"  # the anchored head is no longer there
    else:  # an entry chained onto the old trail, as the release would have written it
        row = {**last, "id": None, "actor": "person:666", "prev_hash": last["hash"], "detail": {}}
        row["hash"] = _old_digest(row)
        await _tamper(
            db,
            (
                "INSERT INTO auditevent (at, actor, channel, action, discussion_id, detail, prev_hash, hash)"
                " VALUES (:at, :actor, :channel, :action, :discussion_id, '{}', :prev_hash, :hash)",
                {k: row[k] for k in ("actor", "channel", "action", "discussion_id", "prev_hash", "hash")}
                | {
                    "at": row["at"]
                    if db.dialect == "postgresql"
                    else row["at"].strftime("%Y-%m-%d %H:%M:%S.%f")
                },
            ),
        )
        async with db.engine.connect() as conn:
            added = (
                await conn.execute(text("SELECT max(id) FROM auditevent WHERE chain IS NULL"))
            ).scalar_one()
        expected = added, "closed"
    async with db.read() as session:
        result = await verify(session)
    assert (result.broken_at, result.ok) == (expected[0], False), (tampering, result)
    assert expected[1] in (result.problem or ""), (tampering, result)


# --- release 0007's audit trail after the upgrade: a chain per discussion, anchored -------------------


def _chain_digest(row: dict[str, Any]) -> str:
    """How release 0007 hashed an entry of a chain (what someone rewriting a chain would compute)."""
    keys = ("actor", "channel", "action", "discussion_id", "detail", "prev_hash", "chain", "seq")
    body = {k: row[k] for k in keys} | {"at": row["at"].isoformat()}
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()


async def _chained_rows(db: Database) -> dict[str, list[dict[str, Any]]]:
    """The entries of every chain, in order, by chain."""
    chains: dict[str, list[dict[str, Any]]] = {}
    async with db.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT * FROM auditevent WHERE chain IS NOT NULL ORDER BY chain, seq")
        )
        for row in rows.mappings():
            entry = {
                **row,
                "at": normalise("datetime", row["at"], db.dialect),
                "detail": normalise("json", row["detail"], db.dialect),
            }
            chains.setdefault(entry["chain"], []).append(entry)
    return chains


TAMPERING_0007 = ("edit one", "delete one", "delete the last", "rehash the last")


async def assert_chains_guarded(db: Database, tampering: str) -> None:
    """New entries chain on after the upgrade and are anchored; then `tampering` with an entry the
    release wrote in a discussion's chain is caught."""
    release = await _chained_rows(db)
    written = sum(len(rows) for rows in release.values())
    assert any(a["action"] == "audit.anchor" for a in release["council"]), "the release anchored nothing"
    async with db.session() as session:
        await audit.append(session, actor="system", channel="cli", action="test.after", discussion_id=1)
        await audit.append(session, actor="system", channel="cli", action="test.after")
    async with db.session() as session:
        assert await audit.anchor(session) >= 1
    async with db.read() as session:
        result = await verify(session)
    assert result.ok and result.checked == written + 3, result  # + 2 entries and an anchor
    # The release's longest discussion chain other than discussion 1's (which the test wrote to): every
    # entry of it is the release's, and its head is anchored.
    chain = max(
        (c for c in release if c not in ("council", "discussion:1")), key=lambda c: (len(release[c]), c)
    )
    rows = release[chain]
    assert len(rows) > 3
    middle, last = rows[len(rows) // 2], rows[-1]
    anchors = (await _chained_rows(db))["council"]
    anchored_by = next(
        a["id"]
        for a in anchors
        if a["action"] == "audit.anchor" and (a["detail"]["heads"].get(chain) or {}).get("seq") == last["seq"]
    )
    if tampering == "edit one":
        await _tamper(db, ("UPDATE auditevent SET actor = 'person:666' WHERE id = :id", {"id": middle["id"]}))
        expected = middle["id"], "changed"
    elif tampering == "delete one":
        await _tamper(db, ("DELETE FROM auditevent WHERE id = :id", {"id": middle["id"]}))
        expected = rows[len(rows) // 2 + 1]["id"], "deleted"
    elif tampering == "delete the last":
        await _tamper(db, ("DELETE FROM auditevent WHERE id = :id", {"id": last["id"]}))
        expected = anchored_by, "deleted"
    else:  # "rehash the last": changed and hashed again, so only the anchor shows it
        forged = _chain_digest({**last, "actor": "person:666"})
        await _tamper(
            db,
            (
                "UPDATE auditevent SET actor = 'person:666', hash = :h WHERE id = :id",
                {"h": forged, "id": last["id"]},
            ),
        )
        expected = last["id"], "anchored"
    async with db.read() as session:
        result = await verify(session)
    assert (result.broken_at, result.ok) == (expected[0], False), (tampering, result)
    assert expected[1] in (result.problem or ""), (tampering, result)


# --- the fixtures ---------------------------------------------------------------------------------------


def _only_chains(tables: dict[str, Table]) -> None:
    """Release 0007 started from nothing: every entry is in its discussion's chain or the council's,
    each chain numbered 1, 2, 3, ..., and none is from before the chains."""
    seqs: dict[str, list[int]] = {}
    for e in sorted(tables["auditevent"].rows.values(), key=lambda e: (e["chain"] or "", e["seq"] or 0)):
        assert e["chain"] == (
            "council" if e["discussion_id"] is None else f"discussion:{e['discussion_id']}"
        ), e
        seqs.setdefault(e["chain"], []).append(e["seq"])
    assert all(s == list(range(1, len(s) + 1)) for s in seqs.values()), seqs
    assert len(seqs) > 10


def _turns_keep_their_origin(tables: dict[str, Table]) -> None:
    turns = [r for r in tables["outbox"].rows.values() if r["kind"] == "turn"]
    assert all(r["origin"] for r in turns), "a turn's card without its origin"
    assert {r["origin"]["surface"] for r in turns} >= {"playground", "slack", "teams"}
    assert any(r["card_key"] for r in turns) and any(r["attempts"] for r in tables["outbox"].rows.values())


RELEASES_BY_REVISION = {
    "0003": Release(
        "0003",
        RENAMED_0003,
        TRANSFORMED_0003,
        holds={
            ("discussion", "state"): {
                "convened",
                "in_discussion",
                "decided",
                "planned",
                "circulated",
                "closed",
            },
        },
        carried=_since_0003,
        guarded=assert_old_trail_guarded,
        tamperings=TAMPERING_0003,
    ),
    "0007": Release(
        "0007",
        RENAMED_0007,
        TRANSFORMED_0007,
        holds={
            ("discussion", "state"): {
                "convened",
                "in_progress",
                "decided",
                "signed_off",
                "closed",
                "closed_with_reason",
            },
            ("participant", "status"): {"invited", "accepted", "declined", "by_phone", "absent"},
            ("dueitem", "state"): {"open", "met", "late", "missed", "closed", "withdrawn"},
            ("outbox", "kind"): {"turn", "reminder", "handover"},
            ("outbox", "status"): {"pending", "sent", "replaced", "failed", "dropped"},
            ("inbox", "status"): {"pending", "done", "failed"},
            ("circulation", "kind"): {"record", "outcome_notification"},
            ("auditevent", "action"): {"audit.anchor", "quorum.overridden", "quorum.override_reviewed"},
        },
        carried=assert_one_child_each,
        guarded=assert_chains_guarded,
        tamperings=TAMPERING_0007,
        checks=[_only_chains, _turns_keep_their_origin],
    ),
}


@pytest.mark.parametrize(
    ("revision", "tampering"),
    [(r, t) for r, fixture in RELEASES_BY_REVISION.items() for t in fixture.tamperings],
)
async def test_the_release_audit_trail_is_still_guarded_after_the_upgrade(tmp_path, revision, tampering):
    release = RELEASES_BY_REVISION[revision]
    path = tmp_path / "release.sqlite"
    shutil.copyfile(release.fixture, path)
    db = Database(f"sqlite:///{path}")
    try:
        await migrate.upgrade(db)
        await release.guarded(db, tampering)
    finally:
        await db.dispose()
