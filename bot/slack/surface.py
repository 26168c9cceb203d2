"""Delivering cards into Slack: the discussion's channel or thread, its pinned summary, direct
messages and the configured team channels. Implements bot.delivery.Surface.

Where each discussion lives is kept with storage.refs (bot.slack.stored), so replies in its thread
map back to it and the scheduler can deliver later. Every post of case details into a channel passes
the guard first (bot.slack.holding). Database sessions are kept short and never span a Web API call
(on SQLite a session holds the write lock).
"""

import logging
from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.delivery import DeliveryError
from bot.records.to_chair import ChairRecords
from bot.reports.to_person import ReportFiles
from bot.slack import direct, keyed, record_files, report_file
from bot.slack.channels import Channels
from bot.slack.client import Clients, Identity
from bot.slack.guard import Guard, Verdict
from bot.slack.holding import Holding, show_notice
from bot.slack.people import People
from bot.slack.places import Place, load_place, team_channel
from bot.slack.stored import HELD, PLATFORM, POST, THREAD, Refs
from dialogs.model import Card, TargetKind
from dialogs.record_to_chair import version_ids
from dialogs.report_card import period
from storage.db import Database
from storage.models import Discussion, Person

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Origin:
    """Where the person was when they acted: their workspace, channel and (for the message shortcut)
    the message the discussion started from."""

    team: str | None = None
    channel: str | None = None
    link: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """As Turn.origin: stored with the turn's queued cards."""
        return {"surface": PLATFORM, "team": self.team, "channel": self.channel, "link": self.link}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "Origin | None":
        if not data:
            return None
        return cls(team=data.get("team"), channel=data.get("channel"), link=data.get("link"))


