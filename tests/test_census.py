"""The Children in Need census extract (Section 47 module), on SQLite and PostgreSQL.

A known set of discussions is built through the real engine, as people would run them
(tests/census_fixtures.py, its dates counted by hand, bank holidays included); every row of the
extract is asserted field by field against those dates, the CSV and XML are checked byte for byte and
the XML against the DfE's schema (../shared), and each census rule is broken in the database to see
the export refuse, naming the case, writing nothing.
"""

import json
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import select, update

from bot.reports.census_cli import CensusJob, export
from bot.reports.census_out import CensusFormat, to_xml
from dialogs.census import CensusYear, Context, check, start_outside_year
from storage import migrate
from storage.db import Database
from storage.models import AuditEvent, Child, DueItem, Series
from tests.census_fixtures import (
    CASE,
    NATION,
    NORTH_2027,
    TODAY,
    TZ,
    YEAR_2026,
    YEAR_2027,
    one_enquiry,
    row,
    rows_of,
    set_series,
    whole_message,
    year_db,  # noqa: F401 - a fixture
)
from tests.conftest import CONFORMANCE, _run
from tests.engine_helpers import make_driver
from tests.lifecycle_walks import PROCEDURE, accept_all, close_with, decided, further, signed_off, started
from tests.test_cli import run

XSD = CONFORMANCE / "census" / "CIN_schema_2024.xsd"
HEADER = "LAchildID,S47ActualStartDate,InitialCPCtarget,DateOfInitialCPC,ICPCnotRequired\r\n"


async def test_one_row_per_enquiry_started_in_the_year_field_by_field(year_db):  # noqa: F811
    db = year_db()
    try:
        ours = await rows_of(db, 2027, "")
        # Not there: LL-3002 (Single Assessment) and LL-3003 (no S47), LL-3001's further discussion,
        # LL-6003 (S47 withdrawn by the changed decision), LL-5001/5002 (census year 2026), LL-7001
        # (another council).
        assert ours.rows == YEAR_2027 and ours.problems == ()
        assert (await rows_of(db, 2027, "north")).rows == NORTH_2027
        everyone = await rows_of(db, 2027, None)
        assert everyone.rows == tuple(sorted(YEAR_2027 + NORTH_2027, key=lambda r: r.la_child_id))
        # 2026: settled after 31 March 2026, so as the census saw them at its reference date.
        assert (await rows_of(db, 2026, "")).rows == YEAR_2026
        async with db.read() as s:
            found = (
                await s.execute(select(Series).where(Series.case_ref.in_(["LL-5001", "LL-5002"])))
            ).scalars()
            settled = {x.case_ref: (x.icpc_held_on, x.icpc_not_required) for x in found}
        assert settled == {"LL-5001": (date(2026, 4, 14), False), "LL-5002": (None, True)}
        assert (await rows_of(db, 2028, None)).rows == ()
    finally:
        await db.dispose()


async def test_the_csv_has_the_census_field_names_and_dates_and_the_export_is_audited(
    year_db,  # noqa: F811
    tmp_path,
):
    db = year_db()
    try:
        out = tmp_path / "census-2027.csv"
        job = CensusJob(2027, CensusFormat.CSV, "", out, TZ, NATION, today=TODAY)
        assert await export(db, PROCEDURE, job) == 0
        assert out.read_bytes().decode() == HEADER + (
            "LL-3001,2026-11-24,2026-12-15,2026-12-10,false\r\n"
            "LL-6001,2026-12-17,2027-01-12,,true\r\n"
            "LL-6001,2027-02-02,2027-02-23,2027-02-19,false\r\n"
            "LL-6002,2027-01-11,2027-02-01,,false\r\n"
        )
        async with db.read() as s:
            entries = (
                (await s.execute(select(AuditEvent).where(AuditEvent.action == "census.exported")))
                .scalars()
                .all()
            )
        mine = [e for e in entries if e.detail["destination"] == str(out)]
        assert [(e.actor, e.channel, e.discussion_id) for e in mine] == [("cli", "cli", None)]
        assert mine[0].detail == {
            "year": 2027,
            "format": "csv",
            "rows": 4,
            "council": "",
            "destination": str(out),
        }
    finally:
        await db.dispose()


