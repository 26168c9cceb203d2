"""`python -m bot record export`, as an operator runs it: a real subprocess on a SQLite file.

The database holds case LL-300001 with two signed-off discussions (a first and a further one),
LL-7002 with one, and LL-7001, convened and started but not signed off.
"""

import json
import re
import sqlite3
from pathlib import Path

import pytest

from bot.cli import UsageError
from bot.records.cli import _targets
from bot.records.formats import Format
from storage import migrate
from storage.db import Database
from tests.conftest import _run
from tests.engine_helpers import make_driver
from tests.lifecycle_walks import CASE, accept_all, decided, further, signed_off, started
from tests.test_cli import run

FORMATS = tuple(Format)
NAMES = ("Dana", "Pat", "Harper", "Morgan", "Duty", "Police", "Health")


async def _walk(url: str) -> None:
    db = Database(url)
    try:
        await migrate.upgrade(db)
        drv = await make_driver(db)
        await started(drv, case_ref="LL-7001")
        single = await started(drv, case_ref="LL-7002")
        await decided(drv, single, "no_s47")
        await signed_off(drv, single, plan=False)
        first = await started(drv)
        await decided(drv, first, "s47_joint")
        await signed_off(drv, first)
        drv.clock.advance(days=7)
        second, cards = await further(drv, first, "2026-12-01", "15:00", format="call")
        await accept_all(drv, cards)
        await drv.press("chair", "start", second)
        await decided(drv, second, "s47_joint")
        await signed_off(drv, second)
    finally:
        await db.dispose()


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> tuple[dict[str, str], Path]:
    path = tmp_path_factory.mktemp("cli") / "records.db"
    _run(_walk(f"sqlite:///{path}"))
    return {"DATABASE_URL": f"sqlite:///{path}"}, path


def exports(path: Path, under: Path) -> list[tuple[str, str, dict]]:
    """The audit entries of exports into `under`: actor, channel, detail."""
    with sqlite3.connect(path) as con:
        rows = con.execute(
            "SELECT actor, channel, detail FROM auditevent WHERE action = 'record.exported' ORDER BY id"
        ).fetchall()
    found = [(a, c, json.loads(d)) for a, c, d in rows]
    return [e for e in found if e[2]["destination"].startswith(str(under))]


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_discussions_latest_record_is_written_to_a_folder_and_audited(database, tmp_path, fmt):
    env, path = database
    out = run("record", "export", CASE.lower(), "--format", fmt.value, "--out", str(tmp_path), env=env)
    assert out.returncode == 0, out.stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"strategy-discussion-{CASE}-d{n}-v1.{fmt.value}" for n in (1, 2)]
    assert not any(name in out.stdout + "".join(names) for name in NAMES)  # case references only
    assert all(re.fullmatch(rf"strategy-discussion-{CASE}-d[12]-v1\.\w+", n) for n in names)
    if fmt == Format.JSON:
        numbers = [json.loads((tmp_path / n).read_text())["discussion_number"] for n in names]
        assert numbers == [1, 2]
    entries = exports(path, tmp_path)
    assert [(a, c) for a, c, _ in entries] == [("cli", "cli")] * 2
    assert {Path(d["destination"]).name for _, _, d in entries} == set(names)
    assert all(set(d) == {"record_version_id", "version", "format", "destination"} for _, _, d in entries)
    assert {d["format"] for _, _, d in entries} == {fmt.value}


def test_out_names_the_file_for_one_record_and_is_refused_for_several(database, tmp_path):
    env, path = database
    target = tmp_path / "for-the-import.json"
    out = run("record", "export", "LL-7002", "--format", "json", "--out", str(target), env=env)
    assert out.returncode == 0, out.stderr
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
    assert json.loads(target.read_text())["case_ref"] == "LL-7002"
    assert [d["destination"] for _, _, d in exports(path, tmp_path)] == [str(target)]

    several = tmp_path / "several"
    several.mkdir()
    out = run("record", "export", CASE, "--format", "json", "--out", str(several / "one.json"), env=env)
    assert out.returncode == 2 and "2 signed-off records" in out.stderr and "folder" in out.stderr
    assert list(several.iterdir()) == [] and exports(path, several) == []
    with pytest.raises(UsageError, match="no folder"):
        _targets([_Signed(1)], Format.JSON, tmp_path / "missing" / "one.json", "X")


def test_without_out_the_files_go_to_the_current_folder(database, tmp_path):
    env, _ = database
    out = run("record", "export", CASE, "--format", "json", env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert len(list(tmp_path.glob("strategy-discussion-*.json"))) == 2


@pytest.mark.parametrize(
    ("reference", "message"),
    [("LL-9999", "no child with case reference 'LL-9999'"), ("LL-7001", "LL-7001 has no signed-off record")],
)
def test_an_unknown_reference_or_nothing_signed_off_exits_2(database, tmp_path, reference, message):
    env, path = database
    out = run("record", "export", reference, "--format", "json", "--out", str(tmp_path), env=env)
    assert out.returncode == 2 and message in out.stderr and out.stdout == ""
    assert list(tmp_path.iterdir()) == [] and exports(path, tmp_path) == []


class _Signed:
    """Just what `_targets` reads of a Signed."""

    def __init__(self, number: int) -> None:
        self.file_stem = f"strategy-discussion-X-d{number}-v1"
