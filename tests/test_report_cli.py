"""`python -m bot report`, as an operator runs it: a real subprocess on a SQLite file; and the same
figures from the same discussions on SQLite and PostgreSQL, in process.

The database holds one meeting about three siblings (tests/records.py), held on Tuesday 24 November
2026: LL-3001 S47 joint (so one enquiry, its conference awaited), LL-3002 a Single Assessment, LL-3003
no S47; police, a police safeguarding manager and health took part in the thread; LL-3001's outcome
was not told in time (missed, with the chair's reason). Every count is small, so what is circulated
shows none of them.
"""

import json
import re
import sqlite3
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.reports.tables import render_json
from dialogs.procedure import load_procedure
from dialogs.report_card import file_name
from dialogs.report_model import NO_SUPPRESSION, Suppress
from dialogs.report_query import Scope, build
from storage import migrate
from storage.db import Database
from tests.conftest import _run
from tests.records import AMENDMENT, three_siblings
from tests.test_cli import run

NOVEMBER = ("--from", "2026-11-01", "--to", "2026-11-30")
# Never in a figures file, as words ("Pat" is in the SVG's "clipPath").
NAMES = ("Dana", "Pat", "Harper", "Morgan", "LL-3001", "LL-3002", "LL-3003")


async def _walk(url: str) -> None:
    db = Database(url)
    try:
        await migrate.upgrade(db)
        await three_siblings(db)
    finally:
        await db.dispose()


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> tuple[dict[str, str], Path]:
    path = tmp_path_factory.mktemp("report") / "figures.db"
    _run(_walk(f"sqlite:///{path}"))
    return {"DATABASE_URL": f"sqlite:///{path}", "COUNCIL": ""}, path


def exported(path: Path) -> list[tuple[str, str, dict]]:
    with sqlite3.connect(path) as con:
        rows = con.execute(
            "SELECT actor, channel, detail FROM auditevent WHERE action = 'report.exported' ORDER BY id"
        ).fetchall()
    return [(a, c, json.loads(d)) for a, c, d in rows]


def test_json_with_all_counts_holds_the_hand_counted_figures(database):
    env, path = database
    before = len(exported(path))
    out = run("report", *NOVEMBER, "--format", "json", "--all-counts", env=env)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["suppressed_below"] == 0 and data["council"] is None
    assert data["discussions"] == {
        "held": 1,
        "children": 3,
        "out_of_hours": 0,
        "out_of_hours_percent": 0,
        "out_of_hours_set_by_chair": 0,
    }
    assert {o["outcome"]: o["children"] for o in data["outcomes"]} == {
        "s47_single_agency": 0,
        "s47_joint": 1,
        "single_assessment": 1,
        "no_s47": 1,
    }
    kinds = {k["kind"]: k for k in data["timeliness"]}
    assert (kinds["meeting"]["met"], kinds["meeting"]["open"]) == (1, 0)  # held when proposed
    assert (kinds["record_circulation"]["met"], kinds["record_circulation"]["late"]) == (
        3,
        0,
    )  # one per child
    told = kinds["outcome_notification"]
    assert (told["missed"], told["open"], told["met_on_time_percent"]) == (1, 2, 0)
    assert told["reasons"] == {"missed": [{"reason": AMENDMENT, "count": 1}]}
    c = data["conferences"]
    assert (c["enquiries"], c["held"], c["awaited"], c["not_required"]) == (1, 0, 1, 0)
    people = {a["group"]: (a["invited"], a["took_part"], a["by_how"]["thread"]) for a in data["attendance"]}
    assert people == {
        "police": (1, 1, 1),
        "health": (1, 1, 1),
        "paediatrician": (0, 0, 0),
        "police_manager": (1, 1, 1),
        "referrer": (0, 0, 0),
    }
    assert data["quorum_overrides"] == {"discussions": 0, "reasons": []}
    assert [m["month"] for m in data["months"]] == ["2026-11"]
    assert exported(path)[before:] == [
        (
            "cli",
            "cli",
            {
                "start": "2026-11-01",
                "end": "2026-11-30",
                "council": None,
                "format": "json",
                "all_counts": True,
                "destination": "-",
            },
        )
    ]