async def test_the_xml_groups_each_childs_enquiries_and_validates_against_the_census_schema(
    year_db,  # noqa: F811
    tmp_path,
):
    db = year_db()
    try:
        out = tmp_path / "census-2027.xml"
        job = CensusJob(2027, CensusFormat.XML, "", out, TZ, NATION, today=TODAY)
        assert await export(db, PROCEDURE, job) == 0
    finally:
        await db.dispose()
    data = out.read_bytes()
    root = etree.fromstring(data)
    assert root.tag == "Children"
    shape = [
        (
            c.findtext("ChildIdentifiers/LAchildID"),
            [[(e.tag, e.text) for e in s47] for s47 in c.findall("CINdetails/Section47")],
        )
        for c in root.findall("Child")
    ]
    assert shape == [
        (
            "LL-3001",
            [
                [
                    ("S47ActualStartDate", "2026-11-24"),
                    ("InitialCPCtarget", "2026-12-15"),
                    ("DateOfInitialCPC", "2026-12-10"),
                    ("ICPCnotRequired", "false"),
                ]
            ],
        ),
        (
            "LL-6001",  # two enquiries: two Section47 under one Child
            [
                [
                    ("S47ActualStartDate", "2026-12-17"),
                    ("InitialCPCtarget", "2027-01-12"),
                    ("ICPCnotRequired", "true"),  # no conference: no DateOfInitialCPC element
                ],
                [
                    ("S47ActualStartDate", "2027-02-02"),
                    ("InitialCPCtarget", "2027-02-23"),
                    ("DateOfInitialCPC", "2027-02-19"),
                    ("ICPCnotRequired", "false"),
                ],
            ],
        ),
        (
            "LL-6002",
            [
                [
                    ("S47ActualStartDate", "2027-01-11"),
                    ("InitialCPCtarget", "2027-02-01"),
                    ("ICPCnotRequired", "false"),
                ]
            ],
        ),
    ]
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    merged = whole_message(data)
    schema.assertValid(merged)
    # The check can fail: the same return with a Section47's last two elements swapped is refused.
    s47 = merged.find("Children/Child/CINdetails/Section47")
    s47.append(s47.find("DateOfInitialCPC"))
    assert not schema.validate(merged)


def test_an_empty_year_is_a_header_or_an_empty_children_element():
    year = CensusYear(2030)
    assert to_xml((), year).startswith(b"<?xml version='1.0' encoding='utf-8'?>\n<Children>")
    assert etree.fromstring(to_xml((), year)).findall("Child") == []


# --- the rules: each broken in the database, the export refuses and writes nothing ---------------------


def empty_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "out"  # of its own: the SQLite database is in tmp_path
    folder.mkdir()
    return folder


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def refused(db: Database, tmp_path: Path, capsys, *, today: date = TODAY) -> list[str]:
    """Export census 2027 to a file: refused with exit code 2 and nothing written; the problem lines."""
    folder = empty_folder(tmp_path)
    job = CensusJob(2027, CensusFormat.CSV, None, folder / "census.csv", TZ, NATION, today=today)
    assert await export(db, PROCEDURE, job) == 2
    assert files_in(folder) == []  # not the file, nor a temporary one
    async with db.read() as s:
        audited = (await s.execute(select(AuditEvent).where(AuditEvent.action == "census.exported"))).first()
    assert audited is None
    err = capsys.readouterr()
    assert err.out == ""
    lines = err.err.splitlines()
    assert lines[0].startswith("census 2027 (2026-04-01 to 2027-03-31): nothing written;")
    return lines[1:]


async def test_a_conference_before_the_s47_start_is_refused(db, tmp_path, capsys):
    _, did = await one_enquiry(db)
    await set_series(db, did, icpc_held_on=date(2026, 11, 23))
    assert await refused(db, tmp_path, capsys) == [
        f"{CASE}: conference before the S47 start: DateOfInitialCPC 2026-11-23 is before "
        "S47ActualStartDate 2026-11-24: correct the conference date recorded for this enquiry, or the "
        "date of the discussion that decided S47"
    ]


