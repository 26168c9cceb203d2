"""The signed-off records to the chair's direct messages, as files: what the Slack and Teams surfaces
share when they deliver a files card (dialogs.record_to_chair).

- Which files: each record version the card names, as DOCX and PDF (`FORMATS`), built from the
  database when it is sent (`load`) and rendered in a thread (`render`), named by the case reference,
  the discussion's number and the version only (bot.records.files.file_name).
- Exactly once: each child's files (Slack) or the card's links (Teams) are sent, then kept as a
  reference under a key of their own (`sent`), in one transaction with the audit entry of each file
  (`mark_sent`). A send the outbox tries again, after a failure part way (the second child's upload
  refused) or after a crash between the platform's answer and the row being marked sent, finds what
  was already sent and sends the rest only. What is left is the platform call itself: a process
  killed after the platform accepted a file and before the reference was committed (milliseconds)
  sends that file again, the outbox's one window (bot.outbound).
- Audited: one `record.exported` entry per file (bot.records.files.audit_export): the record version,
  the format and where (`slack-dm`, `teams-link`), with the person it went to; no case text.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from sqlmodel import col

from bot.delivery import DeliveryError
from bot.records import files
from bot.records.formats import Format, render
from dialogs.engine import Dialogs
from dialogs.record_export import Signed, newest_signed, signed
from storage import refs
from storage.db import Database
from storage.models import RecordVersion

log = logging.getLogger(__name__)

FORMATS = (Format.DOCX, Format.PDF)  # what the chair gets of each record
REF_KIND = "record_files"  # storage.refs kind of what was sent, per platform


@dataclass(frozen=True)
class File:
    fmt: Format
    name: str  # case reference, discussion number and version: never a name
    data: bytes


class ChairRecords:
    """Loading, rendering and recording the files of the records sent to a chair."""

    def __init__(self, db: Database, dialogs: Dialogs, formats: tuple[Format, ...] | None = None) -> None:
        self.db, self.dialogs = db, dialogs
        self._formats = formats

    @property
    def formats(self) -> tuple[Format, ...]:
        return self._formats if self._formats is not None else FORMATS

    async def load(self, version_id: int) -> Signed | None:
        """The record of the named version's child, as signed off: the newest signed-off version of that
        child's record if an amendment came before the files were sent (the files carry what the
        database holds, under that version's number). None if there is no such signed-off record."""
        async with self.db.read() as session:
            version = await session.get(RecordVersion, version_id)
            if version is None or version.signed_off_at is None:
                return None
            newest_id = (
                await session.execute(newest_signed(col(RecordVersion.child_id) == version.child_id))
            ).scalar_one()
            newest = await session.get(RecordVersion, newest_id)
            assert newest is not None  # the id was just read
            return await signed(self.dialogs, session, newest)

    async def render(self, record: Signed, formats: tuple[Format, ...] | None = None) -> list[File]:
        """The record in each format (the chair's, unless given), rendered in a thread: DOCX and PDF
        take CPU time the event loop (Slack's 3-second acknowledgements) must not wait for."""
        out = []
        for fmt in formats or self.formats:
            try:
                data = await asyncio.to_thread(render, record.record, fmt)
            except Exception as exc:  # a broken council template, no Pango: trying again will not help,
                # and waiting would hold up the chair's reminders in the same lane
                raise DeliveryError(
                    f"record files: cannot render {fmt} ({type(exc).__name__})", retryable=False
                ) from exc
            out.append(File(fmt, files.file_name(record, fmt), data))
        return out

    async def sent(self, platform: str, key: str) -> bool:
        """Whether what `key` names was already sent on `platform`."""
        async with self.db.read() as session:
            return await refs.find_by_key(session, platform=platform, kind=REF_KIND, key=key) is not None

    async def mark_sent(
        self,
        platform: str,
        key: str,
        reference: dict[str, Any],
        exported: list[tuple[Signed, Format]],
        *,
        where: str,
        person_id: int,
    ) -> None:
        """Keep that `key` was sent, with an audit entry per file, in one transaction."""
        async with self.db.session() as session:
            await refs.save_ref(
                session, platform=platform, kind=REF_KIND, key=key, reference=reference, person_id=person_id
            )
            for record, fmt in exported:
                await files.audit_export(
                    session, record, fmt, where, actor=f"person:{person_id}", channel=platform
                )


def sent_key(card_key: str, person_id: int, version_id: int | None = None) -> str:
    """The reference key of one send to one person: a whole card (Teams' links, and a figures file,
    bot.reports.to_person), or one record version's files of it (Slack)."""
    key = f"{person_id}:{card_key}" if version_id is None else f"{person_id}:{card_key}:{version_id}"
    return key if len(key) <= 300 else f"{person_id}:{hashlib.sha256(key.encode()).hexdigest()}"
