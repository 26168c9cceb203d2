"""One turn's cards (or one proactive delivery's card) sent where each target goes in Teams.

- MAIN_POST: the discussion's post in the channel where it was convened (else the duty channel, else
  the chair's chat with the bot); the same key later updates that post.
- THREAD: a reply to that post (conversation id `{channel id};messageid={post id}`).
- DIRECT and EPHEMERAL: the person's 1:1 chat with the bot (opened if need be). An answer to someone
  in a personal chat goes there; asked in a channel, it goes to their private chat, since Teams has no
  message only one person in a channel can see. The signed-off records' files card becomes links
  there (bot.teams.record_links), and never goes to a thread instead; so does a report card, as a
  link to the figures file (bot.teams.report_links).
- CHANNEL: the configured duty or out-of-hours channel.
Invitations are also @mentions in the discussion's thread. Case details in a channel or group chat
pass the guard (bot.teams.guard, bot.teams.withheld) first.
"""

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from bot.config import Settings
from bot.delivery import DeliveryError
from bot.teams import guard, people, personal, routing, withheld
from bot.teams.conversations import Origin, Place, place_for
from bot.teams.keyed import post_keyed
from bot.teams.personal import Redirected
from bot.teams.sending import Sender, TeamsDeliveryError, text_activity
from dialogs.model import Card, Target, TargetKind
from dialogs.record_to_chair import version_ids
from dialogs.report_card import period
from storage.db import Database

if TYPE_CHECKING:
    from bot.teams.record_links import RecordLinks
    from bot.teams.report_links import ReportLinks

log = logging.getLogger(__name__)