async def test_a_target_that_is_not_15_working_days_after_the_start_is_refused(db, tmp_path, capsys):
    _, did = await one_enquiry(db)
    async with db.session() as s:
        await s.execute(
            update(DueItem)
            .where(DueItem.discussion_id == did, DueItem.kind == "icpc")
            .values(due_at=datetime(2026, 12, 16, 23, 59, 59, tzinfo=UTC))
        )
    [line] = await refused(db, tmp_path, capsys)
    assert line.startswith(
        f"{CASE}: InitialCPCtarget not 15 working days after the S47 start: the bot's conference deadline "
        "is 2026-12-16, the census's target is 2026-12-15 (15 working days after S47ActualStartDate "
        "2026-11-24); the deadline no longer follows the date of the discussion that decided S47"
    )


async def test_a_council_counting_the_conference_from_the_last_s47_discussion_is_told_what_to_do(
    db, tmp_path, capsys
):
    last = PROCEDURE.model_copy(
        update={"timescales": PROCEDURE.timescales.model_copy(update={"icpc_counted_from": "last"})}
    )
    drv = await make_driver(db, procedure=last)
    first = await started(drv)
    await decided(drv, first, "s47_joint")
    await signed_off(drv, first)
    drv.clock.advance(days=7)  # Tue 1 Dec 2026
    second, cards = await further(drv, first, "2026-12-01", "15:00", format="call")
    await accept_all(drv, cards)
    await drv.press("chair", "start", second)
    await decided(drv, second, "s47_joint")
    # Counted from 1 Dec: 2-4 Dec (3), 7-11 Dec (8), 14-18 Dec (13), 21-22 Dec (15) -> Tue 22 Dec.
    folder = empty_folder(tmp_path)
    job = CensusJob(2027, CensusFormat.CSV, None, folder / "census.csv", TZ, NATION, today=TODAY)
    assert await export(db, last, job) == 2
    assert files_in(folder) == []
    [line] = capsys.readouterr().err.splitlines()[1:]
    assert line == (
        f"{CASE}: InitialCPCtarget not 15 working days after the S47 start: the bot's conference deadline "
        "is 2026-12-22, the census's target is 2026-12-15 (15 working days after S47ActualStartDate "
        "2026-11-24); this council's procedure file counts the conference from the last discussion that "
        "decided S47 (timescales.icpc_counted_from: last), the census from the first. Give the census's "
        "date for this enquiry from the case-management system instead of this extract, or have the "
        "procedure count as the census does (icpc_counted_from: first, icpc_working_days: 15) and export "
        "again"
    )


async def test_a_conference_both_held_and_not_required_is_refused(db, tmp_path, capsys):
    _, did = await one_enquiry(db)
    await set_series(db, did, icpc_held_on=date(2026, 12, 10), icpc_not_required=True)
    assert await refused(db, tmp_path, capsys) == [
        f"{CASE}: conference both held and not required: DateOfInitialCPC 2026-12-10 is given and "
        "ICPCnotRequired is true: keep the one that is right for this enquiry"
    ]


async def test_a_conference_date_after_today_is_refused(db, tmp_path, capsys):
    _, did = await one_enquiry(db)
    await set_series(db, did, icpc_held_on=date(2027, 1, 20))
    assert await refused(db, tmp_path, capsys, today=date(2027, 1, 10)) == [
        f"{CASE}: conference date in the future: DateOfInitialCPC 2027-01-20 is after today (2027-01-10): "
        "the census takes the date a conference was held, never a planned one; record it once it has "
        "been held"
    ]


async def test_two_enquiries_for_one_child_starting_the_same_day_are_refused(db, tmp_path, capsys):
    drv, did = await one_enquiry(db)
    await close_with(drv, did, "Convened under the wrong series")
    again = await started(drv, proposed_time="15:00")  # a new series for the same child, same day
    await decided(drv, again, "s47_joint")
    async with db.read() as s:
        kids = (await s.execute(select(Child).where(Child.case_ref == CASE))).scalars().all()
    assert len({c.series_id for c in kids}) == 2
    assert await refused(db, tmp_path, capsys) == [
        f"{CASE}: two enquiries starting the same day: 2 Section 47 enquiries start on 2026-11-24: one "
        "enquiry recorded in two series of discussions? Check this child's series and correct the one "
        "that is wrong"
    ]


