"""Putting the engine's cards into Teams: where each target goes, the guard, and updates in place.

- MAIN_POST: the discussion's post in the channel where it was convened (else the duty channel, else
  the chair's chat with the bot); the same key later updates that post.
- THREAD: a reply to that post (conversation id `{channel id};messageid={post id}`).
- DIRECT and EPHEMERAL: the person's 1:1 chat with the bot (opened if need be). An answer to someone
  in a personal chat goes there; asked in a channel, it goes to their private chat, since Teams has no
  message only one person in a channel can see.
- CHANNEL: the configured duty or out-of-hours channel.
Invitations are also @mentions in the discussion's thread. Case details in a channel or group chat
pass the guard (bot.teams.guard) first. An inbound turn's cards are sent in the background, in a
proactive turn of their own, once Teams has had its answer (bot.background).
"""

import logging
import uuid
from dataclasses import dataclass, field

from microsoft_agents.hosting.core import ClaimsIdentity, TurnContext
from microsoft_agents.hosting.core.authorization import AuthenticationConstants
from microsoft_agents.hosting.core.connector import ConnectorClientBase
from sqlalchemy import select

from bot.background import Tasks
from bot.delivery import DeliveryError
from bot.teams import cards as ac
from bot.teams import guard, people
from bot.teams.conversations import PLATFORM, THREAD_MARK, Place, any_place, place_by_key, place_for
from bot.teams.sending import Sender, TeamsDeliveryError, card_activity, text_activity, translate
from dialogs.model import Card, Target, TargetKind
from storage import refs
from storage.models import ConversationRef, Discussion

log = logging.getLogger(__name__)


@dataclass
class Origin:
    """The inbound turn being answered."""

    place: Place
    user_id: str  # the actor's Teams user id (29:...)
    person_id: int
    form_origin: str = ""  # the channel a submitted form was asked for in


