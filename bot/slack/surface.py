"""Delivering cards into Slack: the discussion's channel or thread, its pinned summary, direct
messages and the configured team channels. Implements bot.delivery.Surface.

Where each discussion lives is stored with storage.refs (kinds below), so replies in its thread map
back to it and the scheduler can deliver later. Every post of case details into a channel passes
the guard first. Database sessions are kept short and never span a Web API call (on SQLite a
session holds the write lock).
"""

import logging
import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from bot.config import Settings
from bot.delivery import DeliveryError
from bot.slack import blocks
from bot.slack.client import Clients, Identity, SlackDeliveryError, call, explain
from bot.slack.guard import REASON_TEXT, Guard, Verdict
from dialogs import directory
from dialogs.model import Card, TargetKind
from storage import audit, refs
from storage.db import Database
from storage.models import ConversationRef, Discussion, Participant, Person, PersonIdentity

log = logging.getLogger(__name__)

PLATFORM = "slack"
# ConversationRef kinds used by this surface.
POST = "discussion_post"  # the pinned summary: {"team", "channel", "ts", "private", "invited", ...}
THREAD = "thread"  # key "channel:ts" -> the discussion whose thread it is
CARD = "card"  # a keyed card's message, so the same key updates it: {"channel", "ts"}
HELD = "held"  # details held back by the guard, posted once the channel is safe
CONFIRMED = "guard_ok"  # an external professional the chair vouched for

MAX_CHANNEL_NAME = 80


@dataclass(frozen=True)
class Origin:
    """Where the person was when they acted: their workspace, channel and (for the message shortcut)
    the message the discussion started from."""

    team: str | None = None
    channel: str | None = None
    link: str | None = None


@dataclass
class Place:
    """A discussion and who may see it, read once per delivery."""

    discussion: Discussion
    chair: Person
    people: list[Person]  # the chair and every participant: all may see the discussion
    declined: set[int] = field(default_factory=set)  # person ids not to add to its channel
    slack_ids: dict[int, str] = field(default_factory=dict)  # person id -> Slack user id
    confirmed: set[str] = field(default_factory=set)

    @property
    def allowed(self) -> set[str]:
        return set(self.slack_ids.values())