def test_what_is_circulated_shows_no_small_count(database, tmp_path):
    env, _ = database
    out = run("report", *NOVEMBER, "--format", "json", env=env)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["suppressed_below"] == 6 and data["rounded_to"] == 5  # the shipped procedure's rule
    assert data["discussions"]["held"] == "fewer than 6" and data["discussions"]["out_of_hours"] == 0
    assert data["timeliness"][2]["reasons"] == {
        "missed": [
            {"reason": "other reasons, each given fewer times than the rule allows", "count": "fewer than 6"}
        ]
    }
    assert AMENDMENT not in out.stdout

    csv_out = run("report", *NOVEMBER, "--format", "csv", env=env)
    assert csv_out.returncode == 0, csv_out.stderr
    lines = csv_out.stdout.splitlines()
    assert lines[0] == "section,item,measure,value"
    assert "discussions,held,children,fewer than 6" in lines and "report,counts,rounded to,5" in lines
    figures = [line for line in lines[1:] if not line.startswith("report,")]  # not the rule's own rows
    assert not {line.rsplit(",", 1)[1] for line in figures} & {"1", "2", "3", "4", "5"}

    html_out = run("report", *NOVEMBER, "--out", str(tmp_path), env=env)
    assert html_out.returncode == 0, html_out.stderr
    page = tmp_path / file_name(date(2026, 11, 1), date(2026, 11, 30))
    assert html_out.stdout.strip() == str(page)
    html = page.read_text()
    assert "fewer than 6" in html and "Not for circulation" not in html and AMENDMENT not in html
    for text in (out.stdout, csv_out.stdout, html):
        assert [name for name in NAMES if re.search(rf"\b{name}\b", text)] == []


def test_html_goes_to_the_periods_file_here_and_all_counts_says_not_for_circulation(database, tmp_path):
    env, path = database
    out = run("report", *NOVEMBER, "--all-counts", env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    page = tmp_path / "strategy-discussion-figures-2026-11-01-to-2026-11-30.html"
    assert [p.name for p in tmp_path.iterdir()] == [page.name]
    html = page.read_text()
    assert "Not for circulation: shows small numbers." in html and AMENDMENT in html
    assert "Every count is shown as it is" in html and "rounded" not in html
    assert exported(path)[-1][2] == {
        "start": "2026-11-01",
        "end": "2026-11-30",
        "council": None,
        "format": "html",
        "all_counts": True,
        "destination": str(page),
    }


def test_out_names_a_file_and_csv_json_print_by_default(database, tmp_path):
    env, _ = database
    target = tmp_path / "november.csv"
    out = run("report", *NOVEMBER, "--format", "csv", "--out", str(target), env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(target) and target.read_text().startswith("section,item,measure,value")
    printed = run("report", *NOVEMBER, "--out", "-", env=env)
    assert printed.returncode == 0 and printed.stdout.startswith("<!DOCTYPE html>")
    assert list(tmp_path.iterdir()) == [target]


def test_without_dates_the_period_is_this_month_to_today_in_the_councils_time(database, tmp_path):
    env, _ = database
    before = datetime.now(ZoneInfo("Europe/London")).date()
    out = run("report", env=env, cwd=tmp_path)
    after = datetime.now(ZoneInfo("Europe/London")).date()
    assert out.returncode == 0, out.stderr
    names = {file_name(day.replace(day=1), day) for day in (before, after)}  # a run across midnight
    assert [p.name for p in tmp_path.iterdir()][0] in names


def test_a_council_is_counted_alone(database):
    env, _ = database
    out = run("report", *NOVEMBER, "--format", "json", "--council", "Elsewhere", "--all-counts", env=env)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["council"] == "Elsewhere" and data["discussions"]["held"] == 0
    assert (data["suppressed_below"], data["rounded_to"]) == (0, 0)  # --all-counts: nothing rounded
    assert all(o["children"] == 0 for o in data["outcomes"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--from", "2026-11-31"), "--from: '2026-11-31' is not a real date (use YYYY-MM-DD)"),
        (("--from", "2026-11-01", "--to", "30/11/2026"), "--to: '30/11/2026' is not a real date"),
        (("--from", "2026-12-01", "--to", "2026-11-30"), "the period ends (2026-11-30) before it starts"),
        (("--from", "2020-01-01", "--to", "2026-11-30"), "a report covers at most five years"),
        (("--from", "2026-11-01", "--to", "2026-11-30", "--out", "/no/such/folder/x.html"), "no folder"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(database, tmp_path, args, message):
    env, path = database
    before = exported(path)
    out = run("report", *args, env=env, cwd=tmp_path)
    assert out.returncode == 2 and out.stdout == ""
    assert message in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == [] and exported(path) == before


async def test_the_figures_of_the_same_discussions_on_each_database(db):
    walk = await three_siblings(db)
    scope = Scope(date(2026, 11, 1), date(2026, 11, 30), "Europe/London", "england-and-wales")
    async with db.read() as session:
        report = await build(session, load_procedure(), scope, walk.drv.clock.now())
    everything = json.loads(render_json(report, NO_SUPPRESSION))
    assert everything["discussions"]["children"] == 3
    assert [k["met"] for k in everything["timeliness"]][:3] == [1, 3, 0]
    assert everything["timeliness"][2]["missed"] == 1
    circulated = json.loads(render_json(report, Suppress(6)))
    assert circulated["discussions"]["children"] == "fewer than 6"
    assert circulated["conferences"]["awaited"] == "fewer than 6"