class TeamsSurface:
    name = "teams"

    def __init__(self, services, adapter, *, app_id: str, anonymous: bool) -> None:
        self.services = services
        self.adapter = adapter
        self.app_id = app_id
        self.anonymous = anonymous
        self.tasks = Tasks("teams")  # inbound turns' cards being sent

    @property
    def db(self):
        return self.services.db

    # --- the Surface protocol: proactive sends (reminders, the scheduler) --------------------------

    async def can_reach(self, card: Card) -> bool:
        return await self._route(card) is not None

    async def deliver(self, card: Card) -> None:
        place = await self._route(card)
        if place is None:
            raise DeliveryError(
                f"no Teams conversation is known for this {card.target.kind}", retryable=False
            )
        failure: list[BaseException] = []

        async def send(context: TurnContext) -> None:
            batch = Batch(self, self.sender(context, place, attempts=1), None)
            try:
                await batch.send(card)
            except Exception as exc:  # noqa: BLE001 - reported to the caller below, translated
                failure.append(exc)
                error = translate(exc, "Teams")
                t = card.target
                if not error.retryable and t.person_id is not None and t.discussion_id is not None:
                    batch.redirected.append(
                        Redirected(
                            t.person_id, t.discussion_id, str(error), mentioned=False, about=card.preview
                        )
                    )
            await batch.tell_about_redirects()  # the chair learns who could not be reached privately

        await self._in_turn(place, send)
        if failure:
            raise translate(failure[0], "Teams") from None

    async def _in_turn(self, place: Place, work) -> None:
        """Run `work(context)` in a proactive turn in the place: its own connector client and token."""
        await self.adapter.continue_conversation_with_claims(
            self.claims(), place.continuation(), work, AuthenticationConstants.AGENTS_SDK_SCOPE
        )

    def claims(self) -> ClaimsIdentity:
        """Who the bot is when it starts a turn itself (anonymous in local development)."""
        return ClaimsIdentity() if self.anonymous else self.adapter.create_claims_identity(self.app_id)

    def sender(self, context: TurnContext, place: Place, *, attempts: int = 3) -> Sender:
        return Sender(
            client=context.services.get(ConnectorClientBase),
            service_url=place.service_url,
            tenant_id=place.tenant_id,
            bot_id=place.bot_id,
            attempts=attempts,
        )

    async def _route(self, card: Card) -> Place | None:
        """The conversation a proactive turn for this card opens in (any one with the right service URL)."""
        t = card.target
        async with self.db.session() as session:
            if t.kind == TargetKind.MAIN_POST:
                found = await place_for(session, "discussion_post", discussion_id=t.discussion_id)
                return found[0] if found else await self._place_for_channel(session, "duty")
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
                return await self._place_for_channel(session, t.place)
        return None

    async def _place_for_channel(self, session, place_name: str) -> Place | None:
        settings = self.services.settings
        channel_id = {
            "duty": settings.teams_duty_channel_id,
            "out_of_hours": settings.teams_out_of_hours_channel_id,
        }.get(place_name)
        if not channel_id:
            return None
        found = await place_by_key(session, "channel", channel_id)
        if found:
            return found[0]
        known = await any_place(session)
        return known.elsewhere(channel_id, "channel") if known else None

    # --- answering an inbound turn ------------------------------------------------------------------

    def answer(self, cards: list[Card], origin: Origin, *, toast: bool, pointer: bool) -> str:
        """Start sending a turn's cards (in the background); returns the short text for an
        Action.Execute response (`toast`) at once.

        `pointer`: a command in a channel whose answer went to the person's private chat gets a short
        reply saying so, so they know where to look.
        """
        notes: list[str] = []
        to_send: list[Card] = []
        for card in cards:
            if (
                toast
                and _mine(card, origin)
                and not origin.place.is_personal
                and not card.form
                and not card.buttons
            ):
                notes.append(" ".join(p for p in (card.title, card.text) if p))  # shown to the clicker only
            else:
                to_send.append(card)
        if to_send:
            self.tasks.spawn(self._send_answer(to_send, origin, pointer=pointer))
        if notes:
            return " ".join(notes)[:500]
        privately = not origin.place.is_personal and any(_to_actor_privately(c, origin) for c in to_send)
        return "Done: see your private chat with me." if privately else "Done."

    async def _send_answer(self, cards: list[Card], origin: Origin, *, pointer: bool) -> None:
        async def send(context: TurnContext) -> None:
            sender = self.sender(context, origin.place)
            batch = Batch(self, sender, origin)
            for card in cards:
                try:
                    await batch.send(card)
                except DeliveryError as err:
                    log.warning("Teams delivery of a %s card failed: %s", card.target.kind, err)
                    await batch.report(card, err, mine=_mine(card, origin))
            await batch.tell_about_redirects(to=origin.person_id)
            if pointer and batch.sent_privately and not origin.place.is_personal:
                try:
                    await sender.post(
                        origin.place.conversation_id,
                        text_activity("I have answered you in your private chat with me."),
                        where="this conversation",
                    )
                except DeliveryError as err:
                    log.warning("Teams pointer reply failed: %s", err)

        await self._in_turn(origin.place, send)


def _mine(card: Card, origin: Origin) -> bool:
    """An answer for the person acting only."""
    return card.target.kind == TargetKind.EPHEMERAL and card.target.person_id in (None, origin.person_id)


def _to_actor_privately(card: Card, origin: Origin) -> bool:
    """Whether the card goes to the actor's private chat (as Batch._personal sends it)."""
    t = card.target
    person = t.person_id if t.person_id is not None else origin.person_id
    return t.kind in (TargetKind.DIRECT, TargetKind.EPHEMERAL) and person == origin.person_id


@dataclass(frozen=True)
class Redirected:
    """A message that went to the discussion's thread because the person's private chat failed."""

    person_id: int
    discussion_id: int
    reason: str
    mentioned: bool = True  # False: not delivered at all
    about: str = ""  # the card's preview: what the message was about (case reference and deadline only)


