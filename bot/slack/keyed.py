"""Cards as Slack messages, and keyed cards updated in place: a card with a key becomes a message
whose channel and ts are kept (ref kind CARD), so the next card with the same key edits it."""

from typing import TypedDict

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import blocks
from bot.slack.client import SlackDeliveryError, call
from bot.slack.stored import CARD, Refs
from dialogs.model import Card, Target


class Message(TypedDict):
    """A rendered card, as it is sent and as it is kept while the guard holds it back."""

    text: str
    blocks: list[dict]
    key: str | None


def card_key(card: Card) -> str | None:
    """The card's key made unique across targets (a discussion's thread, a person, a place)."""
    if not card.key:
        return None
    t = card.target
    return f"{t.kind}:{t.discussion_id or ''}:{t.person_id or ''}:{t.place or ''}:{card.key}"[:300]


def rendered(card: Card) -> Message:
    text, body = blocks.message(card)
    return {"text": text, "blocks": body, "key": card_key(card)}


async def post(
    refs: Refs, client: AsyncWebClient, channel: str, card: Card, *, thread_ts: str | None = None
) -> str:
    return await send(refs, client, channel, rendered(card), thread_ts=thread_ts, target=card.target)


async def send(
    refs: Refs,
    client: AsyncWebClient,
    channel: str,
    message: Message,
    *,
    thread_ts: str | None = None,
    target: Target | None = None,
) -> str:
    """Post a rendered card, or update the message an earlier card with the same key became."""
    text, body, key = message["text"], message["blocks"], message.get("key")
    if key:
        ref = await refs.by_key(CARD, key)
        if ref is not None and ref.reference.get("channel") == channel:
            try:
                await call(
                    client, "chat.update", channel=channel, ts=ref.reference["ts"], text=text, blocks=body
                )
                return ref.reference["ts"]
            except SlackDeliveryError as exc:
                if exc.code not in ("message_not_found", "cant_update_message"):
                    raise
    sent = await call(
        client,
        "chat.postMessage",
        channel=channel,
        text=text,
        blocks=body,
        thread_ts=thread_ts,
        unfurl_links=False,
        unfurl_media=False,
    )
    ts = sent.get("ts", "")
    if key:
        await refs.save(
            CARD,
            key,
            {"channel": sent.get("channel", channel), "ts": ts},
            discussion_id=target.discussion_id if target else None,
            person_id=target.person_id if target else None,
        )
    return ts
