"""The CLI as an operator runs it: a real subprocess, real exit codes and output."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO


def run(*args, env=None, **kw):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=kw.get("cwd", REPO),
        env=full_env,
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize(
    ("nation", "held_on", "expected"),
    [
        # Christmas 2026: Fri 25 Dec, Mon 28 Dec (Boxing Day substitute) are off in every nation.
        (
            "england-and-wales",
            "2026-12-24",
            {"record_circulation_due": "2026-12-29", "icpc_due": "2027-01-19"},
        ),
        # Scotland: Fri 1 Jan, and 2 January (a Saturday) moves to Mon 4 Jan; England works on the 4th.
        ("scotland", "2026-12-31", {"record_circulation_due": "2027-01-05"}),
        ("england-and-wales", "2026-12-31", {"record_circulation_due": "2027-01-04"}),
        # Easter 2029: Good Friday 30 March, Easter Monday 2 April (not a holiday in Scotland).
        ("england-and-wales", "2029-03-29", {"record_circulation_due": "2029-04-03"}),
        ("scotland", "2029-03-29", {"record_circulation_due": "2029-04-02"}),
        # St Patrick's Day 2026 is a Tuesday: a bank holiday in Northern Ireland only.
        ("northern-ireland", "2026-03-16", {"record_circulation_due": "2026-03-18"}),
        ("england-and-wales", "2026-03-16", {"record_circulation_due": "2026-03-17"}),
        # A discussion held on a Saturday counts from that day: Saturday + 1 working day = Monday.
        ("england-and-wales", "2026-11-21", {"record_circulation_due": "2026-11-23"}),
    ],
)
def test_timescales_json_by_nation(nation, held_on, expected):
    out = run("timescales", "--held-on", held_on, "--nation", nation, "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data) == {
        "record_circulation_due",
        "outcome_notification_due",
        "icpc_due",
        "further_discussion_due",
    }
    for key, value in expected.items():
        assert data[key] == value, key


@pytest.mark.parametrize(
    ("convened_at", "meeting_due"),
    [
        ("2026-03-28T10:00", "2026-03-29T11:00:00+01:00"),  # spring forward: 24 elapsed hours
        ("2026-10-24T10:00", "2026-10-25T09:00:00+00:00"),  # fall back
        ("2026-11-22T18:30", "2026-11-23T18:30:00+00:00"),
    ],
)
def test_meeting_due_across_clock_changes(convened_at, meeting_due):
    out = run("timescales", "--convened-at", convened_at, "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"meeting_due": meeting_due}


def test_readable_table():
    out = run("timescales", "--held-on", "2026-12-24", "--convened-at", "2026-12-23T16:00")
    assert out.returncode == 0
    assert "Record circulated by" in out.stdout and "2026-12-29" in out.stdout
    assert "Meeting held by" in out.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("--held-on", "2026-02-30"),
        ("--held-on", "tomorrow"),
        ("--convened-at", "2026-13-01T10:00"),
        ("--convened-at", "2026-03-29T01:30"),  # does not exist: clocks go forward at 01:00
    ],
)
def test_impossible_date_exits_2_with_one_line(args):
    out = run("timescales", *args, "--json")
    assert out.returncode == 2
    assert out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_wrong_setting_names_it_and_the_accepted_values():
    out = run("check-config", env={"NATION": "wales"})
    assert out.returncode == 2
    assert "NATION" in out.stderr and "england-and-wales" in out.stderr and "northern-ireland" in out.stderr


def test_wrong_database_url_is_named():
    out = run("check-config", env={"DATABASE_URL": "mysql://x"})
    assert out.returncode == 2 and "DATABASE_URL" in out.stderr and "mysql" not in out.stderr


def test_check_config_ok():
    out = run("check-config")
    assert out.returncode == 0, out.stderr
    assert "procedure ok" in out.stdout


def test_db_upgrade_then_audit_verify(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    assert run("db", "upgrade", env=env).returncode == 0
    out = run("audit", "verify", env=env)
    assert out.returncode == 0 and "intact" in out.stdout


def test_audit_verify_reports_where_the_chain_breaks(tmp_path):
    import sqlite3

    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    assert run("db", "upgrade", env=env).returncode == 0
    script = (
        "import asyncio\n"
        "from storage.db import Database\n"
        "from storage import audit\n"
        "async def main():\n"
        f"    db = Database('sqlite:///{tmp_path / 'cli.db'}')\n"
        "    async with db.session() as s:\n"
        "        for i in range(3):\n"
        "            await audit.append(s, actor='cli', channel='cli', action='t', detail={'i': i})\n"
        "    await db.dispose()\n"
        "asyncio.run(main())\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=REPO, check=True)
    con = sqlite3.connect(tmp_path / "cli.db")
    con.execute("DROP TRIGGER auditevent_no_update")
    con.execute("""UPDATE auditevent SET detail = '{"i": 99}' WHERE id = 2""")
    con.commit()
    con.close()
    out = run("audit", "verify", env=env)
    assert out.returncode == 1
    assert "broken at entry 2" in out.stdout


def test_serve_refuses_a_public_address_without_credentials():
    out = run("serve", "--host", "0.0.0.0", "--port", "0")
    assert out.returncode == 2
    assert "loopback" in out.stderr


def test_debug_logging_never_prints_sql(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "LOG_LEVEL": "DEBUG"}
    out = run("db", "upgrade", env=env)
    assert out.returncode == 0
    assert "CREATE TABLE" not in out.stderr and "sqlalchemy.engine" not in out.stderr


def test_scheduler_tick_refuses_a_future_time(tmp_path):
    out = run(
        "scheduler",
        "tick",
        "--at",
        "2999-01-01T09:00",
        env={"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"},
    )
    assert out.returncode == 2 and "future" in out.stderr
