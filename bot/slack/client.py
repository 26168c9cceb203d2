"""Web API clients per workspace, and Slack's errors in plain words.

Every client points at SLACK_API_URL, so operators and tests can put a stand-in in front of Slack.
No retry handler for 429 here: a rate-limited call raises, and the caller either waits Retry-After
(interactive work) or hands the retry to the outbox through DeliveryError(retry_after=...).
"""

import asyncio
import logging
from dataclasses import dataclass

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.delivery import DeliveryError
from bot.slack.workspaces import team_allowed

log = logging.getLogger(__name__)

# What a Slack error code means for the person using the bot, and what they can do about it.
EXPLAIN = {
    "cant_invite": (
        "Slack would not let me add them to the channel. Apps cannot add guests, people from other "
        "organisations or deactivated accounts; invite them yourself, or ask a workspace admin."
    ),
    "no_external_invite_permission": (
        "They belong to another organisation, and only someone in that organisation can bring them into "
        "a shared channel. Ask them to join through Slack Connect."
    ),
    "user_is_restricted": "They are a guest in this workspace, and guests cannot be added by an app.",
    "not_in_channel": (
        "I am not a member of this channel. Add me with `/invite @Strategy discussions` and try again, "
        "or use the command somewhere I am a member."
    ),
    "channel_not_found": (
        "I cannot see that channel: it may be private without me in it, archived or deleted. Add me to it, "
        "or ask your administrator to check the channel ID in the bot's settings."
    ),
    "is_archived": "That channel is archived. Unarchive it, or ask your administrator to set another one.",
    "name_taken": "A channel with that name already exists.",
    "restricted_action": (
        "Your workspace's settings do not let apps do that (for example create private channels). "
        "Ask a workspace admin to allow it, or to switch the bot to threads in an existing channel."
    ),
    "missing_scope": (
        "The app lacks a permission it needs. Ask a workspace admin to reinstall it from the manifest."
    ),
    "not_authed": "The app's token is missing. Ask a workspace admin to reinstall the app.",
    "invalid_auth": "The app's token is not valid. Ask a workspace admin to reinstall the app.",
    "account_inactive": "The app's token was revoked. Ask a workspace admin to reinstall the app.",
    "token_revoked": "The app's token was revoked. Ask a workspace admin to reinstall the app.",
    "users_not_found": "No one in this workspace has that email address.",
    "user_not_found": "That person is not in this workspace (any more).",
    "user_disabled": "That person's Slack account is deactivated.",
    "ratelimited": "Slack asked me to slow down. I will try again in a moment.",
    "expired_trigger_id": "That took too long for Slack. Please try again.",
    "push_limit_reached": "Slack shows at most three forms on top of each other. Close one and try again.",
    "message_not_found": "The message I wanted to update is gone (perhaps deleted).",
    "cant_update_message": "I cannot update that message any more.",
    "msg_too_long": "The message is longer than Slack allows.",
    "invalid_blocks": "Slack could not show the message. Please tell your administrator.",
    "no_team": (
        "I do not know which Slack workspace to use for that. Ask your administrator to set SLACK_TEAM_ID "
        "(the council's own workspace)."
    ),
    "team_not_allowed": (
        "That Slack workspace is not one the bot serves. Ask your administrator to check "
        "SLACK_ALLOWED_TEAM_IDS."
    ),
}

RETRYABLE = {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}


def explain(code: str) -> str:
    return EXPLAIN.get(code, f"Slack refused the request ({code}).")


class SlackDeliveryError(DeliveryError):
    """A DeliveryError that remembers Slack's error code, to explain it to a person."""

    def __init__(self, method: str, code: str, *, retryable: bool, retry_after: float | None = None) -> None:
        # The message names the method and Slack's code only: never anything about the case.
        super().__init__(f"slack {method}: {code}", retryable=retryable, retry_after=retry_after)
        self.method = method
        self.code = code

    @property
    def explanation(self) -> str:
        return explain(self.code)


def error_code(exc: SlackApiError) -> str:
    data = exc.response.data if isinstance(exc.response.data, dict) else {}
    return str(data.get("error") or f"http_{exc.response.status_code}")


