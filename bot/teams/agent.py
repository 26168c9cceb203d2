"""Teams activities in, Turns to the engine: commands, card actions, and replies in a discussion's thread.

- A message in the bot's personal chat, or one that @mentions it in a channel or group chat, is a
  command: "convene", "status", "due" or "help" (the manifest lists them).
- A reply in a discussion's thread is a contribution, with or without an @mention: the app has the
  resource-specific permission ChannelMessage.Read.Group, so Teams sends every channel message.
- A card action arrives as an `adaptiveCard/action` invoke (Action.Execute) or as a message with a
  `value` (its Action.Submit fallback); both become the same BUTTON or FORM turn.
Every conversation the bot is in is remembered (storage.refs) for reminders and direct messages.
"""

import hashlib
import html
import logging
import re

from microsoft_agents.activity import (
    Activity,
    AdaptiveCardInvokeResponse,
    AdaptiveCardInvokeValue,
    ChannelAccount,
)
from microsoft_agents.hosting.core import ActivityHandler, TurnContext

from bot.delivery import DeliveryError
from bot.teams import conversations, people
from bot.teams.cards import read_submission
from bot.teams.conversations import Place, place_of
from bot.teams.sending import Sender, text_activity
from bot.teams.surface import Origin, TeamsSurface
from dialogs.model import Actor, Turn, TurnKind
from storage import refs

log = logging.getLogger(__name__)

COMMANDS = ("convene", "status", "due", "help")
WELCOME = (
    "Hello. I help run child-protection strategy discussions. {how} *convene* to start one, "
    "*status* or *due* to see where things stand, or *help*."
)
NOT_KNOWN = (
    "Sorry, I cannot act for you yet: you are not in the strategy discussion directory, and your "
    "email address does not belong to a partner agency I know. Please ask your administrator to add you."
)
_AT = re.compile(r"<at>.*?</at>", re.DOTALL)