class SlackSurface:
    name = PLATFORM

    def __init__(
        self,
        settings: Settings,
        db: Database,
        clients: Clients,
        guard: Guard | None = None,
        *,
        records: ChairRecords | None = None,
        reports: ReportFiles | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.clients = clients
        self.records = records  # the signed-off records' files for the chair (bot.slack.record_files)
        self.reports = reports  # the figures file for a manager who asked (bot.slack.report_file)
        self.guard = guard or Guard()
        self.refs = Refs(db)
        self.people = People(db, clients)
        self.holding = Holding(self.refs, self.guard)
        self.channels = Channels(settings, self.refs)

    # --- the Surface protocol -----------------------------------------------------------------

    async def can_reach(self, card: Card, origin: dict[str, Any] | None = None) -> bool:
        kind, target = card.target.kind, card.target
        if kind == TargetKind.MAIN_POST:
            return origin is not None or await self.refs.find(POST, target.discussion_id) is not None
        if kind == TargetKind.THREAD:
            return await self.refs.find(THREAD, target.discussion_id) is not None
        if kind == TargetKind.DIRECT:
            return target.person_id is not None and await self.people.reachable(target.person_id)
        if kind == TargetKind.CHANNEL:
            return team_channel(self.settings, target.place) is not None
        return False  # EPHEMERAL answers belong to an interaction (bot.slack.interact)

    async def deliver(self, card: Card, origin: dict[str, Any] | None = None) -> None:
        kind = card.target.kind
        if kind == TargetKind.MAIN_POST:
            await self._main_post(card, Origin.from_dict(origin) or Origin())
        elif kind == TargetKind.THREAD:
            await self._thread(card)
        elif kind == TargetKind.DIRECT and (ids := version_ids(card)) is not None:
            if self.records is None:
                raise DeliveryError("slack: record files are not set up in this process", retryable=False)
            await record_files.send(self.records, self.people, card, ids)
        elif kind == TargetKind.DIRECT and (asked := period(card)) is not None:
            if self.reports is None:
                raise DeliveryError("slack: report files are not set up in this process", retryable=False)
            await report_file.send(self.reports, self.people, card, *asked)
        elif kind == TargetKind.DIRECT:
            await direct.send_card(self.people, self.refs, card)
        elif kind == TargetKind.CHANNEL:
            await self._channel(card)
        else:
            raise DeliveryError(
                "slack: an answer for one person needs the interaction it answers", retryable=False
            )

    # --- for the listeners (bot.slack.app) ----------------------------------------------------

    async def discussion_for_thread(self, channel: str, thread_ts: str) -> int | None:
        ref = await self.refs.by_key(THREAD, f"{channel}:{thread_ts}")
        return ref.discussion_id if ref else None

    async def lookup(self, client: AsyncWebClient, me: Identity, person: Person) -> str | None:
        """Someone's Slack id by email, remembered in the directory (bot.slack.people)."""
        return await self.people.lookup(client, me, person)

    async def chair_of(self, discussion_id: int) -> int | None:
        async with self.db.read() as s:
            d = await s.get(Discussion, discussion_id)
            return d.chair_id if d is not None else None

    async def confirm(self, discussion_id: int, user_id: str, chair_person_id: int) -> bool:
        """Record that the chair vouched for an external professional; False if not the chair."""
        return await self.holding.confirm(discussion_id, user_id, chair_person_id)

    async def recheck(self, discussion_id: int) -> Verdict | None:
        """The chair fixed the channel or confirmed someone: check again and post what was held back."""
        post = await self.refs.find(POST, discussion_id)
        held = await self.refs.find(HELD, discussion_id)
        ref = post or held
        if ref is None:
            return None
        client, me = await self.clients.for_team(ref.reference.get("team"))
        channel = ref.reference["channel"]
        place = await self._place(discussion_id, client, me)
        verdict = await self.holding.check(client, me, channel, place)
        if verdict.safe:
            if held is not None:
                await self.holding.release(client, me, channel, discussion_id)
        else:
            await self.holding.hold(client, place, channel, verdict)
        return verdict

    # --- posting --------------------------------------------------------------------------------

    async def _place(self, discussion_id: int, client: AsyncWebClient, me: Identity) -> Place:
        return await load_place(self.db, self.people, discussion_id, client, me)

    async def _channel(self, card: Card) -> None:
        channel = team_channel(self.settings, card.target.place)
        if channel is None:
            raise DeliveryError(f"slack: no channel configured for {card.target.place}", retryable=False)
        client, me = await self.clients.home()  # SLACK_TEAM_ID with many workspaces, never a guess
        verdict = await self.guard.check(client, me, channel, allowed=None)
        if not verdict.safe:
            # A team place with guests, apps or outsiders gets the neutral notice only.
            await show_notice(client, channel)
            log.warning(
                "slack: held back a card for the %s channel: %d member(s) not allowed",
                card.target.place,
                len(verdict.blocked),
            )
            return
        await keyed.post(self.refs, client, channel, card)

    async def _thread(self, card: Card) -> None:
        d_id = card.target.discussion_id
        post = await self.refs.find(POST, d_id)
        if post is None:
            if await self.refs.find(HELD, d_id) is not None:
                # The summary itself is held back: keep this for later, in order.
                await self.holding.hold_more(d_id, thread=[keyed.rendered(card)])
                return
            raise DeliveryError(f"slack: discussion {d_id} has no thread yet", retryable=False)
        client, me = await self.clients.for_team(post.reference.get("team"))
        channel, ts = post.reference["channel"], post.reference["ts"]
        place = await self._place(d_id, client, me)
        verdict = await self.holding.check(client, me, channel, place)
        if not verdict.safe:
            await self.holding.hold(client, place, channel, verdict, thread=[keyed.rendered(card)])
            return
        await self.holding.release(client, me, channel, d_id)
        await keyed.post(self.refs, client, channel, card, thread_ts=ts)

    async def _main_post(self, card: Card, origin: Origin) -> None:
        d_id = card.target.discussion_id
        post = await self.refs.find(POST, d_id)
        held = await self.refs.find(HELD, d_id)
        ref = post or held
        client, me = await self.clients.for_team(ref.reference.get("team") if ref else origin.team)
        place = await self._place(d_id, client, me)
        if ref is not None:
            channel = ref.reference["channel"]
            if ref.reference.get("private"):
                await self.channels.invite(client, me, place, channel, ref)
        else:
            channel = await self.channels.new_place(client, me, place, origin.channel)
        verdict = await self.holding.check(client, me, channel, place)
        main = keyed.rendered(card)
        if not verdict.safe:
            await self.holding.hold(client, place, channel, verdict, main=main, link=origin.link)
            return
        await self.holding.release(client, me, channel, d_id, main=main, link=origin.link)
