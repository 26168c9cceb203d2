"""The export folder (RECORD_EXPORT_DIR): every signed-off record version written there, for a
case-management system's import, as a `Surface` of the outbox.

Why the outbox: the sign-off and the amendment queue a card for the folder (dialogs.record_export.
export_cards) in their own transaction, so a process killed after the commit writes the files when
it (or another) drains the outbox again, and a drain after they are written has nothing left to do.
The card names the record version only; the record is built from the database when it is written.

Each file is written atomically (bot.records.files.write_atomic) and audited (actor "system",
channel "export"). A failure to write (a full disk, a share away) is retried by the outbox with
back-off, holding up only the folder's own lane. A version that a later one has replaced by the time
its card is sent (a backlog, a restart between the two) is not written: the record is built as the
database holds it now, so its file would carry the amendment under the old number; the newer
version's own card writes it, listing every version.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from sqlmodel import col

from bot.delivery import DeliveryError
from bot.records import files
from bot.records.formats import Format
from dialogs.engine import Dialogs
from dialogs.model import Card
from dialogs.record_export import exported_version, newest_signed, signed
from storage.db import Database
from storage.models import RecordVersion

log = logging.getLogger(__name__)

NAME = "export"  # bot.delivery.DEDICATED: the only surface the folder's cards go to


def configured(settings) -> bool:
    return settings.record_export_dir is not None


def attach(services) -> None:
    """Add the folder's surface to the process's router, when the deployment keeps a folder."""
    settings = services.settings
    if configured(settings):
        formats = tuple(Format(f) for f in settings.export_formats)
        services.router.add(ExportFolder(services.db, services.dialogs, settings.record_export_dir, formats))
        removed = files.remove_stale_temporaries(settings.record_export_dir)  # a killed process's
        if removed:
            log.info("export: removed %d temporary file(s) left by a stopped process", removed)


class ExportFolder:
    name = NAME

    def __init__(self, db: Database, dialogs: Dialogs, folder: Path, formats: tuple[Format, ...]) -> None:
        self.db, self.dialogs, self.folder, self.formats = db, dialogs, folder, formats

    async def can_reach(self, card: Card) -> bool:
        return exported_version(card) is not None

    async def deliver(self, card: Card) -> None:
        version_id = exported_version(card)
        if version_id is None:
            raise DeliveryError("export: not a record export card", retryable=False)
        async with self.db.read() as session:
            version = await session.get(RecordVersion, version_id)
            if version is None:
                raise DeliveryError(f"export: no record version {version_id}", retryable=False)
            # A version signed before its content was kept is rebuilt from today's data: written as
            # its newer version only. A version kept as signed is written as it is.
            if version.content is None and await _superseded(session, version):
                log.info("export: record version %s was amended before it was written; skipped", version_id)
                return
            record = await signed(self.dialogs, session, version)
        written: list[tuple[Format, Path]] = []
        try:
            for fmt in self.formats:  # rendering is CPU work: off the event loop
                path = self.folder / files.file_name(record, fmt)
                written.append((fmt, await asyncio.to_thread(files.write, record, fmt, path)))
        except OSError as exc:  # the folder is full, read-only or away: try again later
            raise DeliveryError(
                f"export: cannot write to RECORD_EXPORT_DIR ({exc.strerror or type(exc).__name__})",
                retryable=True,
            ) from exc
        except Exception as exc:  # cannot render (a broken council template): trying again will not help
            raise DeliveryError(
                f"export: cannot render the record ({type(exc).__name__})", retryable=False
            ) from exc
        finally:  # each file written is audited, even when a later one failed (it is written again)
            if written:
                async with self.db.session() as session:
                    for fmt, path in written:
                        await files.audit_export(
                            session, record, fmt, str(path), actor="system", channel="export"
                        )


async def _superseded(session, version: RecordVersion) -> bool:
    """Whether a later signed-off version of the same child's record exists."""
    newest = newest_signed(col(RecordVersion.child_id) == version.child_id)
    return ((await session.execute(newest)).scalar() or 0) > (version.id or 0)