@dataclass
class Batch:
    """One turn's (or one proactive delivery's) sending, with the guard's verdicts cached for it."""

    surface: TeamsSurface
    sender: Sender
    origin: Origin | None
    sent_privately: bool = False
    verdicts: dict = field(default_factory=dict)
    redirected: list[Redirected] = field(default_factory=list)

    @property
    def db(self):
        return self.surface.db

    async def send(self, card: Card) -> None:
        kind = card.target.kind
        if kind == TargetKind.MAIN_POST:
            await self._main_post(card)
        elif kind == TargetKind.THREAD:
            await self._thread(card)
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
        try:
            await self._personal(notice)
        except DeliveryError as again:
            log.warning("Teams failure report failed: %s", again)

    # --- the discussion's post ------------------------------------------------------------------

    async def _main_post(self, card: Card) -> None:
        did = card.target.discussion_id
        async with self.db.session() as session:
            stored = await place_for(session, "discussion_post", discussion_id=did)
        if stored is not None:
            place, reference = stored
            verdict = await self._verdict(place, did)
            content = ac.fit_one(card if verdict.ok else ac.neutral(card))
            try:
                await self.sender.update(
                    place.base_id,
                    reference["activity_id"],
                    card_activity(content, summary=card.preview),
                    where="the discussion's post",
                )
            except TeamsDeliveryError as err:
                if not err.gone:
                    raise
                stored = None  # the post was deleted: post it again below
            else:
                await self._after_post(did, place, verdict, was_neutral=bool(reference.get("neutral")))
        if stored is None:
            place = await self._new_post_place()
            verdict = await self._verdict(place, did)
            content = ac.fit_one(card if verdict.ok else ac.neutral(card))
            root = await self.sender.post(
                place.base_id, card_activity(content, summary=card.preview), where="the channel"
            )
            await self._remember_post(did, place, root, neutral=not verdict.ok)
            await self._after_post(did, place, verdict, was_neutral=False)

    async def _new_post_place(self) -> Place:
        """Where a new discussion is posted: the channel it was asked for in, else the duty channel."""
        origin = self.origin
        async with self.db.session() as session:
            if origin is not None and origin.form_origin:
                found = await place_by_key(session, "channel", origin.form_origin)
                if found:
                    return found[0]
            if origin is not None and not origin.place.is_personal:
                return origin.place.elsewhere(origin.place.base_id, origin.place.conversation_type)
            duty = await self.surface._place_for_channel(session, "duty")
        if duty is not None:
            return duty
        if origin is not None:
            return origin.place
        raise DeliveryError("there is no Teams channel to post the discussion in", retryable=False)

    async def _remember_post(self, did: int, place: Place, root: str, *, neutral: bool) -> None:
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
        async with self.db.session() as session:
            await refs.save_ref(
                session, platform=PLATFORM, kind="discussion_post", key=key, reference=post, discussion_id=did
            )
            await refs.save_ref(
                session, platform=PLATFORM, kind="thread", key=thread_key, reference=thread, discussion_id=did
            )

    async def _after_post(self, did: int, place: Place, verdict: guard.Verdict, *, was_neutral: bool) -> None:
        await self._set_neutral(did, not verdict.ok)
        if not verdict.ok and not was_neutral:
            await self._tell_chair(did, verdict)
        if verdict.ok:
            await self._release_withheld(did)

    async def _set_neutral(self, did: int, neutral: bool) -> None:
        async with self.db.session() as session:
            ref = await refs.find_ref(session, platform=PLATFORM, kind="discussion_post", discussion_id=did)
            if ref is not None and bool(ref.reference.get("neutral")) != neutral:
                ref.reference = ref.reference | {"neutral": neutral}

    async def _verdict(self, place: Place, did: int) -> guard.Verdict:
        key = (place.base_id, did)
        if key not in self.verdicts:
            ours = {place.bot_id, f"28:{self.surface.app_id}" if self.surface.app_id else ""} - {""}
            self.verdicts[key] = await guard.check(self.db, self.sender, place, did, bot_ids=ours)
        return self.verdicts[key]

    async def _tell_chair(self, did: int, verdict: guard.Verdict) -> None:
        async with self.db.session() as session:
            d = await session.get(Discussion, did)
        if d is None:
            return
        text = (
            f"I posted only a short notice about *{d.case_ref}* in its channel, without the details, "
            f"because {verdict.why()}. The details appear there as soon as everyone in the channel is "
            "taking part: invite them, ask for them to be removed from the channel, or convene in a "
            "channel that holds only the people taking part."
        )
        card = Card(
            target=Target(TargetKind.DIRECT, person_id=d.chair_id, discussion_id=did),
            title=f"Details of {d.case_ref} not shown in the channel",
            text=text,
            preview=f"{d.case_ref}: details not shown in the channel",
        )
        try:
            await self._personal(card)
        except DeliveryError as err:
            log.warning("Teams: could not tell the chair why details were withheld: %s", err)

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
            await self._withhold(did, card, verdict, mention)
            return
        await self._post_keyed(
            place, card, scope=f"thread:{did}", where="the discussion's thread", mention=mention
        )

    async def _withhold(self, did: int, card: Card, verdict: guard.Verdict, mention=None) -> None:
        """Keep a thread card until the guard lets it through; the chair is told once, with the post."""
        reference = {
            "content": ac.fit_one(card),
            "summary": card.preview,
            "key": card.key or "",
            "mention": list(mention) if mention else None,
        }
        async with self.db.session() as session:
            await refs.save_ref(
                session,
                platform=PLATFORM,
                kind="withheld",
                key=f"{did}:{uuid.uuid4().hex}",
                reference=reference,
                discussion_id=did,
            )
            post = await refs.find_ref(session, platform=PLATFORM, kind="discussion_post", discussion_id=did)
            already_told = post is None or bool(post.reference.get("neutral"))
        if not already_told:
            await self._set_neutral(did, True)
            await self._tell_chair(did, verdict)

    async def _stored_thread(self, did: int) -> Place:
        async with self.db.session() as session:
            return (await place_for(session, "thread", discussion_id=did))[0]

    async def _release_withheld(self, did: int) -> None:
        async with self.db.session() as session:
            query = (
                select(ConversationRef)
                .where(
                    ConversationRef.platform == PLATFORM,
                    ConversationRef.kind == "withheld",
                    ConversationRef.discussion_id == did,
                )
                .order_by(ConversationRef.id)
            )
            held = [(ref.id, dict(ref.reference)) for ref in (await session.execute(query)).scalars()]
        if not held:
            return
        place = await self._stored_thread(did)
        for ref_id, reference in held:
            mention = tuple(reference["mention"]) if reference.get("mention") else None
            activity = card_activity(
                reference["content"], summary=reference.get("summary") or "", mention=mention
            )
            sent = await self.sender.post(place.conversation_id, activity, where="the discussion's thread")
            async with self.db.session() as session:
                if reference.get("key"):
                    await self._save_card_ref(session, f"thread:{did}", reference["key"], place, sent)
                ref = await session.get(ConversationRef, ref_id)
                if ref is not None:
                    await session.delete(ref)

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
        try:
            if origin is not None and origin.place.is_personal and person_id == origin.person_id:
                place = origin.place
            else:
                place = await self._personal_chat(person_id)
                if origin is not None and person_id == origin.person_id:
                    self.sent_privately = True
            async with self.db.session() as session:
                name = await people.display_name(session, person_id)
            await self._post_keyed(place, card, scope=f"person:{person_id}", where=f"{name}'s private chat")
        except DeliveryError as err:
            # Never lose a message about a discussion: @mention the person in its thread instead.
            if err.retryable or t.kind != TargetKind.DIRECT or t.discussion_id is None:
                raise
            if not mentioned and not await self._mention_in_thread(card, person_id):
                raise
            self.redirected.append(Redirected(person_id, t.discussion_id, str(err), about=card.preview))

    async def _personal_chat(self, person_id: int) -> Place:
        async with self.db.session() as session:
            found = await place_for(session, "person", person_id=person_id)
            name = await people.display_name(session, person_id)
            user = await people.teams_user(session, person_id)
        if found is not None:
            return found[0]
        origin = self.origin
        if origin is not None and person_id == origin.person_id:
            user = (origin.user_id, origin.place.tenant_id)
        if user is None:
            raise DeliveryError(
                f"I could not write to {name}: they have no Teams identity in the directory yet "
                "(they can open the Strategy discussion app once, or an administrator can add their "
                "Teams id)",
                retryable=False,
            )
        user_id, tenant = user
        conversation = await self.sender.open_personal_chat(user_id, where=f"{name}'s private chat")
        place = Place(
            service_url=self.sender.service_url,
            conversation_id=conversation,
            conversation_type="personal",
            tenant_id=tenant or self.sender.tenant_id,
            bot_id=self.sender.bot_id,
        )
        async with self.db.session() as session:
            await refs.save_ref(
                session,
                platform=PLATFORM,
                kind="person",
                key=conversation,
                reference=place.reference() | {"user_id": user_id},
                person_id=person_id,
            )
        return place

    async def _mention_in_thread(self, card: Card, person_id: int) -> bool:
        """Post the card in the discussion's thread, @mentioning the person: an invitation is seen there
        too, and a message their private chat cannot take is not lost. False if that cannot be done."""
        async with self.db.session() as session:
            user = await people.teams_user(session, person_id)
            name = await people.display_name(session, person_id)
            has_thread = await place_for(session, "thread", discussion_id=card.target.discussion_id)
        if user is None or has_thread is None or has_thread[0].is_personal:
            return False  # nobody to mention, or no shared thread to mention them in
        in_thread = Card(
            target=Target(TargetKind.THREAD, discussion_id=card.target.discussion_id, person_id=person_id),
            title=card.title,
            text=card.text,
            facts=card.facts,
            buttons=card.buttons,
            key=card.key,
            preview=card.preview or "a message about this strategy discussion",
        )
        try:
            await self._thread(in_thread, mention=(user[0], name))
        except DeliveryError as err:
            log.warning("Teams: the @mention in the thread failed: %s", err)
            return False
        return True

    async def tell_about_redirects(self, *, to: int | None = None) -> None:
        """Tell someone (the actor, else each discussion's chair) whose private chat could not be used."""
        for r in self.redirected:
            async with self.db.session() as session:
                d = await session.get(Discussion, r.discussion_id)
                name = await people.display_name(session, r.person_id)
            recipient = to if to is not None else (d.chair_id if d else None)
            if recipient is None or recipient == r.person_id:
                continue
            where = f"the thread of {d.case_ref}" if d else "the discussion's thread"
            then = (
                f"I @mentioned {name} in {where} instead."
                if r.mentioned
                else f"Please let {name} know, or ask them to open the Strategy discussion app in Teams once."
            )
            notice = Card(
                target=Target(TargetKind.DIRECT, person_id=recipient),
                title=f"Not delivered privately to {name}",
                text=(f"The message: {r.about}.\n\n" if r.about else "") + f"{r.reason}. {then}",
                preview=f"{d.case_ref}: a message did not reach {name}" if d else "",
            )
            try:
                await self._personal(notice)
            except DeliveryError as err:
                log.warning("Teams: could not tell anyone about an undelivered message: %s", err)
        self.redirected.clear()

    # --- configured channels ------------------------------------------------------------------------

    async def _channel(self, card: Card) -> None:
        async with self.db.session() as session:
            place = await self.surface._place_for_channel(session, card.target.place or "")
        if place is None:
            raise DeliveryError(f"no Teams channel is configured for {card.target.place}", retryable=False)
        await self._post_keyed(
            place, card, scope=f"channel:{card.target.place}", where="the configured channel"
        )

    # --- posting, and updating keyed cards in place ---------------------------------------------

    async def _post_keyed(
        self, place: Place, card: Card, *, scope: str, where: str, mention: tuple[str, str] | None = None
    ) -> None:
        conversation = place.conversation_id
        # A form remembers the channel it was asked for in: the discussion it convenes is posted there.
        origin = self.origin.form_origin if self.origin is not None else ""
        if card.key:
            async with self.db.session() as session:
                found = await refs.find_by_key(
                    session, platform=PLATFORM, kind="card", key=f"{scope}:{card.key}"
                )
                previous = dict(found.reference) if found else None
            activity = card_activity(ac.fit_one(card, origin=origin), summary=card.preview, mention=mention)
            if previous and previous.get("conversation_id") == conversation:
                try:
                    await self.sender.update(conversation, previous["activity_id"], activity, where=where)
                    return
                except TeamsDeliveryError as err:
                    if not err.gone:
                        raise
                    activity = card_activity(
                        ac.fit_one(card, origin=origin), summary=card.preview, mention=mention
                    )
            sent = await self.sender.post(conversation, activity, where=where)
            async with self.db.session() as session:
                await self._save_card_ref(session, scope, card.key, place, sent)
            return
        for content in ac.fit(card, origin=origin):
            await self.sender.post(
                conversation, card_activity(content, summary=card.preview, mention=mention), where=where
            )
            mention = None  # once is enough when a long card comes in parts

    @staticmethod
    async def _save_card_ref(session, scope: str, key: str, place: Place, activity_id: str) -> None:
        reference = {"conversation_id": place.conversation_id, "activity_id": activity_id}
        await refs.save_ref(
            session, platform=PLATFORM, kind="card", key=f"{scope}:{key}", reference=reference
        )
