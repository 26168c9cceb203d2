"""Which Teams conversation a card goes to: the one a proactive turn opens in, the configured duty
and out-of-hours channels, where a new discussion is posted, and where its post and thread are kept
(storage.refs) once it is."""

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.delivery import DeliveryError
from bot.teams import people
from bot.teams.conversations import PLATFORM, THREAD_MARK, Origin, Place, any_place, place_by_key, place_for
from dialogs.model import Card, TargetKind
from storage import refs
from storage.db import Database


async def route(db: Database, settings: Settings, card: Card) -> Place | None:
    """The conversation a proactive turn for this card opens in (any one with the right service URL)."""
    t = card.target
    async with db.read() as session:
        if t.kind == TargetKind.MAIN_POST:
            found = await place_for(session, "discussion_post", discussion_id=t.discussion_id)
            return found[0] if found else await channel_place(session, settings, "duty")
        if t.kind == TargetKind.THREAD:
            found = await place_for(session, "thread", discussion_id=t.discussion_id)
            return found[0] if found else None
        if t.kind in (TargetKind.DIRECT, TargetKind.EPHEMERAL) and t.person_id is not None:
            found = await place_for(session, "person", person_id=t.person_id)
            if found:
                return found[0]
            user = await people.teams_user(session, t.person_id)
            return await any_place(session, user[1]) if user else None
        if t.kind == TargetKind.CHANNEL and t.place:
            return await channel_place(session, settings, t.place)
    return None


async def channel_place(session: AsyncSession, settings: Settings, name: str) -> Place | None:
    """The configured duty or out-of-hours channel, if the bot knows how to write there."""
    channel_id = {
        "duty": settings.teams_duty_channel_id,
        "out_of_hours": settings.teams_out_of_hours_channel_id,
    }.get(name)
    if not channel_id:
        return None
    found = await place_by_key(session, "channel", channel_id)
    if found:
        return found[0]
    known = await any_place(session)
    return known.elsewhere(channel_id, "channel") if known else None


async def new_post_place(db: Database, settings: Settings, origin: Origin | None) -> Place:
    """Where a new discussion is posted: the channel it was asked for in, else the duty channel."""
    async with db.session() as session:
        if origin is not None and origin.form_origin:
            found = await place_by_key(session, "channel", origin.form_origin)
            if found:
                return found[0]
        if origin is not None and not origin.place.is_personal:
            return origin.place.elsewhere(origin.place.base_id, origin.place.conversation_type)
        duty = await channel_place(session, settings, "duty")
    if duty is not None:
        return duty
    if origin is not None:
        return origin.place
    raise DeliveryError("there is no Teams channel to post the discussion in", retryable=False)


async def remember_post(db: Database, did: int, place: Place, root: str, *, neutral: bool) -> None:
    """Keep the discussion's new post, and the conversation its thread replies arrive in."""
    base = place.base_id
    if place.conversation_type == "channel":
        key = f"{base}{THREAD_MARK}{root}"
        thread_key, thread_conversation = key, key
    elif place.conversation_type == "groupChat":  # no threads: the chat is the thread
        key, thread_key, thread_conversation = f"{base}|{root}", base, base
    else:  # a personal chat: replies there are commands, so no thread key that replies arrive with
        key, thread_key, thread_conversation = f"{base}|{root}", f"personal|{base}|{did}", base
    post = place.reference() | {"conversation_id": base, "activity_id": root, "neutral": neutral}
    thread = place.reference() | {"conversation_id": thread_conversation}
    async with db.session() as session:
        await refs.save_ref(
            session, platform=PLATFORM, kind="discussion_post", key=key, reference=post, discussion_id=did
        )
        await refs.save_ref(
            session, platform=PLATFORM, kind="thread", key=thread_key, reference=thread, discussion_id=did
        )
