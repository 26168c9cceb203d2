"""The export folder (RECORD_EXPORT_DIR): every signed-off record and amendment written there in
every format, atomically, through the outbox, so a process killed after the commit still writes it.

The outbox is drained by a fresh sender after each turn, as a restarted process's scheduler would:
the turns themselves send nothing, like a process killed straight after its commit. The playground's
surface is registered first, as in a real process, and takes every other card: the export card must
still reach the folder and nothing else.
"""

import asyncio
import json
import os
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import EXPORT_FORMATS, ConfigError, Settings, load_settings
from bot.delivery import DEDICATED, DeliveryError, Router
from bot.outbound import OutboxSender
from bot.playground.store import MessageStore, PlaygroundSurface
from bot.records import files, folder
from bot.records.folder import ExportFolder
from bot.records.formats import Format
from bot.services import Services
from bot.web import build_app
from dialogs.model import Card, Target, TargetKind
from dialogs.record_export import EXPORT_PLACE, export_cards, exported_version
from storage import claims
from storage.models import AuditEvent, Outbox, RecordVersion
from storage.types import utcnow
from tests import records
from tests.engine_helpers import make_driver
from tests.records import AMENDMENT, SPECIAL, TYPED
from tests.test_siblings import REFS, convene_siblings, decide_each, plan_and_sign

FORMATS = tuple(Format)
NAME = re.compile(r"strategy-discussion-LL-300[123]-d1-v[12]\.(docx|pdf|json)")


class Deployment:
    """A deployment with RECORD_EXPORT_DIR: the engine queues export cards; a sender drains them."""

    def __init__(self, db, drv, out: Path, formats=FORMATS) -> None:
        self.db, self.drv, self.out = db, drv, out
        drv.dialogs.export_records = True
        self.store = MessageStore(now=drv.clock.now)
        self.router = Router()
        self.router.add(PlaygroundSurface(self.store))  # would take any card, were it not dedicated
        self.router.add(ExportFolder(db, drv.dialogs, out, formats))

    async def restart_and_drain(self, **sender):
        """A new process (its own worker id) sends what the killed one left in the outbox."""
        worker = f"restarted-{os.urandom(3).hex()}"
        return await OutboxSender(self.db, self.router, worker_id=worker, **sender).drain()

    def files(self) -> set[str]:
        return {p.name for p in self.out.iterdir()}


async def sign_off_siblings(db, tmp_path, formats=FORMATS):
    drv = await make_driver(db)
    dep = Deployment(db, drv, tmp_path / "import", formats)
    dep.out.mkdir()
    did, kids = await convene_siblings(drv)
    await drv.reply("police", did, SPECIAL)
    await decide_each(drv, did, kids)
    await plan_and_sign(drv, did, kids)
    return dep, did


async def amend_eldest(dep, did: int) -> None:
    await records.amend_eldest(dep.drv, dep.db, did)


async def export_entries(db) -> list[AuditEvent]:
    async with db.read() as s:
        query = select(AuditEvent).where(AuditEvent.action == files.EXPORTED).order_by(AuditEvent.id)
        return list((await s.execute(query)).scalars())


def stems(refs_versions) -> set[str]:
    return {f"strategy-discussion-{r}-d1-v{v}.{f.value}" for r, v in refs_versions for f in FORMATS}