def channel_name(case_ref: str, day, suffix: int = 0) -> str:
    """`sd-<case reference>-<yyyy-mm-dd>`, in the characters Slack allows in channel names."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", case_ref.lower()).strip("-_") or "case"
    tail = f"-{day.isoformat()}" + (f"-{suffix}" if suffix else "")
    return f"sd-{slug[: MAX_CHANNEL_NAME - 3 - len(tail)]}{tail}"


class SlackSurface:
    name = PLATFORM

    def __init__(
        self, settings: Settings, db: Database, clients: Clients, guard: Guard | None = None
    ) -> None:
        self.settings = settings
        self.db = db
        self.clients = clients
        self.guard = guard or Guard()

    # --- the Surface protocol -----------------------------------------------------------------

    async def can_reach(self, card: Card, origin: Origin | None = None) -> bool:
        kind, target = card.target.kind, card.target
        if kind == TargetKind.MAIN_POST:
            return (
                origin is not None or await self._find(POST, discussion_id=target.discussion_id) is not None
            )
        if kind == TargetKind.THREAD:
            return await self._find(THREAD, discussion_id=target.discussion_id) is not None
        if kind == TargetKind.DIRECT:
            return target.person_id is not None and await self._person_reachable(target.person_id)
        if kind == TargetKind.CHANNEL:
            return self._place_channel(target.place) is not None
        return False  # EPHEMERAL answers belong to an interaction (bot.slack.interact)

    async def deliver(self, card: Card, origin: Origin | None = None) -> None:
        kind = card.target.kind
        if kind == TargetKind.MAIN_POST:
            await self._main_post(card, origin or Origin())
        elif kind == TargetKind.THREAD:
            await self._thread(card)
        elif kind == TargetKind.DIRECT:
            await self._direct(card)
        elif kind == TargetKind.CHANNEL:
            await self._channel(card)
        else:
            raise DeliveryError(
                "slack: an answer for one person needs the interaction it answers", retryable=False
            )

    # --- reading and remembering --------------------------------------------------------------

    async def _find(self, kind: str, **where) -> ConversationRef | None:
        async with self.db.session() as s:
            return await refs.find_ref(s, platform=PLATFORM, kind=kind, **where)

    async def _by_key(self, kind: str, key: str) -> ConversationRef | None:
        async with self.db.session() as s:
            return await refs.find_by_key(s, platform=PLATFORM, kind=kind, key=key)

    async def _save(self, kind: str, key: str, reference: dict, **ids) -> None:
        async with self.db.session() as s:
            await refs.save_ref(s, platform=PLATFORM, kind=kind, key=key, reference=reference, **ids)

    async def discussion_for_thread(self, channel: str, thread_ts: str) -> int | None:
        ref = await self._by_key(THREAD, f"{channel}:{thread_ts}")
        return ref.discussion_id if ref else None

    async def _place(self, discussion_id: int, client: AsyncWebClient, me: Identity) -> Place:
        async with self.db.session() as s:
            d = await s.get(Discussion, discussion_id)
            if d is None:
                raise DeliveryError(f"slack: no discussion {discussion_id}", retryable=False)
            chair = await s.get(Person, d.chair_id)
            rows = (
                await s.execute(
                    select(Person, Participant.status)
                    .join(Participant, Participant.person_id == Person.id)
                    .where(Participant.discussion_id == discussion_id)
                )
            ).all()
            people = {p.id: p for p, _status in rows}
            people[chair.id] = chair
            declined = {p.id for p, status in rows if status == "declined"}
            ids = await s.execute(
                select(PersonIdentity).where(
                    PersonIdentity.person_id.in_(list(people)),
                    PersonIdentity.platform == PLATFORM,
                    PersonIdentity.tenant.in_({me.team_id, me.enterprise_id or "", ""}),
                )
            )
            slack_ids = {i.person_id: i.external_id for i in ids.scalars()}
            confirmed = await s.execute(
                select(ConversationRef.reference).where(
                    ConversationRef.platform == PLATFORM,
                    ConversationRef.kind == CONFIRMED,
                    ConversationRef.discussion_id == discussion_id,
                )
            )
            vouched = {r.get("user") for r in confirmed.scalars() if r.get("team") == me.tenant}
        place = Place(d, chair, list(people.values()), declined, slack_ids, {u for u in vouched if u})
        for person in place.people:  # people known only by email: find them in Slack once
            if person.id not in place.slack_ids:
                user = await self.lookup(client, me, person)
                if user:
                    place.slack_ids[person.id] = user
        return place

    async def lookup(self, client: AsyncWebClient, me: Identity, person: Person) -> str | None:
        """Find someone's Slack id by email (users.lookupByEmail) and remember it in the directory."""
        if not person.email:
            return None
        try:
            found = await call(client, "users.lookupByEmail", email=person.email)
        except SlackDeliveryError as exc:
            if exc.code in ("users_not_found", "user_not_found"):
                return None
            raise
        user_id = (found.get("user") or {}).get("id")
        if user_id and me.tenant:  # always with the workspace: an id without one would match any
            async with self.db.session() as s:
                try:
                    await directory.link_identity(
                        s, person.id, PLATFORM, user_id, me.tenant, actor="system", channel=PLATFORM
                    )
                except directory.DirectoryError:
                    log.warning("slack: a Slack id found by email already belongs to another person")
                    return None
        return user_id

    async def slack_user(self, person_id: int) -> tuple[AsyncWebClient, Identity, str] | None:
        """The client for a person's workspace and their Slack id, looked up by email if need be."""
        async with self.db.session() as s:
            person = await s.get(Person, person_id)
            ident = (
                (
                    await s.execute(
                        select(PersonIdentity)
                        .where(PersonIdentity.person_id == person_id, PersonIdentity.platform == PLATFORM)
                        .order_by(PersonIdentity.id.desc())
                    )
                )
                .scalars()
                .first()
            )
        if person is None:
            return None
        # Someone known only by email, or by an id stored without its workspace: the council's own.
        if ident is not None and ident.tenant:
            client, me = await self.clients.for_team(ident.tenant)
        else:
            client, me = await self.clients.home()
        if ident is not None:
            return client, me, ident.external_id
        user = await self.lookup(client, me, person)
        return (client, me, user) if user else None

    async def _person_reachable(self, person_id: int) -> bool:
        try:
            return await self.slack_user(person_id) is not None
        except SlackDeliveryError:
            return False

    def _place_channel(self, place: str | None) -> str | None:
        return {
            "duty": self.settings.slack_duty_channel,
            "out_of_hours": self.settings.slack_out_of_hours_channel or self.settings.slack_duty_channel,
        }.get(place or "")

    # --- posting --------------------------------------------------------------------------------

    @staticmethod
    def _card_key(card: Card) -> str | None:
        if not card.key:
            return None
        t = card.target
        return f"{t.kind}:{t.discussion_id or ''}:{t.person_id or ''}:{t.place or ''}:{card.key}"[:300]

    async def _post(
        self, client: AsyncWebClient, channel: str, card: Card, *, thread_ts: str | None = None
    ) -> str:
        return await self._send(
            client, channel, self._rendered(card), thread_ts=thread_ts, target=card.target
        )

    async def _send(
        self, client: AsyncWebClient, channel: str, message: dict, *, thread_ts=None, target=None
    ) -> str:
        """Post a rendered card, or update the message an earlier card with the same key became."""
        text, body, key = message["text"], message["blocks"], message.get("key")
        if key:
            ref = await self._by_key(CARD, key)
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
            ids = {"discussion_id": target.discussion_id, "person_id": target.person_id} if target else {}
            await self._save(CARD, key, {"channel": sent.get("channel", channel), "ts": ts}, **ids)
        return ts

    async def _direct(self, card: Card) -> None:
        found = await self.slack_user(card.target.person_id)
        if found is None:
            raise SlackDeliveryError("users.lookupByEmail", "users_not_found", retryable=False)
        client, _me, user = found
        opened = await call(client, "conversations.open", users=user)
        await self._post(client, opened["channel"]["id"], card)

    async def _channel(self, card: Card) -> None:
        channel = self._place_channel(card.target.place)
        if channel is None:
            raise DeliveryError(f"slack: no channel configured for {card.target.place}", retryable=False)
        client, me = await self.clients.home()  # SLACK_TEAM_ID with many workspaces, never a guess
        verdict = await self.guard.check(client, me, channel, allowed=None)
        if not verdict.safe:
            # A team place with guests, apps or outsiders gets the neutral notice only.
            await call(
                client,
                "chat.postMessage",
                channel=channel,
                text=blocks.NEUTRAL_NOTICE,
                blocks=blocks.notice_blocks(),
            )
            log.warning(
                "slack: held back a card for the %s channel: %d member(s) not allowed",
                card.target.place,
                len(verdict.blocked),
            )
            return
        await self._post(client, channel, card)

    async def _thread(self, card: Card) -> None:
        d_id = card.target.discussion_id
        post = await self._find(POST, discussion_id=d_id)
        if post is None:
            held = await self._find(HELD, discussion_id=d_id)
            if held is not None:  # the summary itself is held back: keep this for later, in order
                await self._hold_more(d_id, {"thread": [self._rendered(card)]})
                return
            raise DeliveryError(f"slack: discussion {d_id} has no thread yet", retryable=False)
        client, me = await self.clients.for_team(post.reference.get("team"))
        channel, ts = post.reference["channel"], post.reference["ts"]
        place = await self._place(d_id, client, me)
        verdict = await self._check(client, me, channel, place)
        if not verdict.safe:
            await self._hold(client, me, place, channel, verdict, thread=[self._rendered(card)])
            return
        await self._release(client, me, place, channel)
        await self._post(client, channel, card, thread_ts=ts)

    async def _main_post(self, card: Card, origin: Origin) -> None:
        d_id = card.target.discussion_id
        post = await self._find(POST, discussion_id=d_id)
        held = await self._find(HELD, discussion_id=d_id)
        team = (post or held).reference.get("team") if (post or held) else origin.team
        client, me = await self.clients.for_team(team)
        place = await self._place(d_id, client, me)
        ref = post or held
        if ref is not None:
            channel = ref.reference["channel"]
            if ref.reference.get("private"):
                await self._invite(client, me, place, channel, ref)
        else:
            channel = await self._new_place(client, me, place, origin)
        verdict = await self._check(client, me, channel, place)
        if not verdict.safe:
            await self._hold(client, me, place, channel, verdict, main=self._rendered(card), link=origin.link)
            return
        await self._release(client, me, place, channel, main=self._rendered(card), link=origin.link)

    async def _check(self, client: AsyncWebClient, me: Identity, channel: str, place: Place) -> Verdict:
        return await self.guard.check(client, me, channel, allowed=place.allowed, confirmed=place.confirmed)

    # --- where a discussion lives -----------------------------------------------------------------

    async def _new_place(self, client: AsyncWebClient, me: Identity, place: Place, origin: Origin) -> str:
        """A new private channel, or (by configuration) the channel the chair convened from."""
        usable = origin.channel and origin.channel[0] in "CG"  # not a direct message
        if self.settings.slack_discussion_mode == "thread" and usable:
            await self._save_pending(place, me, {"channel": origin.channel, "private": False})
            return origin.channel
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
        await self._invite(client, me, place, channel, post)
        return channel

    async def _save_pending(self, place: Place, me: Identity, reference: dict) -> ConversationRef:
        """Remember the discussion's place before anything is posted (ts is filled in later)."""
        return await self._save_held(place.discussion.id, {"team": me.tenant, "ts": None, **reference})

    async def _invite(
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
        async with self.db.session() as s:
            await refs.save_ref(
                s,
                platform=PLATFORM,
                kind=ref.kind,
                key=ref.key,
                reference=dict(ref.reference) | {"invited": sorted(invited), "reported": sorted(reported)},
                discussion_id=place.discussion.id,
            )
        ref.reference = dict(ref.reference) | {"invited": sorted(invited), "reported": sorted(reported)}
        if problems:
            lines = "\n".join(f"• {blocks.mrkdwn(p.display_name)}: {why}" for p, why in problems)
            case = blocks.mrkdwn(place.discussion.case_ref)
            text = f"I could not add everyone to the channel for *{case}*:\n{lines}"
            await self._tell_chair(client, me, place, text, title="Not everyone could be added")

    # --- holding back and releasing ----------------------------------------------------------------

    @staticmethod
    def _rendered(card: Card) -> dict:
        text, body = blocks.message(card)
        return {"text": text, "blocks": body, "key": SlackSurface._card_key(card)}

    async def _hold_more(self, d_id: int, add: dict) -> ConversationRef:
        async with self.db.session() as s:
            ref = await refs.find_by_key(s, platform=PLATFORM, kind=HELD, key=f"{d_id}")
            reference = dict(ref.reference)
            if "main" in add:
                reference["main"] = add["main"]
            reference["thread"] = list(reference.get("thread") or []) + list(add.get("thread") or [])
            for k in ("notified", "link"):
                if k in add:
                    reference[k] = add[k]
            return await refs.save_ref(
                s, platform=PLATFORM, kind=HELD, key=ref.key, reference=reference, discussion_id=d_id
            )

    async def _hold(
        self,
        client: AsyncWebClient,
        me: Identity,
        place: Place,
        channel: str,
        verdict: Verdict,
        *,
        main: dict | None = None,
        thread: list[dict] = (),
        link: str | None = None,
    ) -> None:
        """Keep the details for later; leave only a neutral notice; tell the chair privately why."""
        d = place.discussion
        post = await self._find(POST, discussion_id=d.id)
        held = await self._find(HELD, discussion_id=d.id) or await self._save_held(
            d.id, dict(post.reference) if post else {}
        )
        blocked = sorted(b.user_id for b in verdict.blocked)
        add: dict = {"thread": list(thread)}
        if main is None and not held.reference.get("main") and post is not None:
            main = post.reference.get("last")  # the summary about to be hidden comes back on release
        if main is not None:
            add["main"] = main
        if link:
            add["link"] = link
        first_time = held.reference.get("notified") != blocked
        add["notified"] = blocked
        await self._hold_more(d.id, add)
        if post is not None and post.reference.get("ts"):
            # The summary is already there: replace it with the notice until the channel is safe again.
            await call(
                client,
                "chat.update",
                channel=channel,
                ts=post.reference["ts"],
                text=blocks.NEUTRAL_NOTICE,
                blocks=blocks.notice_blocks(),
            )
        elif first_time:
            await call(
                client,
                "chat.postMessage",
                channel=channel,
                text=blocks.NEUTRAL_NOTICE,
                blocks=blocks.notice_blocks(),
            )
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
            chair = place.slack_ids.get(place.chair.id)
            if chair is None:
                log.warning("slack: details held back for discussion %s but its chair is not in Slack", d.id)
                return
            opened = await call(client, "conversations.open", users=chair)
            body = blocks.chair_alert_blocks(d.case_ref, channel, people, d.id)
            await call(
                client,
                "chat.postMessage",
                channel=opened["channel"]["id"],
                text=f"Details held back: {d.case_ref}",
                blocks=body,
            )
        log.info("slack: held back details of discussion %s: %d member(s) not allowed", d.id, len(blocked))

    async def _remember_summary(self, post: ConversationRef, main: dict) -> None:
        """Keep the summary as last shown, to put it back if the guard has to hide it for a while."""
        async with self.db.session() as s:
            await refs.save_ref(
                s,
                platform=PLATFORM,
                kind=POST,
                key=post.key,
                reference=dict(post.reference) | {"last": main},
                discussion_id=post.discussion_id,
            )

    async def _save_held(self, d_id: int, reference: dict) -> ConversationRef:
        """Start the discussion's list of cards held back by the guard, with where it is posted."""
        async with self.db.session() as s:
            return await refs.save_ref(
                s,
                platform=PLATFORM,
                kind=HELD,
                key=f"{d_id}",
                reference=reference | {"thread": []},
                discussion_id=d_id,
            )

    async def _release(
        self,
        client: AsyncWebClient,
        me: Identity,
        place: Place,
        channel: str,
        *,
        main: dict | None = None,
        link: str | None = None,
    ) -> None:
        """Post (or update) the summary and whatever was held back, now that the channel is safe."""
        d = place.discussion
        held = await self._find(HELD, discussion_id=d.id)
        waiting = dict(held.reference) if held else {}
        main = main or waiting.get("main")
        link = link or waiting.get("link")
        post = await self._find(POST, discussion_id=d.id)
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
                await self._remember_summary(post, main)
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
            reference = {k: v for k, v in waiting.items() if k not in ("main", "thread", "notified", "link")}
            reference |= {"team": me.tenant, "channel": channel, "ts": ts, "last": main}
            async with self.db.session() as s:
                await refs.save_ref(
                    s,
                    platform=PLATFORM,
                    kind=POST,
                    key=f"{channel}:{ts}",
                    reference=reference,
                    discussion_id=d.id,
                )
                await refs.save_ref(
                    s,
                    platform=PLATFORM,
                    kind=THREAD,
                    key=f"{channel}:{ts}",
                    reference={"channel": channel, "ts": ts},
                    discussion_id=d.id,
                )
            post = await self._find(POST, discussion_id=d.id)
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
            await self._send(client, channel, message, thread_ts=post.reference["ts"])
        if held is not None:
            async with self.db.session() as s:
                row = await s.get(ConversationRef, held.id)
                if row is not None:
                    await s.delete(row)

    async def recheck(self, discussion_id: int) -> Verdict | None:
        """The chair fixed the channel or confirmed someone: check again and post what was held back."""
        post = await self._find(POST, discussion_id=discussion_id)
        held = await self._find(HELD, discussion_id=discussion_id)
        ref = post or held
        if ref is None:
            return None
        client, me = await self.clients.for_team(ref.reference.get("team"))
        channel = ref.reference["channel"]
        place = await self._place(discussion_id, client, me)
        verdict = await self._check(client, me, channel, place)
        if verdict.safe:
            if held is not None:
                await self._release(client, me, place, channel)
        else:
            await self._hold(client, me, place, channel, verdict)
        return verdict

    async def chair_of(self, discussion_id: int) -> int | None:
        async with self.db.session() as s:
            d = await s.get(Discussion, discussion_id)
            return d.chair_id if d is not None else None

    async def confirm(self, discussion_id: int, user_id: str, chair_person_id: int) -> bool:
        """Record that the chair vouched for an external professional; False if not the chair."""
        ref = await self._find(POST, discussion_id=discussion_id) or await self._find(
            HELD, discussion_id=discussion_id
        )
        async with self.db.session() as s:
            d = await s.get(Discussion, discussion_id)
            if d is None or d.chair_id != chair_person_id or ref is None:
                return False
            team = ref.reference.get("team")
            await refs.save_ref(
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

    async def _tell_chair(
        self, client: AsyncWebClient, me: Identity, place: Place, text: str, *, title: str
    ) -> None:
        chair = place.slack_ids.get(place.chair.id)
        if chair is None:
            return
        opened = await call(client, "conversations.open", users=chair)
        await call(
            client,
            "chat.postMessage",
            channel=opened["channel"]["id"],
            text=f"{title}: {place.discussion.case_ref}",
            blocks=blocks.text_message(text, title=title),
        )
