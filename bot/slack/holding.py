"""The guard at work in a discussion's channel: case details go there only while everyone in it may
see them. Otherwise the details are held back (ref kind HELD: the summary, the thread's cards in
order, the message it was started from), a neutral notice takes the summary's place, and the chair is
told privately why; once the channel is safe again, everything held is posted. The chair can vouch
for an external professional (ref kind CONFIRMED).
"""

import logging

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import blocks, keyed
from bot.slack.client import Identity, call
from bot.slack.direct import to_chair
from bot.slack.guard import REASON_TEXT, Guard, Verdict
from bot.slack.keyed import Message
from bot.slack.places import Place
from bot.slack.stored import CONFIRMED, HELD, PLATFORM, POST, Refs
from storage import audit
from storage.models import ConversationRef, Discussion
from storage.refs import find_by_key, save_ref

log = logging.getLogger(__name__)

# What a held ref keeps besides where the discussion is (or will be) posted.
HELD_ONLY = ("main", "thread", "notified", "link")


async def show_notice(client: AsyncWebClient, channel: str, ts: str | None = None) -> None:
    """The neutral notice: a new message, or in place of the summary at `ts`."""
    notice = {"channel": channel, "text": blocks.NEUTRAL_NOTICE, "blocks": blocks.notice_blocks()}
    if ts:
        await call(client, "chat.update", ts=ts, **notice)
    else:
        await call(client, "chat.postMessage", **notice)


class Holding:
    """The guard's verdict acted on for one discussion's channel."""

    def __init__(self, refs: Refs, guard: Guard) -> None:
        self.refs = refs
        self.guard = guard

    async def check(self, client: AsyncWebClient, me: Identity, channel: str, place: Place) -> Verdict:
        return await self.guard.check(client, me, channel, allowed=place.allowed, confirmed=place.confirmed)

    async def hold_more(
        self,
        d_id: int,
        *,
        thread: list[Message],
        main: Message | None = None,
        link: str | None = None,
        notified: list[str] | None = None,
    ) -> None:
        """Add to what is held: thread cards queue up in order; the rest replaces what was there."""
        async with self.refs.db.session() as s:
            ref = await find_by_key(s, platform=PLATFORM, kind=HELD, key=f"{d_id}")
            reference = dict(ref.reference)
            if main is not None:
                reference["main"] = main
            reference["thread"] = list(reference.get("thread") or []) + thread
            if notified is not None:
                reference["notified"] = notified
            if link is not None:
                reference["link"] = link
            await save_ref(
                s, platform=PLATFORM, kind=HELD, key=ref.key, reference=reference, discussion_id=d_id
            )

    async def hold(
        self,
        client: AsyncWebClient,
        place: Place,
        channel: str,
        verdict: Verdict,
        *,
        main: Message | None = None,
        thread: list[Message] | None = None,
        link: str | None = None,
    ) -> None:
        """Keep the details for later; leave only a neutral notice; tell the chair privately why."""
        d = place.discussion
        post = await self.refs.find(POST, d.id)
        held = await self.refs.find(HELD, d.id) or await self.refs.start_held(
            d.id, dict(post.reference) if post else {}
        )
        blocked = sorted(b.user_id for b in verdict.blocked)
        if main is None and not held.reference.get("main") and post is not None:
            main = post.reference.get("last")  # the summary about to be hidden comes back on release
        first_time = held.reference.get("notified") != blocked
        await self.hold_more(d.id, thread=list(thread or []), main=main, link=link or None, notified=blocked)
        if post is not None and post.reference.get("ts"):
            # The summary is already there: replace it with the notice until the channel is safe again.
            await show_notice(client, channel, post.reference["ts"])
        elif first_time:
            await show_notice(client, channel)
        if first_time:
            people = []
            for b in verdict.blocked:
                info = await self.guard.user(client, b.user_id)
                name = (
                    info.get("real_name")
                    or (info.get("profile") or {}).get("real_name")
                    or info.get("name")
                    or b.user_id
                )
                people.append((b.user_id, REASON_TEXT[b.reason], name, b.confirmable))
            body = blocks.chair_alert_blocks(d.case_ref, channel, people, d.id)
            if not await to_chair(client, place, f"Details held back: {d.case_ref}", body):
                log.warning("slack: details held back for discussion %s but its chair is not in Slack", d.id)
                return
        log.info("slack: held back details of discussion %s: %d member(s) not allowed", d.id, len(blocked))

    async def release(
        self,
        client: AsyncWebClient,
        me: Identity,
        channel: str,
        d_id: int,
        *,
        main: Message | None = None,
        link: str | None = None,
    ) -> None:
        """Post (or update) the summary and whatever was held back, now that the channel is safe."""
        held = await self.refs.find(HELD, d_id)
        waiting = dict(held.reference) if held else {}
        main = main or waiting.get("main")
        link = link or waiting.get("link")
        post = await self.refs.find(POST, d_id)
        if post is not None and post.reference.get("ts"):
            if main is not None:
                await call(
                    client,
                    "chat.update",
                    channel=channel,
                    ts=post.reference["ts"],
                    text=main["text"],
                    blocks=main["blocks"],
                )
                await self.remember_summary(post, main)
        elif main is not None:
            sent = await call(
                client,
                "chat.postMessage",
                channel=channel,
                text=main["text"],
                blocks=main["blocks"],
                unfurl_links=False,
            )
            ts = sent["ts"]
            await call(client, "pins.add", channel=channel, timestamp=ts)
            reference = {k: v for k, v in waiting.items() if k not in HELD_ONLY}
            reference |= {"team": me.tenant, "channel": channel, "ts": ts, "last": main}
            await self.refs.save_posted(d_id, channel, ts, reference)
            post = await self.refs.find(POST, d_id)
            if link:
                await call(
                    client,
                    "chat.postMessage",
                    channel=channel,
                    thread_ts=ts,
                    text="Started from a message",
                    blocks=blocks.link_blocks(link),
                    unfurl_links=False,
                )
        if post is None:
            return  # nothing posted yet and no summary to post: keep what is held
        for message in waiting.get("thread") or []:
            await keyed.send(self.refs, client, channel, message, thread_ts=post.reference["ts"])
        if held is not None:
            await self.refs.delete(held.id)

    async def remember_summary(self, post: ConversationRef, main: Message) -> None:
        """Keep the summary as last shown, to put it back if the guard has to hide it for a while."""
        await self.refs.save(
            POST, post.key, dict(post.reference) | {"last": main}, discussion_id=post.discussion_id
        )

    async def confirm(self, discussion_id: int, user_id: str, chair_person_id: int) -> bool:
        """Record that the chair vouched for an external professional; False if not the chair."""
        ref = await self.refs.find(POST, discussion_id) or await self.refs.find(HELD, discussion_id)
        async with self.refs.db.session() as s:
            d = await s.get(Discussion, discussion_id)
            if d is None or d.chair_id != chair_person_id or ref is None:
                return False
            team = ref.reference.get("team")
            await save_ref(
                s,
                platform=PLATFORM,
                kind=CONFIRMED,
                key=f"{team}:{discussion_id}:{user_id}",
                reference={"team": team, "user": user_id},
                discussion_id=discussion_id,
                person_id=chair_person_id,
            )
            await audit.append(
                s,
                actor=f"person:{chair_person_id}",
                channel=PLATFORM,
                action="slack.guard_confirm",
                discussion_id=discussion_id,
                detail={"slack_user": user_id},
            )
        return True
