"""The bot's calls to the Teams Bot Connector for one turn or one proactive delivery.

Throttling (429) and transient failures (412, 502, 503, 504, network) are retried with exponential
back-off and jitter, honouring Retry-After. What still fails becomes a DeliveryError whose message can
be shown to the chair: it names where the bot could not write, never what it was writing.
"""

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
from microsoft_agents.activity import (
    Activity,
    ActivityTypes,
    Attachment,
    ChannelAccount,
    ConversationParameters,
    ConversationResourceResponse,
    Mention,
)
from microsoft_agents.activity.teams import TeamsChannelAccount
from microsoft_agents.hosting.core.connector.teams import TeamsConnectorClient

from bot.delivery import DeliveryError
from bot.teams.cards import CONTENT_TYPE

log = logging.getLogger(__name__)

RETRYABLE = {412, 429, 502, 503, 504}


class TeamsDeliveryError(DeliveryError):
    """A DeliveryError that keeps the Bot Connector's status and error code."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        status: int = 0,
        code: str = "",
    ) -> None:
        super().__init__(message, retryable=retryable, retry_after=retry_after)
        self.status = status
        self.code = code

    @property
    def gone(self) -> bool:
        """The conversation or message no longer exists (deleted, or the team was)."""
        return self.status == 404 or self.code in (
            "ConversationNotFound",
            "ActivityNotFound",
            "MessageNotFound",
        )


PAGE_SIZE = 200  # members per page (Teams allows 50-500)


@dataclass
class Sender:
    client: TeamsConnectorClient
    service_url: str
    tenant_id: str
    bot_id: str
    attempts: int = 3  # tries per call; 1 for the scheduler, which retries later itself
    max_wait: float = 3.0  # seconds per wait: Teams expects a turn to be answered within 15

    async def post(self, conversation_id: str, activity: Activity, *, where: str) -> str:
        """A new message (in a channel: a new post; to `{channel};messageid={root}`: a reply)."""
        result = await self._call(
            lambda: self.client.conversations.send_to_conversation(conversation_id, activity), where
        )
        return result.id or ""

    async def update(self, conversation_id: str, activity_id: str, activity: Activity, *, where: str) -> None:
        activity.id = activity_id
        await self._call(
            lambda: self.client.conversations.update_activity(conversation_id, activity_id, activity), where
        )

    async def open_personal_chat(self, user_id: str, *, where: str) -> str:
        """The 1:1 chat between the bot and a user (Teams returns the same one each time)."""
        fields: dict = {"is_group": False, "members": [ChannelAccount(id=user_id)]}
        if self.bot_id:
            fields["agent"] = ChannelAccount(id=self.bot_id)
        if self.tenant_id:
            fields |= {"tenant_id": self.tenant_id, "channel_data": {"tenant": {"id": self.tenant_id}}}
        body = ConversationParameters(**fields).model_dump(by_alias=True, exclude_unset=True, mode="json")
        result = await self._call(lambda: self._create_conversation(body), where)
        if not result.id:
            raise DeliveryError(f"Teams did not open a chat with {where}", retryable=True)
        return result.id

    async def _create_conversation(self, body: dict) -> ConversationResourceResponse:
        # The SDK's create_conversation drops the error body, and with it the code the chair is told
        # (BotNotInConversationRoster); this is the same call on the SDK client's authenticated session.
        async with self.client.client.post("v3/conversations", json=body) as response:
            text = await response.text()
            if response.status not in (200, 201, 202):
                raise aiohttp.ClientResponseError(
                    response.request_info,
                    response.history,
                    status=response.status,
                    message=text,
                    headers=response.headers,
                )
            return ConversationResourceResponse.model_validate_json(text)

    async def members(self, conversation_id: str, *, where: str) -> list[TeamsChannelAccount]:
        """Everyone in a channel's team or a chat, page by page."""
        members: list[TeamsChannelAccount] = []
        token = ""
        while True:
            page = await self._call(
                lambda t=token: self.client.get_conversation_paged_member(conversation_id, PAGE_SIZE, t),
                where,
            )
            members.extend(page.members or [])
            token = page.continuation_token or ""
            if not token:
                return members

    async def member(self, conversation_id: str, user_id: str) -> TeamsChannelAccount | None:
        try:
            return await self._call(
                lambda: self.client.get_conversation_member(conversation_id, user_id), "a member's profile"
            )
        except DeliveryError:
            return None

    async def _call[T](self, call: Callable[[], Awaitable[T]], where: str) -> T:
        for attempt in range(1, self.attempts + 1):
            try:
                return await call()
            except Exception as exc:  # noqa: BLE001 - every failure is translated, none escapes raw
                error = translate(exc, where)
                log.warning("Teams call failed (%s, attempt %d): %s", type(exc).__name__, attempt, error)
                if not error.retryable or attempt == self.attempts:
                    raise error from None
                await asyncio.sleep(backoff(attempt, error.retry_after, self.max_wait))
        raise AssertionError("unreachable")