def as_delivery_error(method: str, exc: BaseException) -> SlackDeliveryError:
    """Map a failed Web API call: 429 with its Retry-After, 5xx and network trouble are retryable."""
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        code = error_code(exc)
        if status == 429:
            return SlackDeliveryError(method, "ratelimited", retryable=True, retry_after=_retry_after(exc))
        return SlackDeliveryError(method, code, retryable=status >= 500 or code in RETRYABLE)
    if isinstance(exc, aiohttp.ClientError | asyncio.TimeoutError | TimeoutError | ConnectionError):
        return SlackDeliveryError(method, type(exc).__name__, retryable=True)
    raise exc


def _retry_after(exc: SlackApiError) -> float:
    headers = {k.lower(): v for k, v in (exc.response.headers or {}).items()}
    value = headers.get("retry-after")
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return 1.0  # Slack always sends it; be gentle if a proxy dropped it


async def call(client: AsyncWebClient, method: str, **kwargs) -> dict:
    """One Web API call through slack_sdk's typed method (`chat.postMessage` -> `chat_postMessage`);
    failures become SlackDeliveryError."""
    try:
        response = await getattr(client, method.replace(".", "_"))(**kwargs)
    except Exception as exc:  # mapped, or re-raised when it is not about Slack
        raise as_delivery_error(method, exc) from None
    return response.data if isinstance(response.data, dict) else {}


@dataclass
class Identity:
    team_id: str
    bot_user_id: str
    enterprise_id: str | None = None

    @property
    def tenant(self) -> str:
        """The workspace (or, for an organisation-wide install, the organisation) the bot is in."""
        return self.team_id or self.enterprise_id or ""


class Clients:
    """A Web API client for each workspace: the one bot token, or the installation's token (OAuth).

    With many workspaces the workspace is always named: there is no "any" or "newest" installation,
    so nothing meant for one council can reach another's workspace."""

    def __init__(self, settings: Settings, installations: AsyncInstallationStore | None = None) -> None:
        self.settings = settings
        self.installations = installations
        self._single: Identity | None = None
        # One HTTP session for every Web API call, and one client per token (per workspace): a new
        # session per call costs a TCP and TLS handshake each time.
        self._session: aiohttp.ClientSession | None = None
        self._clients: dict[str | None, AsyncWebClient] = {}

    @property
    def single_token(self) -> str | None:
        token = self.settings.slack_bot_token
        return token.get_secret_value() if token and token.get_secret_value() else None

    def client(self, token: str | None = None) -> AsyncWebClient:
        """The workspace's client (called in the event loop: the shared session belongs to it)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._clients.clear()
        if token not in self._clients:
            self._clients[token] = AsyncWebClient(
                token=token, base_url=self.settings.slack_api_url, timeout=15, session=self._session
            )
        return self._clients[token]

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        self._session = None
        self._clients.clear()

    async def for_team(self, team_id: str | None) -> tuple[AsyncWebClient, Identity]:
        """The client and the bot's identity in a workspace (or an organisation, E...). With one bot
        token that is its workspace whatever is asked; with many, `team_id` must name an installation."""
        if self.single_token:
            client = self.client(self.single_token)
            if self._single is None:
                auth = await call(client, "auth.test")
                self._single = Identity(
                    team_id=auth.get("team_id", ""),
                    bot_user_id=auth.get("user_id", ""),
                    enterprise_id=auth.get("enterprise_id") or None,
                )
            return client, self._single
        if self.installations is None:
            raise SlackDeliveryError("authorize", "not_authed", retryable=False)
        if not team_id:
            raise SlackDeliveryError("authorize", "no_team", retryable=False)
        org = team_id.startswith("E")
        bot = await self.installations.async_find_bot(
            enterprise_id=team_id if org else None,
            team_id=None if org else team_id,
            is_enterprise_install=org,
        )
        if bot is None or not bot.bot_token:
            raise SlackDeliveryError("authorize", "not_authed", retryable=False)
        if not team_allowed(
            self.settings, bot.team_id, bot.enterprise_id
        ):  # installed before the list was set
            raise SlackDeliveryError("authorize", "team_not_allowed", retryable=False)
        return self.client(bot.bot_token), Identity(
            team_id=bot.team_id or "", bot_user_id=bot.bot_user_id or "", enterprise_id=bot.enterprise_id
        )

    async def home(self) -> tuple[AsyncWebClient, Identity]:
        """The council's own workspace: the bot token's, or SLACK_TEAM_ID's installation. It holds the
        duty channels and is where people known only by email are looked for."""
        return await self.for_team(self.settings.slack_team_id)
