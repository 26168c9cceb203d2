"""What the Slack surface keeps with storage.refs: where each discussion lives, so replies in its
thread map back to it and the scheduler can deliver later.

Each read or write is a short session of its own, never spanning a Web API call (on SQLite a session
holds the write lock).
"""

from storage import refs
from storage.db import Database
from storage.models import ConversationRef

PLATFORM = "slack"
# ConversationRef kinds used by this surface.
POST = "discussion_post"  # the pinned summary: {"team", "channel", "ts", "private", "invited", ...}
THREAD = "thread"  # key "channel:ts" -> the discussion whose thread it is
CARD = "card"  # a keyed card's message, so the same key updates it: {"channel", "ts"}
HELD = "held"  # details held back by the guard, posted once the channel is safe
CONFIRMED = "guard_ok"  # an external professional the chair vouched for


class Refs:
    """The Slack references, by kind."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def find(self, kind: str, discussion_id: int) -> ConversationRef | None:
        async with self.db.read() as s:
            return await refs.find_ref(s, platform=PLATFORM, kind=kind, discussion_id=discussion_id)

    async def by_key(self, kind: str, key: str) -> ConversationRef | None:
        async with self.db.read() as s:
            return await refs.find_by_key(s, platform=PLATFORM, kind=kind, key=key)

    async def save(
        self,
        kind: str,
        key: str,
        reference: dict,
        *,
        discussion_id: int | None = None,
        person_id: int | None = None,
    ) -> ConversationRef:
        async with self.db.session() as s:
            return await refs.save_ref(
                s,
                platform=PLATFORM,
                kind=kind,
                key=key,
                reference=reference,
                discussion_id=discussion_id,
                person_id=person_id,
            )

    async def delete(self, ref_id: int) -> None:
        async with self.db.session() as s:
            row = await s.get(ConversationRef, ref_id)
            if row is not None:
                await s.delete(row)

    async def start_held(self, discussion_id: int, reference: dict) -> ConversationRef:
        """Start the discussion's list of cards held back by the guard, with where it is posted."""
        return await self.save(
            HELD, f"{discussion_id}", reference | {"thread": []}, discussion_id=discussion_id
        )

    async def save_posted(self, discussion_id: int, channel: str, ts: str, reference: dict) -> None:
        """The summary is in the channel at last: it is the discussion's post, and its thread the
        discussion's thread (saved together, so replies never arrive for a post we do not know)."""
        key = f"{channel}:{ts}"
        async with self.db.session() as s:
            await refs.save_ref(
                s, platform=PLATFORM, kind=POST, key=key, reference=reference, discussion_id=discussion_id
            )
            await refs.save_ref(
                s,
                platform=PLATFORM,
                kind=THREAD,
                key=key,
                reference={"channel": channel, "ts": ts},
                discussion_id=discussion_id,
            )
