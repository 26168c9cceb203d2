"""Cards as Teams messages, and keyed cards updated in place: a card with a key becomes a message
whose conversation and activity id are kept (ref kind "card", per scope: a thread, a person's chat,
a configured channel), so the next card with the same key edits it."""

from sqlalchemy.ext.asyncio import AsyncSession

from bot.teams import cards as ac
from bot.teams.conversations import PLATFORM, Place
from bot.teams.sending import Sender, TeamsDeliveryError, card_activity
from dialogs.model import Card
from storage import refs
from storage.db import Database


async def post_keyed(
    db: Database,
    sender: Sender,
    place: Place,
    card: Card,
    *,
    scope: str,
    where: str,
    form_origin: str = "",
    mention: tuple[str, str] | None = None,
) -> None:
    """Post the card in the place, or update the message an earlier card with its key became.

    `form_origin`: the channel the turn's form was asked for in; a form remembers it, so the
    discussion it convenes is posted there.
    """
    conversation = place.conversation_id
    if card.key:
        async with db.session() as session:
            found = await refs.find_by_key(session, platform=PLATFORM, kind="card", key=f"{scope}:{card.key}")
            previous = dict(found.reference) if found else None
        activity = card_activity(ac.fit_one(card, origin=form_origin), summary=card.preview, mention=mention)
        if previous and previous.get("conversation_id") == conversation:
            try:
                await sender.update(conversation, previous["activity_id"], activity, where=where)
                return
            except TeamsDeliveryError as err:
                if not err.gone:
                    raise
                # A fresh activity: the update gave the first one the gone message's id.
                activity = card_activity(
                    ac.fit_one(card, origin=form_origin), summary=card.preview, mention=mention
                )
        sent = await sender.post(conversation, activity, where=where)
        async with db.session() as session:
            await save_card_ref(session, scope, card.key, place, sent)
        return
    for content in ac.fit(card, origin=form_origin):
        await sender.post(
            conversation, card_activity(content, summary=card.preview, mention=mention), where=where
        )
        mention = None  # once is enough when a long card comes in parts


async def save_card_ref(session: AsyncSession, scope: str, key: str, place: Place, activity_id: str) -> None:
    reference = {"conversation_id": place.conversation_id, "activity_id": activity_id}
    await refs.save_ref(session, platform=PLATFORM, kind="card", key=f"{scope}:{key}", reference=reference)
