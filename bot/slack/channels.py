"""Where a new discussion lives: a private channel of its own with its people invited, or (by
configuration) a thread in the channel the chair convened from. The place is kept in the HELD ref
before anything is posted, so it is found again while the guard holds the details back."""

import re
from datetime import date
from zoneinfo import ZoneInfo

from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.slack import blocks
from bot.slack.client import Identity, SlackDeliveryError, call, explain
from bot.slack.direct import tell_chair
from bot.slack.places import Place
from bot.slack.stored import Refs
from storage.models import ConversationRef, Person

MAX_CHANNEL_NAME = 80


def channel_name(case_ref: str, day: date, suffix: int = 0) -> str:
    """`sd-<case reference>-<yyyy-mm-dd>`, in the characters Slack allows in channel names."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", case_ref.lower()).strip("-_") or "case"
    tail = f"-{day.isoformat()}" + (f"-{suffix}" if suffix else "")
    return f"sd-{slug[: MAX_CHANNEL_NAME - 3 - len(tail)]}{tail}"


class Channels:
    def __init__(self, settings: Settings, refs: Refs) -> None:
        self.settings = settings
        self.refs = refs

    async def new_place(
        self, client: AsyncWebClient, me: Identity, place: Place, convened_in: str | None
    ) -> str:
        """A new private channel, or (by configuration) the channel the chair convened from."""
        # Not from a direct message ("D..."): only a channel's thread can hold a discussion.
        if self.settings.slack_discussion_mode == "thread" and convened_in and convened_in[0] in "CG":
            await self._save_pending(place, me, {"channel": convened_in, "private": False})
            return convened_in
        d = place.discussion
        day = d.convened_at.astimezone(ZoneInfo(self.settings.timezone)).date()
        for suffix in range(0, 10):
            name = channel_name(d.case_ref, day, suffix)
            try:
                created = await call(client, "conversations.create", name=name, is_private=True)
                break
            except SlackDeliveryError as exc:
                if exc.code != "name_taken":
                    raise
        else:
            raise SlackDeliveryError("conversations.create", "name_taken", retryable=False)
        channel = created["channel"]["id"]
        post = await self._save_pending(place, me, {"channel": channel, "private": True, "invited": []})
        await self.invite(client, me, place, channel, post)
        return channel

    async def _save_pending(self, place: Place, me: Identity, reference: dict) -> ConversationRef:
        """Remember the discussion's place before anything is posted (ts is filled in later)."""
        return await self.refs.start_held(place.discussion.id, {"team": me.tenant, "ts": None, **reference})

    async def invite(
        self, client: AsyncWebClient, me: Identity, place: Place, channel: str, ref: ConversationRef
    ) -> None:
        """Add the participants to the private channel; tell the chair whom Slack would not let in."""
        invited = set(ref.reference.get("invited") or [])
        reported = set(ref.reference.get("reported") or [])
        problems: list[tuple[Person, str]] = []
        for person in place.people:
            if person.id in place.declined:
                continue
            user = place.slack_ids.get(person.id)
            if user is None:
                if person.id not in reported:
                    problems.append((person, "I could not find them in Slack by their email address."))
                continue
            if user in invited or user == me.bot_user_id:
                continue
            try:
                await call(client, "conversations.invite", channel=channel, users=user)
                invited.add(user)
            except SlackDeliveryError as exc:
                if exc.code == "already_in_channel":
                    invited.add(user)
                elif exc.retryable:
                    raise
                elif person.id not in reported:
                    problems.append((person, explain(exc.code)))
        reported |= {p.id for p, _ in problems}
        # Who is in and who the chair was told about, so neither is done twice.
        reference = dict(ref.reference) | {"invited": sorted(invited), "reported": sorted(reported)}
        await self.refs.save(ref.kind, ref.key, reference, discussion_id=place.discussion.id)
        ref.reference = reference
        if problems:
            lines = "\n".join(f"• {blocks.mrkdwn(p.display_name)}: {why}" for p, why in problems)
            case = blocks.mrkdwn(place.discussion.case_ref)
            text = f"I could not add everyone to the channel for *{case}*:\n{lines}"
            await tell_chair(client, place, text, title="Not everyone could be added")