class TeamsAgent(ActivityHandler):
    def __init__(self, surface: TeamsSurface) -> None:
        self.surface = surface

    @property
    def services(self):
        return self.surface.services

    async def on_turn(self, turn_context: TurnContext):
        activity = turn_context.activity
        if activity.conversation is not None and activity.service_url:
            await self._remember(activity)
        return await super().on_turn(turn_context)

    async def _remember(self, activity: Activity) -> None:
        place = place_of(activity)
        user = activity.from_property or ChannelAccount()
        async with self.services.db.session() as session:
            person_id = None
            if place.is_personal and user.id:
                actor = await people.resolve(
                    session, user_id=user.id, aad_object_id=user.aad_object_id or "", tenant=place.tenant_id
                )
                person_id = actor.person_id if actor else None
            await conversations.remember(session, place, user_id=user.id or "", person_id=person_id)

    # --- messages: commands, thread replies, Action.Submit ---------------------------------------

    async def on_message_activity(self, turn_context: TurnContext):
        activity = turn_context.activity
        place = place_of(activity)
        if (activity.from_property and activity.from_property.id or "").startswith("28:"):
            return  # another bot in the channel (Teams does not send the bot its own messages)
        if activity.value is not None:
            submission = read_submission(activity.value)
            if submission is not None:
                await self._act(
                    turn_context,
                    place,
                    submission.kind,
                    submission.name,
                    submission.value,
                    fields=submission.fields,
                    form_origin=submission.origin,
                )
            return  # a card that is not ours (or an old one): nothing to do
        text, mentioned = _text_of(activity)
        words = text.split(None, 1)
        command = words[0].lower() if words else ""
        rest = words[1] if len(words) > 1 else ""
        discussion_id = None if place.is_personal else await self._discussion_of(place)
        if place.is_personal or (mentioned and (command in COMMANDS or discussion_id is None)):
            await self._act(
                turn_context,
                place,
                TurnKind.COMMAND,
                command or "help",
                rest.strip(),
                discussion_id=discussion_id,
                pointer=True,
            )
        elif discussion_id is not None:
            await self._act(
                turn_context, place, TurnKind.REPLY, "", "", text=text, discussion_id=discussion_id
            )
        # Anything else in a channel is people talking among themselves: not for the bot.

    async def _discussion_of(self, place: Place) -> int | None:
        async with self.services.db.session() as session:
            ref = await refs.find_by_key(
                session, platform=conversations.PLATFORM, kind="thread", key=place.conversation_id
            )
        return ref.discussion_id if ref is not None else None

    # --- Action.Execute ------------------------------------------------------------------------------

    async def on_adaptive_card_invoke(self, turn_context: TurnContext, invoke_value: AdaptiveCardInvokeValue):
        submission = read_submission(invoke_value.action.data)
        if submission is None:
            toast = "This card is out of date: please use the latest one."
        else:
            toast = await self._act(
                turn_context,
                place_of(turn_context.activity),
                submission.kind,
                submission.name,
                submission.value,
                fields=submission.fields,
                form_origin=submission.origin,
                toast=True,
            )
        return AdaptiveCardInvokeResponse(
            status_code=200, type="application/vnd.microsoft.activity.message", value=toast or "Done."
        )

    # --- installation ------------------------------------------------------------------------------

    async def on_members_added_activity(self, members_added, turn_context: TurnContext):
        activity = turn_context.activity
        bot_id = activity.recipient.id if activity.recipient else None
        if not any(m.id == bot_id for m in members_added or []):
            return
        place = place_of(activity)
        how = "Send me" if place.is_personal else "Mention me with"
        sender = self.surface.sender(turn_context, place)
        try:
            await sender.post(
                place.base_id, text_activity(WELCOME.format(how=how)), where="this conversation"
            )
        except DeliveryError as err:
            log.warning("Teams welcome message failed: %s", err)

    # --- the turn ------------------------------------------------------------------------------------

    async def _act(
        self,
        turn_context: TurnContext,
        place: Place,
        kind: TurnKind,
        name: str,
        value: str,
        *,
        fields: dict | None = None,
        text: str = "",
        discussion_id: int | None = None,
        form_origin: str = "",
        toast: bool = False,
        pointer: bool = False,
    ) -> str:
        activity = turn_context.activity
        user = activity.from_property or ChannelAccount()
        sender = self.surface.sender(turn_context, place)
        actor = await self._actor(sender, place, user)
        if actor is None:
            await self._not_known(sender, place, user)
            return NOT_KNOWN
        if not form_origin and not place.is_personal:
            form_origin = place.base_id
        turn = Turn(
            actor=actor,
            kind=kind,
            name=name,
            value=value,
            fields=fields or {},
            text=text,
            discussion_id=discussion_id,
            channel="teams",
            event_id=event_id(place, activity),
        )
        cards = await self.services.dialogs.handle(turn)
        origin = Origin(
            place=place, user_id=user.id or "", person_id=actor.person_id, form_origin=form_origin
        )
        return await self.surface.answer(cards, sender, origin, toast=toast, pointer=pointer)

    async def _actor(self, sender: Sender, place: Place, user: ChannelAccount) -> Actor | None:
        """The directory person behind the Teams user; looked up by email (their Teams profile) if new."""
        aad = user.aad_object_id or ""
        async with self.services.db.session() as session:
            actor = await people.resolve(
                session, user_id=user.id or "", aad_object_id=aad, tenant=place.tenant_id
            )
            if actor is not None:
                await self._link_chat(session, place, actor)
                return actor
        profile = await sender.member(place.team_id or place.base_id, user.id) if user.id else None
        email = (profile.email or profile.user_principal_name) if profile else None
        if not email:
            return None
        async with self.services.db.session() as session:
            actor = await people.resolve_or_register(
                session,
                self.services.procedure,
                user_id=user.id or "",
                aad_object_id=aad,
                tenant=place.tenant_id,
                email=email,
                name=(profile.name if profile else None) or user.name or "",
                domain_rules=self.services.settings.directory_domain_rules,
            )
            if actor is not None:
                await self._link_chat(session, place, actor)
        return actor

    @staticmethod
    async def _link_chat(session, place: Place, actor: Actor) -> None:
        """A personal chat's reference gets its person, for direct messages."""
        if place.is_personal:
            await refs.save_ref(
                session,
                platform=conversations.PLATFORM,
                kind="person",
                key=place.base_id,
                person_id=actor.person_id,
            )

    async def _not_known(self, sender: Sender, place: Place, user: ChannelAccount) -> None:
        try:
            chat = (
                place.base_id
                if place.is_personal
                else await sender.open_personal_chat(user.id, where="their private chat")
            )
            await sender.post(chat, text_activity(NOT_KNOWN), where="their private chat")
        except DeliveryError as err:
            log.warning("Teams: could not tell an unknown user why nothing happened: %s", err)


def _text_of(activity: Activity) -> tuple[str, bool]:
    """The message text without the bot's @mention, and whether it mentioned the bot."""
    text = activity.text or ""
    bot_id = activity.recipient.id if activity.recipient else None
    mentioned = False
    for mention in activity.get_mentions():
        if mention.mentioned and mention.mentioned.id == bot_id:
            mentioned = True
            if mention.text:
                text = text.replace(mention.text, " ")
    text = _AT.sub(lambda m: m.group(0)[4:-5], text) if "<at>" in text else text  # others' names stay
    return html.unescape(text).strip(), mentioned


def event_id(place: Place, activity: Activity) -> str:
    """A bounded, stable id for de-duplication: Teams message ids are unique per conversation."""
    raw = f"{place.base_id}|{activity.type}|{activity.id or ''}"
    return hashlib.sha256(raw.encode()).hexdigest()