async def test_every_signed_off_record_and_amendment_is_written_in_every_format_after_a_restart(db, tmp_path):
    dep, did = await sign_off_siblings(db, tmp_path)
    assert dep.files() == set()  # the turn sent nothing: "killed" straight after its commit
    report = await dep.restart_and_drain()
    assert report.failed == 0
    assert dep.files() == stems((ref, 1) for ref in REFS)
    assert all(NAME.fullmatch(name) for name in dep.files())  # the case reference only, never a name
    assert EXPORT_PLACE not in dep.store.places  # the playground did not take the folder's cards
    for fmt, magic in ((Format.DOCX, b"PK"), (Format.PDF, b"%PDF"), (Format.JSON, b"{")):
        assert (dep.out / f"strategy-discussion-LL-3002-d1-v1.{fmt.value}").read_bytes().startswith(magic)
    eldest = json.loads((dep.out / "strategy-discussion-LL-3001-d1-v1.json").read_text())
    assert (eldest["case_ref"], eldest["version"]) == ("LL-3001", 1)
    assert [c["text"] for c in eldest["contributions"] if c["text"] == TYPED] == [TYPED]

    entries = await export_entries(db)
    assert len(entries) == 3 * len(FORMATS)
    assert {(e.actor, e.channel, e.discussion_id) for e in entries} == {("system", "export", did)}
    assert all(set(e.detail) == {"record_version_id", "version", "format", "destination"} for e in entries)
    assert {Path(e.detail["destination"]).name for e in entries} == dep.files()
    assert all(TYPED not in json.dumps(e.detail) for e in entries)

    # A second drain has nothing to do: no file is written again.
    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in dep.out.iterdir()}
    again = await dep.restart_and_drain()
    assert again.sent == 0 and again.failed == 0
    assert {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in dep.out.iterdir()} == before

    # The amendment is written as version 2, beside version 1; the siblings' records are untouched.
    await amend_eldest(dep, did)
    await dep.restart_and_drain()
    assert dep.files() == stems([*((ref, 1) for ref in REFS), ("LL-3001", 2)])
    amended = json.loads((dep.out / "strategy-discussion-LL-3001-d1-v2.json").read_text())
    assert amended["version"] == 2 and AMENDMENT in amended["versions"][1]["change"]
    assert len(await export_entries(db)) == 4 * len(FORMATS)
    assert not [n for n in dep.files() if n.startswith(".") or n.endswith(".tmp")]  # no temporary left


async def test_a_process_killed_while_writing_leaves_the_files_to_the_next_one(sqlite_db, tmp_path):
    """It had claimed the folder's cards and was writing the first file: its lease runs out, the next
    process writes every file, and the temporary file it left is removed when a process starts."""
    dep, did = await sign_off_siblings(sqlite_db, tmp_path, formats=(Format.JSON,))
    async with sqlite_db.session() as s:
        now = utcnow()
        claimed = await claims.claim_outbox_heads(
            s,
            worker="killed",
            real_now=now,
            lease_until=now + timedelta(seconds=0.5),
            limit=10,
            recipients={f"place:{EXPORT_PLACE}"},
        )
    assert len(claimed) == 1  # one lane: the folder's
    left = dep.out / ".strategy-discussion-LL-3001-d1-v1.json.k1ll3d.tmp"
    left.write_bytes(b'{"half": ')
    os.utime(left, (time.time() - 7200,) * 2)
    await dep.restart_and_drain()
    assert dep.files() == {left.name}  # the lease still holds: nothing written twice at once
    await asyncio.sleep(0.6)
    report = await dep.restart_and_drain()
    assert report.sent == 3 and dep.files() == {left.name} | {
        f"strategy-discussion-{r}-d1-v1.json" for r in REFS
    }
    services = Services.create(Settings(_env_file=None, record_export_dir=dep.out), sqlite_db)
    folder.attach(services)
    assert left.name not in dep.files() and len(dep.files()) == 3


async def test_a_folder_that_cannot_be_written_is_tried_again_and_holds_up_nothing_else(sqlite_db, tmp_path):
    dep, did = await sign_off_siblings(sqlite_db, tmp_path, formats=(Format.JSON,))
    dep.out.rmdir()  # the share is away
    report = await dep.restart_and_drain(backoff_base=0.01)
    assert report.retried >= 1 and report.failed == 0
    assert dep.store.threads[did].entries and dep.store.direct  # the discussion's messages went out
    async with sqlite_db.read() as s:
        lane = select(Outbox).where(Outbox.recipient_key == f"place:{EXPORT_PLACE}").order_by(Outbox.id)
        first, *rest = (await s.execute(lane)).scalars()
    assert (
        first.status == "pending"
        and first.attempts == report.retried
        and "RECORD_EXPORT_DIR" in first.last_error
    )
    assert [(r.status, r.attempts) for r in rest] == [("pending", 0)] * 2  # in order, behind the first
    dep.out.mkdir()
    await asyncio.sleep(0.05)
    report = await dep.restart_and_drain(backoff_base=0.01)
    assert report.sent == 3 and dep.files() == {f"strategy-discussion-{r}-d1-v1.json" for r in REFS}