@dataclass
class Batch:
    """One turn's (or one proactive delivery's) sending, with the guard's verdicts cached for it."""

    db: Database
    settings: Settings
    app_id: str
    sender: Sender
    origin: Origin | None
    sent_privately: bool = False
    verdicts: dict[tuple[str, int], guard.Verdict] = field(default_factory=dict)
    redirected: list[Redirected] = field(default_factory=list)
    links: "RecordLinks | None" = None  # the signed-off records' links (None: not in this process)
    reports: "ReportLinks | None" = None  # the figures files' links (None: not in this process)

    async def send(self, card: Card) -> None:
        kind = card.target.kind
        if kind == TargetKind.MAIN_POST:
            await self._main_post(card)
        elif kind == TargetKind.THREAD:
            await self._thread(card)
        elif kind == TargetKind.DIRECT and (ids := version_ids(card)) is not None:
            await self._record_links(card, ids)
        elif kind == TargetKind.DIRECT and (span := period(card)) is not None:
            await self._report_link(card, *span)
        elif kind in (TargetKind.DIRECT, TargetKind.EPHEMERAL):
            await self._personal(card)
        elif kind == TargetKind.CHANNEL:
            await self._channel(card)
        else:
            raise DeliveryError(f"Teams cannot show a {kind} card", retryable=False)

    async def report(self, card: Card, err: DeliveryError, *, mine: bool) -> None:
        """Tell the person acting what could not be delivered (never the card's content)."""
        if self.origin is None:
            return
        if mine:
            if self.origin.place.is_personal:
                return
            text = (
                "I could not send you a private message, so my answer is not shown here. Please open the "
                "Strategy discussion app in Teams once (Apps, then Strategy discussion), then try again."
            )
            try:
                await self.sender.post(self.origin.place.conversation_id, text_activity(text), where="here")
            except DeliveryError as again:
                log.warning("Teams fallback reply failed: %s", again)
            return
        notice = Card(
            target=Target(TargetKind.EPHEMERAL, person_id=self.origin.person_id),
            title="Not delivered",
            text=str(err),
        )
        await self._note(notice, failed="Teams failure report failed")

    async def tell_about_redirects(self, *, to: int | None = None) -> None:
        """Tell someone (the actor, else each discussion's chair) whose private chat could not be used."""
        for r in self.redirected:
            notice = await personal.redirect_notice(self.db, r, to)
            await self._note(notice, failed="Teams: could not tell anyone about an undelivered message")
        self.redirected.clear()

    async def _note(self, card: Card | None, *, failed: str) -> None:
        """The bot's own private word to someone about another message: if it fails too, that is
        logged, never raised over the failure it reports."""
        if card is None:
            return
        try:
            await self._personal(card)
        except DeliveryError as err:
            log.warning("%s: %s", failed, err)

    async def _post(
        self, place: Place, card: Card, *, scope: str, where: str, mention: tuple[str, str] | None = None
    ) -> None:
        # A form remembers the channel it was asked for in: the discussion it convenes is posted there.
        form_origin = self.origin.form_origin if self.origin is not None else ""
        await post_keyed(
            self.db,
            self.sender,
            place,
            card,
            scope=scope,
            where=where,
            form_origin=form_origin,
            mention=mention,
        )

    # --- the discussion's post ------------------------------------------------------------------

    async def _main_post(self, card: Card) -> None:
        did = card.target.discussion_id
        async with self.db.session() as session:
            stored = await place_for(session, "discussion_post", discussion_id=did)
        if stored is not None:
            place, reference = stored
            verdict = await self._verdict(place, did)
            try:
                await self.sender.update(
                    place.base_id,
                    reference["activity_id"],
                    withheld.post_activity(card, verdict),
                    where="the discussion's post",
                )
            except TeamsDeliveryError as err:
                if not err.gone:
                    raise
                stored = None  # the post was deleted: post it again below
            else:
                await self._after_post(did, verdict, was_neutral=bool(reference.get("neutral")))
        if stored is None:
            place = await routing.new_post_place(self.db, self.settings, self.origin)
            verdict = await self._verdict(place, did)
            root = await self.sender.post(
                place.base_id, withheld.post_activity(card, verdict), where="the channel"
            )
            await routing.remember_post(self.db, did, place, root, neutral=not verdict.ok)
            await self._after_post(did, verdict, was_neutral=False)

    async def _after_post(self, did: int, verdict: guard.Verdict, *, was_neutral: bool) -> None:
        await withheld.set_neutral(self.db, did, not verdict.ok)
        if not verdict.ok and not was_neutral:
            await self._tell_chair(did, verdict)
        if verdict.ok:
            await withheld.release(self.db, self.sender, did)

    async def _verdict(self, place: Place, did: int) -> guard.Verdict:
        key = (place.base_id, did)
        if key not in self.verdicts:
            ours = {place.bot_id, f"28:{self.app_id}" if self.app_id else ""} - {""}
            self.verdicts[key] = await guard.check(self.db, self.sender, place, did, bot_ids=ours)
        return self.verdicts[key]

    async def _tell_chair(self, did: int, verdict: guard.Verdict) -> None:
        card = await withheld.chair_notice(self.db, did, verdict)
        await self._note(card, failed="Teams: could not tell the chair why details were withheld")

    # --- the thread -----------------------------------------------------------------------------

    async def _thread(self, card: Card, *, mention: tuple[str, str] | None = None) -> None:
        did = card.target.discussion_id
        async with self.db.session() as session:
            stored = await place_for(session, "thread", discussion_id=did)
        if stored is None:
            raise DeliveryError("the discussion has no thread in Teams yet", retryable=False)
        place = stored[0]
        verdict = await self._verdict(place, did)
        if not verdict.ok:
            if await withheld.withhold(self.db, did, card, mention):
                await self._tell_chair(did, verdict)
            return
        await self._post(place, card, scope=f"thread:{did}", where="the discussion's thread", mention=mention)

    # --- personal chats ---------------------------------------------------------------------------

    async def _personal(self, card: Card) -> None:
        t, origin = card.target, self.origin
        person_id = t.person_id if t.person_id is not None else (origin.person_id if origin else None)
        if person_id is None:
            raise DeliveryError("the card names nobody to send it to", retryable=False)
        invitation = t.kind == TargetKind.DIRECT and (card.key or "").startswith("invitation:")
        mentioned = (
            invitation and t.discussion_id is not None and await self._mention_in_thread(card, person_id)
        )
        actor = origin if origin is not None and person_id == origin.person_id else None
        try:
            if actor is not None and actor.place.is_personal:
                place = actor.place
            else:
                place = await personal.open_chat(self.db, self.sender, person_id, actor)
                if actor is not None:
                    self.sent_privately = True
            async with self.db.session() as session:
                name = await people.display_name(session, person_id)
            await self._post(place, card, scope=f"person:{person_id}", where=f"{name}'s private chat")
        except DeliveryError as err:
            # Never lose a message about a discussion: @mention the person in its thread instead.
            if err.retryable or t.kind != TargetKind.DIRECT or t.discussion_id is None:
                raise
            if not mentioned and not await self._mention_in_thread(card, person_id):
                raise
            self.redirected.append(Redirected(person_id, t.discussion_id, str(err), about=card.preview))

    async def _record_links(self, card: Card, ids: tuple[int, ...]) -> None:
        """The record files as links in the person's own chat with the bot, or not at all: links to
        case records never go to a thread in place of a private chat."""
        person_id = card.target.person_id
        if self.links is None or person_id is None:
            raise DeliveryError("record links are not served by this process", retryable=False)
        await self.links.send(self.sender, await self._own_chat(person_id), card, ids)

    async def _report_link(self, card: Card, start: date, end: date) -> None:
        """The figures file as a link in the manager's own chat with the bot, as the record files."""
        person_id = card.target.person_id
        if self.reports is None or person_id is None:
            raise DeliveryError("report links are not served by this process", retryable=False)
        await self.reports.send(self.sender, await self._own_chat(person_id), card, start, end)

    async def _own_chat(self, person_id: int) -> Place:
        """The person's 1:1 chat with the bot: where they asked, else opened."""
        origin = self.origin
        actor = origin if origin is not None and person_id == origin.person_id else None
        if actor is not None and actor.place.is_personal:
            return actor.place
        place = await personal.open_chat(self.db, self.sender, person_id, actor)
        self.sent_privately = self.sent_privately or actor is not None
        return place

    async def _mention_in_thread(self, card: Card, person_id: int) -> bool:
        """Post the card in the discussion's thread, @mentioning the person: an invitation is seen there
        too, and a message their private chat cannot take is not lost. False if that cannot be done."""
        found = await personal.thread_mention(self.db, card, person_id)
        if found is None:
            return False
        in_thread, mention = found
        try:
            await self._thread(in_thread, mention=mention)
        except DeliveryError as err:
            log.warning("Teams: the @mention in the thread failed: %s", err)
            return False
        return True

    # --- configured channels ------------------------------------------------------------------------

    async def _channel(self, card: Card) -> None:
        async with self.db.session() as session:
            place = await routing.channel_place(session, self.settings, card.target.place or "")
        if place is None:
            raise DeliveryError(f"no Teams channel is configured for {card.target.place}", retryable=False)
        await self._post(place, card, scope=f"channel:{card.target.place}", where="the configured channel")
