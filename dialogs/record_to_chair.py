"""The signed-off records' files for the chair: one card, queued in the sign-off turn's transaction,
that each surface's `deliver` turns into files in the chair's direct messages (Slack: uploaded as
DOCX and PDF; Teams: links the bot serves). Nothing else is in the card but the record versions' ids
and case references, so no case text waits in the outbox.

The card is DIRECT to the chair with no discussion on its target: its lane is the chair's own
(`person:<id>`), so rendering and uploading files (or waiting to try again) never holds up the
discussion's post and thread, and a chair the bot cannot message is told so rather than the files
(or links to them) going to the discussion's thread, whose fallback needs a discussion.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dialogs.model import Card, Target, TargetKind
from dialogs.quorum import PRESENT
from storage.models import Child, Circulation, Discussion, Participant, RecordVersion

KEY_PREFIX = "record_files:"  # the card's key: "record_files:<version id>,<version id>,..."
VERSION_FACT = "record version"  # one fact per record: (VERSION_FACT, "<version id>")


def files_card(chair_id: int, signed: Sequence[tuple[Child, RecordVersion]]) -> Card:
    """The card asking for each child's newly signed-off record to reach the chair as files."""
    refs = ", ".join(dict.fromkeys(child.case_ref for child, _ in signed))
    ids = [str(version.id) for _, version in signed]
    many = len(signed) > 1
    return Card(
        target=Target(TargetKind.DIRECT, person_id=chair_id),
        title=f"Signed-off record files: {refs}",
        text=(
            f"The signed-off record{'s, one per child,' if many else ''} as DOCX and PDF, "
            "for the case-management system."
        ),
        facts=tuple((VERSION_FACT, i) for i in ids),
        key=KEY_PREFIX + ",".join(ids),
        preview=f"{refs}: record files",
    )


def version_ids(card: Card) -> tuple[int, ...] | None:
    """The record versions a files card names, in order; None when the card is not one."""
    if card.target.kind != TargetKind.DIRECT or not (card.key or "").startswith(KEY_PREFIX):
        return None
    return tuple(int(value) for label, value in card.facts if label == VERSION_FACT and value.isdigit())


async def may_see(session: AsyncSession, person_id: int, version: RecordVersion) -> bool:
    """Whether the person may see this record: the discussion's chair, someone who took part in it,
    or someone a version of this child's record was circulated to (not the outcome alone)."""
    discussion = await session.get(Discussion, version.discussion_id)
    if discussion is None:
        return False
    if discussion.chair_id == person_id:
        return True
    status = (
        await session.execute(
            select(col(Participant.status)).where(
                col(Participant.discussion_id) == version.discussion_id,
                col(Participant.person_id) == person_id,
            )
        )
    ).scalar()
    if status in PRESENT:
        return True
    circulated = (
        select(col(Circulation.id))
        .join(RecordVersion, col(RecordVersion.id) == col(Circulation.record_id))
        .where(
            col(RecordVersion.child_id) == version.child_id,
            col(Circulation.person_id) == person_id,
            col(Circulation.kind) == "record",
        )
        .limit(1)
    )
    return (await session.execute(circulated)).first() is not None