async def test_a_version_amended_before_its_card_was_sent_is_written_as_it_was_signed(sqlite_db, tmp_path):
    """Both versions queued before any drain: each is written as it was signed (version 1 without the
    amendment, version 2 with it), since each version keeps its own content."""
    dep, did = await sign_off_siblings(sqlite_db, tmp_path, formats=(Format.JSON,))
    await amend_eldest(dep, did)
    report = await dep.restart_and_drain()
    assert report.failed == 0
    assert dep.files() == {
        "strategy-discussion-LL-3001-d1-v1.json",
        "strategy-discussion-LL-3001-d1-v2.json",
        "strategy-discussion-LL-3002-d1-v1.json",
        "strategy-discussion-LL-3003-d1-v1.json",
    }
    first, second = (
        json.loads((dep.out / f"strategy-discussion-LL-3001-d1-v{n}.json").read_text()) for n in (1, 2)
    )
    assert (first["version"], second["version"]) == (1, 2)
    assert [v["version"] for v in second["versions"]] == [1, 2]


async def test_without_the_setting_nothing_is_queued_and_no_surface_is_added(db, tmp_path):
    drv = await make_driver(db)  # Dialogs as built without RECORD_EXPORT_DIR
    assert drv.dialogs.export_records is False
    did, kids = await convene_siblings(drv)
    await decide_each(drv, did, kids)
    await plan_and_sign(drv, did, kids)
    async with db.read() as s:
        lanes = set((await s.execute(select(Outbox.recipient_key))).scalars())
        signed = list((await s.execute(select(RecordVersion))).scalars())
    assert len(signed) == 3 and f"place:{EXPORT_PLACE}" not in lanes
    assert export_cards(drv.dialogs, signed) == []

    unset = Services.create(Settings(_env_file=None), db)
    build_app(unset)
    assert not unset.dialogs.export_records and unset.router.get(folder.NAME) is None
    out = tmp_path / "import"
    out.mkdir()
    on = Services.create(Settings(_env_file=None, record_export_dir=out, record_export_formats="json"), db)
    folder.attach(on)  # as build_app does
    surface = on.router.get(folder.NAME)
    assert (
        on.dialogs.export_records and isinstance(surface, ExportFolder) and surface.formats == (Format.JSON,)
    )


def test_the_settings_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="RECORD_EXPORT_DIR"):
        load_settings(_env_file=None, record_export_dir=tmp_path / "missing")
    with pytest.raises(ConfigError, match="RECORD_EXPORT_FORMATS"):
        load_settings(_env_file=None, record_export_formats="docx,xls")
    settings = load_settings(
        _env_file=None, record_export_dir=tmp_path, record_export_formats=" PDF, json,pdf"
    )
    assert settings.export_formats == ("pdf", "json") and settings.record_export_dir == tmp_path.resolve()
    assert set(EXPORT_FORMATS) == {f.value for f in Format}


async def test_the_folders_card_goes_to_the_folder_or_waits_never_to_a_chat(sqlite_db, tmp_path):
    class Chat:
        """Like Teams: takes any card its own turns queued."""

        name = "teams"
        delivered: list[Card] = []

        async def can_reach(self, card, origin=None):
            return True

        async def deliver(self, card, origin=None):
            self.delivered.append(card)

    card = Card(Target(TargetKind.CHANNEL, place=EXPORT_PLACE), "Record", facts=(("record version", "7"),))
    assert exported_version(card) == 7 and DEDICATED[EXPORT_PLACE] == folder.NAME
    router = Router([Chat()])
    assert await router.surface_for(card, origin={"surface": "teams"}) is None
    sender = OutboxSender(sqlite_db, router, worker_id="w")
    with pytest.raises(DeliveryError) as refused:
        await sender.deliver(card, {"surface": "teams"}, wait=False)
    assert refused.value.retryable  # waits for a process that keeps the folder
    assert Chat.delivered == []


def test_a_file_appears_whole_or_not_at_all(tmp_path, monkeypatch):
    target = tmp_path / "strategy-discussion-LL-1-d1-v1.json"
    target.write_bytes(b"old")
    seen = []
    real_replace = os.replace

    def replace(src, dst):
        # At the rename the temporary file is complete, synced, in the same folder, with its mode set.
        seen.append(
            (Path(src).parent, Path(src).read_bytes(), Path(dst).read_bytes(), Path(src).stat().st_mode)
        )
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    files.write_atomic(target, b"new whole file")
    assert target.read_bytes() == b"new whole file"
    ((folder_, tmp_data, old_data, mode),) = seen
    assert folder_ == tmp_path and tmp_data == b"new whole file" and old_data == b"old"
    assert mode & 0o777 == files.FILE_MODE

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        files.write_atomic(target, b"half")
    assert target.read_bytes() == b"new whole file"  # the old file stands; nothing half-written
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # and no temporary file is left
