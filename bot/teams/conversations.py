"""Where the bot talks in Teams: the place an activity came from (and the turn it started, being
answered), and the references kept for later.

Stored references (storage.refs, platform "teams"), so reminders and direct messages can be sent
long after the conversation that made them possible:

- "channel": a team channel or group chat the bot is in (key: its conversation id)
- "person": a person's 1:1 chat with the bot (key: its conversation id; person_id set)
- "discussion_post": a discussion's main post (key: `{channel id};messageid={post id}`)
- "thread": where a discussion's thread replies go (key: the conversation id replies arrive with)
- "card": a keyed card already sent, so the next card with the same key updates it in place
- "withheld": a thread card held back by the guard, posted once everyone present is taking part
"""

from dataclasses import asdict, dataclass
from typing import Any

from microsoft_agents.activity import Activity, ChannelAccount, ConversationAccount, ConversationReference
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import refs
from storage.models import ConversationRef

PLATFORM = "teams"
THREAD_MARK = ";messageid="


@dataclass(frozen=True)
class Place:
    """A Teams conversation, and how to write to it."""

    service_url: str
    conversation_id: str  # as Teams gives it: a channel thread's id ends with ;messageid={root id}
    conversation_type: str = "personal"  # personal | channel | groupChat
    tenant_id: str = ""
    team_id: str = ""
    bot_id: str = ""
    channel_id: str = "msteams"

    @property
    def base_id(self) -> str:
        """The channel or chat itself, without the thread part."""
        return self.conversation_id.split(THREAD_MARK, 1)[0]

    @property
    def root_id(self) -> str:
        """The id of the post whose thread this is ("" outside channel threads)."""
        return self.conversation_id.split(THREAD_MARK, 1)[1] if THREAD_MARK in self.conversation_id else ""

    @property
    def is_personal(self) -> bool:
        return self.conversation_type == "personal"

    def thread(self, root_id: str) -> "Place":
        return Place(**(self.reference() | {"conversation_id": f"{self.base_id}{THREAD_MARK}{root_id}"}))

    def elsewhere(self, conversation_id: str, conversation_type: str) -> "Place":
        """Another conversation through the same service and tenant."""
        return Place(
            **(
                self.reference()
                | {"conversation_id": conversation_id, "conversation_type": conversation_type}
            )
        )

    def reference(self) -> dict:
        return {
            "service_url": self.service_url,
            "conversation_id": self.conversation_id,
            "conversation_type": self.conversation_type,
            "tenant_id": self.tenant_id,
            "team_id": self.team_id,
            "bot_id": self.bot_id,
            "channel_id": self.channel_id,
        }

    @classmethod
    def from_reference(cls, reference: dict) -> "Place":
        return cls(
            **{k: str(reference.get(k) or "") for k in cls.__dataclass_fields__}
            | {
                "channel_id": str(reference.get("channel_id") or "msteams"),
                "conversation_type": str(reference.get("conversation_type") or "channel"),
            }
        )

    def continuation(self) -> Activity:
        """The activity that opens a proactive turn in this conversation (SDK continue_conversation)."""
        return ConversationReference(
            channel_id=self.channel_id,
            service_url=self.service_url,
            conversation=ConversationAccount(
                id=self.conversation_id,
                conversation_type=self.conversation_type,
                tenant_id=self.tenant_id or None,
                is_group=not self.is_personal,
            ),
            agent=ChannelAccount(id=self.bot_id) if self.bot_id else None,
        ).get_continuation_activity()


@dataclass
class Origin:
    """The inbound turn being answered."""

    place: Place
    user_id: str  # the actor's Teams user id (29:...)
    person_id: int
    form_origin: str = ""  # the channel a submitted form was asked for in

    def to_dict(self) -> dict[str, Any]:
        """As Turn.origin: stored with the turn's queued cards (bot.teams.surface reads it back)."""
        return {"surface": PLATFORM, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Origin":
        return cls(
            place=Place(**data["place"]),
            user_id=data.get("user_id", ""),
            person_id=int(data["person_id"]),
            form_origin=data.get("form_origin", ""),
        )


def place_of(activity: Activity) -> Place:
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    conversation = activity.conversation
    tenant = _id(data.get("tenant")) or (conversation.tenant_id or "")
    kind = conversation.conversation_type or ("groupChat" if conversation.is_group else "personal")
    return Place(
        service_url=activity.service_url or "",
        conversation_id=conversation.id,
        conversation_type=kind,
        tenant_id=tenant,
        team_id=_id(data.get("team")),
        bot_id=activity.recipient.id if activity.recipient else "",
        channel_id=str(activity.channel_id or "msteams"),
    )


def _id(value) -> str:
    return str(value.get("id") or "") if isinstance(value, dict) else ""


async def remember(
    session: AsyncSession, place: Place, *, user_id: str = "", person_id: int | None = None
) -> None:
    """Keep a reference to the conversation, so the bot can write there later."""
    if place.is_personal:
        reference = place.reference() | {"user_id": user_id}
        await refs.save_ref(
            session,
            platform=PLATFORM,
            kind="person",
            key=place.base_id,
            reference=reference,
            person_id=person_id,
        )
    else:
        reference = place.reference() | {"conversation_id": place.base_id}
        await refs.save_ref(
            session, platform=PLATFORM, kind="channel", key=place.base_id, reference=reference
        )


async def place_for(session: AsyncSession, kind: str, **where) -> tuple[Place, dict] | None:
    """The stored place of a kind for a discussion or person, with its full reference."""
    ref = await refs.find_ref(session, platform=PLATFORM, kind=kind, **where)
    if ref is None:
        return None
    return Place.from_reference(ref.reference), ref.reference


async def place_by_key(session: AsyncSession, kind: str, key: str) -> tuple[Place, dict] | None:
    ref = await refs.find_by_key(session, platform=PLATFORM, kind=kind, key=key)
    if ref is None:
        return None
    return Place.from_reference(ref.reference), ref.reference


async def any_place(session: AsyncSession, tenant_id: str = "") -> Place | None:
    """Some conversation in the tenant: its service URL serves every conversation there."""
    query = (
        select(ConversationRef)
        .where(ConversationRef.platform == PLATFORM, ConversationRef.kind.in_(("channel", "person")))
        .order_by(ConversationRef.updated_at.desc())
    )
    for ref in (await session.execute(query)).scalars():
        place = Place.from_reference(ref.reference)
        if place.service_url and (not tenant_id or place.tenant_id in ("", tenant_id)):
            return place
    return None
