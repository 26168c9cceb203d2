"""Personal chats: a person's 1:1 chat with the bot (opened with createConversation the first time,
then kept as ref kind "person"), and what happens when one cannot be used: the message goes to the
discussion's thread with an @mention, and someone is told (Redirected)."""

from dataclasses import dataclass

from bot.delivery import DeliveryError
from bot.teams import people
from bot.teams.conversations import PLATFORM, Origin, Place, place_for
from bot.teams.sending import Sender
from dialogs.model import Card, Target, TargetKind
from storage import refs
from storage.db import Database
from storage.models import Discussion


@dataclass(frozen=True)
class Redirected:
    """A message that went to the discussion's thread because the person's private chat failed."""

    person_id: int
    discussion_id: int
    reason: str
    mentioned: bool = True  # False: not delivered at all
    about: str = ""  # the card's preview: what the message was about (case reference and deadline only)


async def open_chat(db: Database, sender: Sender, person_id: int, actor: Origin | None) -> Place:
    """The person's chat with the bot: the one kept, else a new one. `actor`: the turn being
    answered, when the person is the one acting (then known by their Teams id even if the directory
    has none yet)."""
    async with db.session() as session:
        found = await place_for(session, "person", person_id=person_id)
        name = await people.display_name(session, person_id)
        user = await people.teams_user(session, person_id)
    if found is not None:
        return found[0]
    if actor is not None:
        user = (actor.user_id, actor.place.tenant_id)
    if user is None:
        raise DeliveryError(
            f"I could not write to {name}: they have no Teams identity in the directory yet "
            "(they can open the Strategy discussion app once, or an administrator can add their "
            "Teams id)",
            retryable=False,
        )
    user_id, tenant = user
    conversation = await sender.open_personal_chat(user_id, where=f"{name}'s private chat")
    place = Place(
        service_url=sender.service_url,
        conversation_id=conversation,
        conversation_type="personal",
        tenant_id=tenant or sender.tenant_id,
        bot_id=sender.bot_id,
    )
    async with db.session() as session:
        await refs.save_ref(
            session,
            platform=PLATFORM,
            kind="person",
            key=conversation,
            reference=place.reference() | {"user_id": user_id},
            person_id=person_id,
        )
    return place


async def thread_mention(db: Database, card: Card, person_id: int) -> tuple[Card, tuple[str, str]] | None:
    """The card as a post in its discussion's thread and the @mention of the person (user id, name);
    None if there is nobody to mention, or no shared thread to mention them in."""
    async with db.session() as session:
        user = await people.teams_user(session, person_id)
        name = await people.display_name(session, person_id)
        has_thread = await place_for(session, "thread", discussion_id=card.target.discussion_id)
    if user is None or has_thread is None or has_thread[0].is_personal:
        return None
    in_thread = Card(
        target=Target(TargetKind.THREAD, discussion_id=card.target.discussion_id, person_id=person_id),
        title=card.title,
        text=card.text,
        facts=card.facts,
        buttons=card.buttons,
        key=card.key,
        preview=card.preview or "a message about this strategy discussion",
    )
    return in_thread, (user[0], name)


async def redirect_notice(db: Database, r: Redirected, to: int | None) -> Card | None:
    """Telling someone (`to`, else the discussion's chair) that a message missed a private chat;
    None if there is nobody else to tell."""
    async with db.session() as session:
        d = await session.get(Discussion, r.discussion_id)
        name = await people.display_name(session, r.person_id)
    recipient = to if to is not None else (d.chair_id if d else None)
    if recipient is None or recipient == r.person_id:
        return None
    where = f"the thread of {d.case_ref}" if d else "the discussion's thread"
    then = (
        f"I @mentioned {name} in {where} instead."
        if r.mentioned
        else f"Please let {name} know, or ask them to open the Strategy discussion app in Teams once."
    )
    return Card(
        target=Target(TargetKind.DIRECT, person_id=recipient),
        title=f"Not delivered privately to {name}",
        text=(f"The message: {r.about}.\n\n" if r.about else "") + f"{r.reason}. {then}",
        preview=f"{d.case_ref}: a message did not reach {name}" if d else "",
    )
