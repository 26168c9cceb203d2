"""Signed-off records read back outside a turn (the export command, the export folder, downloads).

What is exported is a version as it was signed (`seal` keeps its typed content at signing), with
today's circulation and every version listed (record_model.Record.versions): an amendment is a new
version, and the case-management system takes the newest. Versions signed before migration 0010 kept
no content and are rebuilt from the database as it stands.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dialogs import record_build
from dialogs.engine import Ctx, Dialogs
from dialogs.model import Actor, Card, Target, TargetKind, Turn, TurnKind
from dialogs.record_json import ADAPTER
from dialogs.record_model import Record
from storage.models import Child, Discussion, RecordVersion

SYSTEM = Actor(person_id=0, name="system", agency="", role="")
EXPORT_PLACE = "record_export"  # the CHANNEL place of the export folder (bot/records/folder.py)
_VERSION_FACT = "record version"


@dataclass(frozen=True)
class Signed:
    """A child's latest signed-off record version, and the record built from it."""

    version: RecordVersion
    record: Record

    @property
    def file_stem(self) -> str:
        """A file name with the case reference, discussion and version: never a child's name."""
        r = self.record
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in r.case_ref)
        return f"strategy-discussion-{safe}-d{r.discussion_number}-v{r.version}"


async def seal(ctx: Ctx, child: Child, version: RecordVersion, change: str) -> None:
    """Keeps the record as `version` signs it (its typed content, and what the version changed), so its
    files say what the chair signed whatever happens later. `version` must be flushed (an id)."""
    version.change = change
    record = await record_build.build(ctx, child, version)
    version.content = ADAPTER.dump_python(record, mode="json")


async def signed(dialogs: Dialogs, session: AsyncSession, version: RecordVersion) -> Signed:
    """The record of `version` as it was signed, with today's circulation (who has it, who
    acknowledged) and list of versions. A version signed before its content was kept (migration
    0010) is rebuilt from the database as it stands."""
    child = await session.get(Child, version.child_id)
    discussion = await session.get(Discussion, version.discussion_id)
    assert child is not None and discussion is not None  # foreign keys
    ctx = Ctx(dialogs, session, Turn(actor=SYSTEM, kind=TurnKind.COMMAND, channel="export"), dialogs.now())
    ctx.switch(discussion)
    if version.content is None:
        return Signed(version, await record_build.build(ctx, child, version))
    as_signed = ADAPTER.validate_python(version.content)
    versions, circulation = await record_build.since_signing(ctx, child)
    return Signed(version, replace(as_signed, versions=versions, circulation=circulation))


def newest_signed(*where: ColumnElement[bool]) -> Select[int | None]:
    """The id of each child's newest signed-off record version among those `where` selects."""
    return (
        select(func.max(col(RecordVersion.id)))
        .where(col(RecordVersion.signed_off_at).is_not(None), *where)
        .group_by(col(RecordVersion.child_id))
    )


async def latest_for(dialogs: Dialogs, session: AsyncSession, case_ref: str) -> list[Signed]:
    """The latest signed-off record of each discussion about the child with `case_ref`, oldest first."""
    named = select(col(Child.id)).where(func.lower(col(Child.case_ref)) == case_ref.lower())
    newest = newest_signed(col(RecordVersion.child_id).in_(named))
    query = select(RecordVersion).where(col(RecordVersion.id).in_(newest)).order_by(col(RecordVersion.id))
    return [await signed(dialogs, session, v) for v in (await session.execute(query)).scalars()]


def export_cards(dialogs: Dialogs, versions: Iterable[RecordVersion]) -> list[Card]:
    """A card per newly signed-off version for the export folder, queued in the signing turn so a
    crash after the commit still writes the files; none when the deployment keeps no folder.

    It holds the version's id only (no case text waits in the outbox), and no discussion: its lane is
    the folder's own, so it never holds up the discussion's messages nor falls back to its thread."""
    if not dialogs.export_records:
        return []
    return [
        Card(
            target=Target(TargetKind.CHANNEL, place=EXPORT_PLACE),
            title="Record for the export folder",
            facts=((_VERSION_FACT, str(v.id)),),
        )
        for v in versions
    ]


def exported_version(card: Card) -> int | None:
    """The record version id an export card names (None: not an export card)."""
    if card.target.kind != TargetKind.CHANNEL or card.target.place != EXPORT_PLACE:
        return None
    value = dict(card.facts).get(_VERSION_FACT, "")
    return int(value) if value.isdigit() else None