def backoff(attempt: int, retry_after: float | None, cap: float) -> float:
    """Seconds to wait before the next try: Retry-After if given, else exponential with jitter."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), cap)
    return min(cap, 0.5 * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)


def translate(exc: BaseException, where: str) -> DeliveryError:
    """A DeliveryError that says, for the chair, where the bot could not write and why."""
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, aiohttp.ClientResponseError):
        status, code = exc.status, error_code(exc.message)

        def failed(text: str, retryable: bool, wait: float | None = None) -> TeamsDeliveryError:
            return TeamsDeliveryError(text, retryable=retryable, retry_after=wait, status=status, code=code)

        if status in RETRYABLE:
            return failed(
                f"Teams asked me to wait before writing to {where} (HTTP {status}); I will try again",
                True,
                retry_after(exc.headers),
            )
        if code == "BotNotInConversationRoster" or status == 403:
            return failed(
                f"I could not write to {where}: the Strategy discussion app is not installed there "
                f"or was removed ({code or 'HTTP 403'})",
                False,
            )
        if code == "ConversationNotFound" or status == 404:
            return failed(
                f"I could not write to {where}: Teams no longer knows that conversation "
                f"({code or 'HTTP 404'})",
                False,
            )
        if status == 413:
            return failed(f"I could not write to {where}: the message was too large", False)
        return failed(
            f"I could not write to {where} (HTTP {status}{', ' + code if code else ''})", status >= 500
        )
    if isinstance(exc, aiohttp.ClientError | asyncio.TimeoutError | ConnectionError):
        return DeliveryError(f"I could not reach Teams to write to {where}; I will try again", retryable=True)
    return DeliveryError(f"I could not write to {where} ({type(exc).__name__})", retryable=False)


def error_code(body: str | None) -> str:
    """The Bot Connector's ErrorResponse code (`{"error": {"code": ...}}`), if the body is one."""
    try:
        error = json.loads(body or "").get("error") or {}
    except (ValueError, AttributeError):
        return ""
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else ""


def retry_after(headers) -> float | None:
    try:
        return float(headers.get("Retry-After")) if headers and headers.get("Retry-After") else None
    except (TypeError, ValueError):
        return None


def card_activity(content: dict, *, summary: str, mention: tuple[str, str] | None = None) -> Activity:
    """A message carrying one Adaptive Card; `summary` is all a notification preview may show.

    `mention` = (user id, display name): the message then @mentions them, which Teams needs both
    in the text (`<at>Name</at>`) and as a mention entity with the same text.
    """
    activity = Activity(
        type=ActivityTypes.message,
        summary=summary or "Strategy discussion",
        attachments=[Attachment(content_type=CONTENT_TYPE, content=content)],
    )
    if mention is not None:
        user_id, name = mention
        tag = f"<at>{name}</at>"
        activity.text = f"{tag} {summary or 'please see below.'}"
        activity.entities = [Mention(mentioned=ChannelAccount(id=user_id, name=name), text=tag)]
    return activity


def text_activity(text: str) -> Activity:
    return Activity(type=ActivityTypes.message, text=text, text_format="markdown")
