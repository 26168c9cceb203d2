"""Teams activities in, Turns to the engine: commands, card actions, and replies in a discussion's thread.

- A message in the bot's personal chat, or one that @mentions it in a channel or group chat, is a
  command: "convene", "status", "due", "report" or "help" (the manifest lists them).
- A reply in a discussion's thread is a contribution, with or without an @mention: the app has the
  resource-specific permission ChannelMessage.Read.Group, so Teams sends every channel message.
- A card action arrives as an `adaptiveCard/action` invoke (Action.Execute) or as a message with a
  `value` (its Action.Submit fallback); both become the same BUTTON or FORM turn.
Every conversation the bot is in is remembered (storage.refs) for reminders and direct messages.
Activities from a tenant the bot does not serve (bot.teams.tenants) are refused before any of this.
The engine's turn is committed within the request; its cards are sent afterwards, in the background
(TeamsSurface.answer), so that Teams gets its answer promptly.
"""

import hashlib
import html
import logging
import re

from microsoft_agents.activity import (
    Activity,
    ActivityTypes,
    AdaptiveCardInvokeResponse,
    AdaptiveCardInvokeValue,
    ChannelAccount,
)
from microsoft_agents.hosting.core import ActivityHandler, TurnContext

from bot.delivery import DeliveryError
from bot.teams import conversations, people, tenants
from bot.teams.cards import Submission, is_ours, read_submission
from bot.teams.conversations import Place, place_of
from bot.teams.sending import Sender, text_activity
from bot.teams.surface import Origin, TeamsSurface
from dialogs.model import Actor, Turn, TurnKind
from storage import refs

log = logging.getLogger(__name__)

COMMANDS = ("convene", "status", "due", "report", "help")
WELCOME = (
    "Hello. I help run child-protection strategy discussions. {how} *convene* to start one, "
    "*status* or *due* to see where things stand, or *help*."
)
NOT_KNOWN = (
    "Sorry, I cannot act for you yet: you are not in the strategy discussion directory, and your "
    "email address does not belong to a partner agency I know. Please ask your administrator to add you."
)
OTHER_TENANT = (
    "Sorry, I cannot help here: this strategy discussion app serves only the council's own Microsoft 365 "
    "organisation and the partner organisations it works with. Please ask your administrator."
)
OUT_OF_DATE = "This card is out of date or was changed, so nothing was done: please use the latest one."
_AT = re.compile(r"<at>.*?</at>", re.DOTALL)


class TeamsAgent(ActivityHandler):
    def __init__(self, surface: TeamsSurface) -> None:
        self.surface = surface

    @property
    def services(self):
        return self.surface.services

    async def on_turn(self, turn_context: TurnContext):
        activity = turn_context.activity
        if not tenants.activity_allowed(self.services.settings, activity):
            return await self._refuse_tenant(turn_context)
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

    async def _refuse_tenant(self, turn_context: TurnContext) -> None:
        """Say no, politely, to an activity from a tenant the bot does not serve; store nothing."""
        activity = turn_context.activity
        log.warning(
            "Teams: refused an activity from another tenant (%s)", ", ".join(sorted(tenants.of(activity)))
        )
        if activity.type == ActivityTypes.invoke and activity.name == "adaptiveCard/action":
            response = AdaptiveCardInvokeResponse(
                status_code=200, type="application/vnd.microsoft.activity.message", value=OTHER_TENANT
            )
            invoke = self._create_invoke_response(response).model_dump(by_alias=True, exclude_none=True)
            await turn_context.send_activity(Activity(type=ActivityTypes.invoke_response, value=invoke))
            return
        if activity.type != ActivityTypes.message or activity.conversation is None:
            return
        place = place_of(activity)
        if place.is_personal or activity.value is not None or _text_of(activity)[1]:
            try:
                await self.surface.sender(turn_context, place).post(
                    place.conversation_id, text_activity(OTHER_TENANT), where="this conversation"
                )
            except DeliveryError as err:
                log.warning("Teams: could not answer an activity from another tenant: %s", err)

    # --- messages: commands, thread replies, Action.Submit ---------------------------------------

    async def on_message_activity(self, turn_context: TurnContext):
        activity = turn_context.activity
        place = place_of(activity)
        if (activity.from_property and activity.from_property.id or "").startswith("28:"):
            return  # another bot in the channel (Teams does not send the bot its own messages)
        if activity.value is not None:
            submission = read_submission(activity.value)
            if submission is not None:
                await self._submit(turn_context, place, submission)
            elif is_ours(activity.value):  # changed, or from before a restart
                sender = self.surface.sender(turn_context, place)
                try:
                    await sender.post(place.conversation_id, text_activity(OUT_OF_DATE), where="here")
                except DeliveryError as err:
                    log.warning("Teams: could not say a card was out of date: %s", err)
            return  # a card that is not ours: nothing to do
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
        async with self.services.db.read() as session:
            ref = await refs.find_by_key(
                session, platform=conversations.PLATFORM, kind="thread", key=place.conversation_id
            )
        return ref.discussion_id if ref is not None else None

    # --- Action.Execute ------------------------------------------------------------------------------

    async def on_adaptive_card_invoke(self, turn_context: TurnContext, invoke_value: AdaptiveCardInvokeValue):
        submission = read_submission(invoke_value.action.data)
        if submission is None:
            toast = (
                OUT_OF_DATE
                if is_ours(invoke_value.action.data)
                else "This card is out of date: please use the latest one."
            )
        else:
            toast = await self._submit(turn_context, place_of(turn_context.activity), submission, toast=True)
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

    async def _submit(
        self, turn_context: TurnContext, place: Place, submission: Submission, *, toast: bool = False
    ) -> str:
        return await self._act(
            turn_context,
            place,
            submission.kind,
            submission.name,
            submission.value,
            fields=submission.fields,
            form_origin=submission.origin,
            nonce=submission.nonce,
            toast=toast,
        )

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
        nonce: str = "",
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
        if not place.is_personal:  # asked here: the card's own (signed) origin is not needed
            form_origin = place.base_id
        origin = Origin(
            place=place, user_id=user.id or "", person_id=actor.person_id, form_origin=form_origin
        )
        turn = Turn(
            actor=actor,
            kind=kind,
            name=name,
            value=value,
            fields=fields or {},
            text=text,
            discussion_id=discussion_id,
            channel="teams",
            event_id=card_event_id(user.id or "", nonce) if nonce else event_id(place, activity),
            origin=origin.to_dict(),
        )
        result = await self.services.dialogs.handle(turn)
        return self.surface.answer(result, origin, toast=toast, pointer=pointer)

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
        # Someone from another tenant (a guest, or a shared channel's member) says who they are in a
        # profile their own tenant controls: their email proves nothing unless we trust that tenant.
        home = (profile.tenant_id if profile else None) or place.tenant_id
        if not email or not tenants.trusted(self.services.settings, home):
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


def card_event_id(user_id: str, nonce: str) -> str:
    """A card action's event id: its rendered nonce, per person (others may press the same button)."""
    return hashlib.sha256(f"card|{user_id}|{nonce}".encode()).hexdigest()


def event_id(place: Place, activity: Activity) -> str:
    """A bounded, stable id for de-duplication: Teams message ids are unique per conversation."""
    raw = f"{place.base_id}|{activity.type}|{activity.id or ''}"
    return hashlib.sha256(raw.encode()).hexdigest()
