"""Direct messages: a card for one person, and the bot's own private words to a discussion's chair."""

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import blocks, keyed
from bot.slack.client import SlackDeliveryError, call
from bot.slack.people import People
from bot.slack.places import Place
from bot.slack.stored import Refs
from dialogs.model import Card


async def open_dm(client: AsyncWebClient, user: str) -> str:
    """The bot's direct message channel with someone (Slack returns the same one each time)."""
    opened = await call(client, "conversations.open", users=user)
    return opened["channel"]["id"]


async def send_card(people: People, refs: Refs, card: Card) -> None:
    found = await people.slack_user(card.target.person_id)
    if found is None:
        raise SlackDeliveryError("users.lookupByEmail", "users_not_found", retryable=False)
    client, _me, user = found
    await keyed.post(refs, client, await open_dm(client, user), card)


async def to_chair(client: AsyncWebClient, place: Place, text: str, body: list[dict]) -> bool:
    """Write to the discussion's chair privately; False if the chair is not in Slack."""
    chair = place.chair_user
    if chair is None:
        return False
    await call(client, "chat.postMessage", channel=await open_dm(client, chair), text=text, blocks=body)
    return True


async def tell_chair(client: AsyncWebClient, place: Place, text: str, *, title: str) -> None:
    body = blocks.text_message(text, title=title)
    await to_chair(client, place, f"{title}: {place.discussion.case_ref}", body)