def test_a_start_outside_the_census_year_is_named():
    """The query takes only the year's starts, so this rule guards rows from anywhere else."""
    ctx = Context(CensusYear(2027), NATION, TODAY, PROCEDURE)
    rows = (
        row("LL-1", "2026-03-31", "2026-04-23", None, False),  # the day before the year
        row("LL-2", "2026-04-01", "2026-04-24", None, False),  # its first day
        row("LL-3", "2027-03-31", "2027-04-21", None, False),  # its last day
        row("LL-4", "2027-04-01", "2027-04-22", None, False),  # the day after
    )
    assert [(p.la_child_id, p.rule) for p in start_outside_year(rows, ctx)] == [
        ("LL-1", "S47 start outside the census year"),
        ("LL-4", "S47 start outside the census year"),
    ]
    assert start_outside_year(rows, ctx)[0].detail == (
        "S47ActualStartDate 2026-03-31 is not in census year 2027 (2026-04-01 to 2027-03-31)"
    )
    # The targets are right (Good Friday 3 and Easter Monday 6 April 2026 are in the first two), so the
    # start is the only problem.
    assert [p.rule for p in check(rows, ctx)] == ["S47 start outside the census year"] * 2


# --- the command, as an operator runs it ------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_db(tmp_path_factory):
    """One enquiry (Tue 24 Nov 2026, conference awaited) in a SQLite file for `python -m bot`."""
    path = tmp_path_factory.mktemp("census_cli") / "census.db"

    async def walk() -> None:
        db = Database(f"sqlite:///{path}")
        try:
            await migrate.upgrade(db)
            await one_enquiry(db)
        finally:
            await db.dispose()

    _run(walk())
    return {"DATABASE_URL": f"sqlite:///{path}"}, path


def test_the_command_writes_csv_to_standard_output_and_xml_to_a_file(small_db, tmp_path):
    env, path = small_db
    out = run("census", "--year", "2027", env=env)
    assert out.returncode == 0, out.stderr
    lines = HEADER + f"{CASE},2026-11-24,2026-12-15,,false\r\n"
    assert out.stdout == lines.replace("\r\n", "\n")  # read in text mode: CRLF comes back as \n
    assert "1 enquiries, 1 children" in out.stderr
    target = tmp_path / "return.xml"
    out = run("census", "--year", "2027", "--format", "xml", "--council", "", "--out", str(target), env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"{target}  (census 2027 (2026-04-01 to 2027-03-31): 1 enquiries")
    assert etree.fromstring(target.read_bytes()).findtext("Child/ChildIdentifiers/LAchildID") == CASE
    with sqlite3.connect(path) as con:
        details = [
            json.loads(d)
            for (d,) in con.execute("SELECT detail FROM auditevent WHERE action = 'census.exported'")
        ]
    assert [(d["format"], d["rows"], d["destination"]) for d in details] == [
        ("csv", 1, "stdout"),
        ("xml", 1, str(target)),
    ]


def test_the_command_refuses_bad_input_in_one_line(small_db, tmp_path):
    env, _ = small_db
    out = run("census", "--year", "26", env=env)
    assert (out.returncode, out.stdout) == (2, "")
    assert out.stderr == "error: --year 26: give the census year as four digits (2026: 2025-26)\n"
    for asked in (["--council", "south"], []):  # given, or the COUNCIL setting's by default
        out = run("census", "--year", "2027", *asked, env={**env, "COUNCIL": "south"})
        assert out.returncode == 2
        assert out.stderr == (
            "error: council 'south': this database holds no discussion of it "
            "(--council names another, '' every council)\n"
        )
    out = run("census", "--year", "2027", "--out", str(tmp_path / "nowhere" / "x.csv"), env=env)
    assert out.returncode == 2 and "there is no folder" in out.stderr


def test_the_command_writes_nothing_while_a_rule_is_broken(small_db, tmp_path):
    env, path = small_db
    with sqlite3.connect(path) as con:
        con.execute("UPDATE series SET icpc_held_on = '2026-11-20' WHERE case_ref = ?", (CASE,))
    try:
        target = tmp_path / "census.csv"
        out = run("census", "--year", "2027", "--out", str(target), env=env)
        assert (out.returncode, out.stdout) == (2, "")
        assert f"{CASE}: conference before the S47 start: DateOfInitialCPC 2026-11-20" in out.stderr
        assert files_in(tmp_path) == []
    finally:
        with sqlite3.connect(path) as con:
            con.execute("UPDATE series SET icpc_held_on = NULL WHERE case_ref = ?", (CASE,))
