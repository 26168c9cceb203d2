"""The Bolt app: one request URL (`POST /slack/events`) on our aiohttp application for events, slash
commands, shortcuts and interactivity; the OAuth install routes when many workspaces are served;
Socket Mode instead of the request URL when an app-level token is set.

Bolt verifies every HTTP request's v0 signature and its timestamp (at most 5 minutes old) before any
listener runs; a request that fails gets 401 and changes nothing.
"""

import asyncio
import logging
import re
from dataclasses import replace

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import ConfigError, Settings
from bot.slack import blocks
from bot.slack.client import Clients, SlackDeliveryError
from bot.slack.interact import Interaction, Interactions, where
from bot.slack.stores import DatabaseInstallationStore, DatabaseStateStore
from bot.slack.surface import SlackSurface
from bot.slack.workspaces import AllowedTeamsOAuthFlow, allowed_teams, only_allowed_teams

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
SHUTDOWN_GRACE = 10.0  # seconds
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
COMMAND = "/strategy"
CONVENE_SHORTCUT = "strategy_convene"  # global shortcut: "Convene a strategy discussion"
MESSAGE_SHORTCUT = (
    "strategy_from_message"  # message shortcut: "Start a strategy discussion from this message"
)

# The Web API methods the code calls and the bot scopes each needs (tests/slack checks that the code
# calls nothing else and that the manifests ask for exactly these scopes).
METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    "auth.revoke": (),  # an installation from a workspace not allowed is given back at once
    "auth.test": (),
    "chat.getPermalink": (),
    "chat.postEphemeral": ("chat:write",),
    "chat.postMessage": ("chat:write",),
    "chat.update": ("chat:write",),
    "conversations.create": ("groups:write",),
    "conversations.invite": ("groups:write",),
    "conversations.members": ("channels:read", "groups:read"),
    "conversations.open": ("im:write",),
    "pins.add": ("pins:write",),
    "users.info": ("users:read",),
    "users.lookupByEmail": ("users:read.email",),
    "views.open": (),
    "views.publish": (),
    "views.push": (),
    "views.update": (),
}
# Bot events the app subscribes to, and the scope each needs.
EVENT_SCOPES: dict[str, str | None] = {
    "message.channels": "channels:history",  # replies in a discussion's thread, public channel
    "message.groups": "groups:history",  # replies in a discussion's thread, private channel
    "app_home_opened": None,
}
FEATURE_SCOPES = ("commands",)
ONLY_THE_CHAIR = "Only the chair of the discussion can confirm who may see it, or check again and post."
NOT_INSTALLED = (
    "The Strategy discussions app is not installed in this workspace yet. "
    f"Please ask a workspace admin to install it (the bot's {INSTALL_PATH} page)."
)  # the slash command and both shortcuts


def bot_scopes() -> list[str]:
    scopes = {s for needed in METHOD_SCOPES.values() for s in needed}
    scopes |= {s for s in EVENT_SCOPES.values() if s}
    return sorted(scopes | set(FEATURE_SCOPES))


def _secret(value) -> str | None:
    return value.get_secret_value() if value is not None and value.get_secret_value() else None


def check(settings: Settings) -> None:
    """Raise ConfigError naming what is missing or contradictory."""
    problems = []
    if not _secret(settings.slack_signing_secret):
        problems.append(
            "SLACK_SIGNING_SECRET is required (Basic Information > App Credentials > Signing Secret)"
        )
    token, oauth = (
        _secret(settings.slack_bot_token),
        bool(settings.slack_client_id or settings.slack_client_secret),
    )
    if oauth and not (settings.slack_client_id and _secret(settings.slack_client_secret)):
        problems.append("for many workspaces set both SLACK_CLIENT_ID and SLACK_CLIENT_SECRET")
    if token and oauth:
        problems.append("set SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID/SECRET (many), not both")
    if not token and not oauth:
        problems.append(
            "set SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (many)"
        )
    team_channels = settings.slack_duty_channel or settings.slack_out_of_hours_channel
    if oauth and team_channels and not settings.slack_team_id:  # the bot never guesses a workspace
        problems.append(
            "with many workspaces, SLACK_DUTY_CHANNEL and SLACK_OUT_OF_HOURS_CHANNEL need SLACK_TEAM_ID "
            "(the id of the workspace those channels are in)"
        )
    allowed = allowed_teams(settings)
    if settings.slack_team_id and allowed and settings.slack_team_id not in allowed:
        problems.append("SLACK_TEAM_ID must be one of SLACK_ALLOWED_TEAM_IDS")
    if problems:
        raise ConfigError("Slack is half configured: " + "; ".join(problems))


def quiet_sdk_logs() -> None:
    """slack_sdk and Bolt log whole request and response bodies at DEBUG, and those carry case
    details: keep their loggers at INFO or above whatever LOG_LEVEL says."""
    for name in ("slack_sdk", "slack_bolt"):
        logger = logging.getLogger(name)
        if logger.level < logging.INFO:  # NOTSET too: it would follow a DEBUG root logger
            logger.setLevel(logging.INFO)


class SlackApp:
    """Everything the Slack surface runs: the Bolt app, the Surface, and the listeners' work."""

    def __init__(self, services, *, submit_budget: float | None = None) -> None:
        settings: Settings = services.settings
        check(settings)
        quiet_sdk_logs()
        self.settings = settings
        self.services = services
        oauth = bool(settings.slack_client_id)
        self.installations = (
            DatabaseInstallationStore(services.db, settings.slack_client_id or "") if oauth else None
        )
        self.clients = Clients(settings, self.installations)
        self.surface = SlackSurface(settings, services.db, self.clients)
        self.work = Interactions(
            services, self.surface, **({"submit_budget": submit_budget} if submit_budget is not None else {})
        )
        token = _secret(settings.slack_bot_token)
        common = {
            "signing_secret": _secret(settings.slack_signing_secret),
            "client": AsyncWebClient(token=token, base_url=settings.slack_api_url, timeout=15),
            "process_before_response": False,  # ack first, work after
            "user_facing_authorize_error_message": NOT_INSTALLED,
            "logger": logging.getLogger("slack_bolt.app"),
        }
        if allowed_teams(settings):  # checked before Bolt even looks for the workspace's installation
            common["before_authorize"] = only_allowed_teams(settings)
        if oauth:
            if not allowed_teams(settings):
                log.warning("slack: SLACK_ALLOWED_TEAM_IDS is not set, so any workspace can install the app")
            common["oauth_flow"] = AllowedTeamsOAuthFlow(
                settings,
                logger=common["logger"],
                settings=AsyncOAuthSettings(
                    client_id=settings.slack_client_id,
                    client_secret=_secret(settings.slack_client_secret),
                    scopes=bot_scopes(),
                    user_scopes=[],
                    install_path=INSTALL_PATH,
                    redirect_uri_path=REDIRECT_PATH,
                    installation_store=self.installations,
                    state_store=DatabaseStateStore(services.db),
                    callback_options=AllowedTeamsOAuthFlow.callbacks(),
                ),
            )
        self.bolt = AsyncApp(**common)
        self._socket: AsyncSocketModeHandler | None = None
        self._register()

    # --- HTTP ---------------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        app.router.add_post(EVENTS_PATH, self.events)
        if self.bolt.oauth_flow is not None:
            app.router.add_get(INSTALL_PATH, self.install)
            app.router.add_get(REDIRECT_PATH, self.oauth_redirect)
        if _secret(self.settings.slack_app_token):
            app.on_startup.append(self._connect_socket)
        app.on_cleanup.append(self._close)

    async def events(self, request: web.Request) -> web.Response:
        response = await self.bolt.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    async def install(self, request: web.Request) -> web.Response:
        return await to_aiohttp_response(
            await self.bolt.oauth_flow.handle_installation(await to_bolt_request(request))
        )

    async def oauth_redirect(self, request: web.Request) -> web.Response:
        return await to_aiohttp_response(
            await self.bolt.oauth_flow.handle_callback(await to_bolt_request(request))
        )

    async def _connect_socket(self, _app: web.Application) -> None:
        self._socket = AsyncSocketModeHandler(
            self.bolt,
            _secret(self.settings.slack_app_token),
            web_client=AsyncWebClient(base_url=self.settings.slack_api_url, timeout=15),
        )
        await self._socket.connect_async()
        log.info("slack: connected in Socket Mode")

    async def _close(self, _app: web.Application) -> None:
        if self._socket is not None:
            await self._socket.close_async()
        try:  # let work already acknowledged to Slack finish, but do not hang the shutdown
            await asyncio.wait_for(self.work.tasks.drain(), SHUTDOWN_GRACE)
        except TimeoutError:
            log.warning(
                "slack: %d background task(s) still running at shutdown", len(self.work.tasks.running)
            )
        await self.clients.close()

    # --- listeners: each acks, then works in the background --------------------------------------

    def _register(self) -> None:
        b = self.bolt
        b.command(COMMAND)(self.on_command)
        b.shortcut(CONVENE_SHORTCUT)(self.on_shortcut)
        b.shortcut(MESSAGE_SHORTCUT)(self.on_message_shortcut)
        b.action(blocks.ENGINE_ACTION)(self.on_button)
        b.action(re.compile(rf"^{re.escape(blocks.CONFIRM_ACTION)}:\d+$"))(self.on_confirm)
        b.action(blocks.RECHECK_ACTION)(self.on_recheck)
        b.action(blocks.AGAIN_ACTION)(self.on_again)
        b.view(blocks.FORM_CALLBACK)(self.on_submit)
        b.event("message")(self.on_message)
        b.event("app_home_opened")(self.on_home)

    @staticmethod
    def _team(body: dict, context) -> str | None:
        """The workspace, or for an organisation-wide install without one, the organisation."""
        return (
            context.get("team_id")
            or (body.get("team") or {}).get("id")
            or body.get("team_id")
            or context.get("enterprise_id")
        )

    def _interaction(self, body: dict, context, client: AsyncWebClient) -> Interaction:
        """Where a shortcut, button or submission came from."""
        container = body.get("container") or {}
        view = body.get("view") or {}
        in_modal = view.get("type") == "modal"
        meta = blocks.read_metadata(view.get("private_metadata")) if in_modal else {}
        return Interaction(
            client=client,
            user=(body.get("user") or {}).get("id") or body.get("user_id", ""),
            team=self._team(body, context),
            channel=(body.get("channel") or {}).get("id") or container.get("channel_id") or meta.get("ch"),
            thread_ts=container.get("thread_ts"),
            trigger_id=body.get("trigger_id"),
            response_url=body.get("response_url") or None,
            view_id=view.get("id") if in_modal else None,
            depth=int(meta.get("n") or 1) if in_modal else 0,
            link=meta.get("l"),
        )

    async def on_command(self, ack, body, context, client) -> None:
        await ack()
        ix = Interaction(
            client=client,
            user=body.get("user_id", ""),
            team=self._team(body, context),
            channel=body.get("channel_id"),
            trigger_id=body.get("trigger_id"),
            response_url=body.get("response_url"),
        )
        self.work.tasks.spawn(self.work.command(ix, body.get("text", "")))

    async def on_shortcut(self, ack, body, context, client) -> None:
        await ack()
        ix = self._interaction(body, context, client)
        self.work.tasks.spawn(self.work.command(ix, "convene"))

    async def on_message_shortcut(self, ack, body, context, client) -> None:
        await ack()
        self.work.tasks.spawn(self._from_message(body, context, client))

    async def _from_message(self, body, context, client) -> None:
        ix = self._interaction(body, context, client)
        message_ts = (body.get("message") or {}).get("ts") or body.get("message_ts")
        try:
            found = await client.chat_getPermalink(channel=ix.channel, message_ts=message_ts)
            link = found.get("permalink")
        except Exception as exc:  # the link is a convenience: convene without it
            log.warning("slack: no permalink for the shortcut's message (%s)", type(exc).__name__)
            link = None
        await self.work.command(replace(ix, link=link), "convene")

    async def on_button(self, ack, body, context, client) -> None:
        await ack()
        self.work.tasks.spawn(self._button(body, context, client))

    async def _button(self, body, context, client) -> None:
        ix = self._interaction(body, context, client)
        action = (body.get("actions") or [{}])[0]
        name = blocks.engine_action(action.get("action_id", ""))
        # The button's value names the discussion ("<id>[:<subject>]"); the engine reads it from there.
        await self.work.button(ix, name, action.get("value") or "")

    async def on_confirm(self, ack, body, context, client) -> None:
        await ack()
        self.work.tasks.spawn(self._confirm(body, context, client))

    async def _confirm(self, body, context, client) -> None:
        ix = self._interaction(body, context, client)
        discussion, _, user = ((body.get("actions") or [{}])[0].get("value") or "").partition("|")
        actor = await self.work.actor(client, ix.user, ix.team)
        if actor is None or not discussion.isdigit():
            await self.work.tell(ix, [], [ONLY_THE_CHAIR])
            return
        if not await self.surface.confirm(int(discussion), user, actor.person_id):
            await self.work.tell(ix, [], [ONLY_THE_CHAIR])
            return
        await self._recheck_and_report(
            ix, int(discussion), f"Confirmed <@{user}> as an invited professional."
        )

    async def on_recheck(self, ack, body, context, client) -> None:
        await ack()
        self.work.tasks.spawn(self._recheck(body, context, client))

    async def _recheck(self, body, context, client) -> None:
        ix = self._interaction(body, context, client)
        value = (body.get("actions") or [{}])[0].get("value") or ""
        discussion = int(value) if value.isdigit() else 0
        try:
            actor = await self.work.actor(client, ix.user, ix.team)
        except SlackDeliveryError as exc:
            await self.work.tell(ix, [], [exc.explanation], quiet=True)
            return
        if actor is None or await self.surface.chair_of(discussion) != actor.person_id:
            await self.work.tell(ix, [], [ONLY_THE_CHAIR], quiet=True)
            return
        await self._recheck_and_report(ix, discussion, None)

    async def _recheck_and_report(self, ix: Interaction, discussion_id: int, done: str | None) -> None:
        try:
            verdict = await self.surface.recheck(discussion_id)
        except SlackDeliveryError as exc:
            await self.work.tell(ix, [], [exc.explanation], quiet=True)
            return
        lines = [done] if done else []
        if verdict is None:
            lines.append("There is nothing waiting to be posted for that discussion.")
        elif verdict.safe:
            lines.append("Everyone in the channel may see the discussion: I have posted the details.")
        else:
            lines.append("Some members still may not see the discussion, so the details stay held back.")
        await self.work.tell(ix, [], lines, quiet=True)

    async def on_again(self, ack, body, context, client) -> None:
        await ack()
        ix = self._interaction(body, context, client)
        self.work.tasks.spawn(self.work.again(ix, (body.get("actions") or [{}])[0].get("value") or "{}"))

    async def on_submit(self, ack, body, context, client) -> None:
        ix = self._interaction(body, context, client)
        await self.work.submit(ack, ix, body.get("view") or {})

    async def on_message(self, body, event, context, client) -> None:
        # Only people's replies in a thread: not edits, joins, bots or top-level messages.
        if event.get("bot_id") or event.get("subtype") not in (None, "thread_broadcast"):
            return
        thread_ts, ts = event.get("thread_ts"), event.get("ts")
        if not thread_ts or thread_ts == ts or not event.get("user"):
            return
        self.work.tasks.spawn(self._reply(body, event, context, client))

    async def _reply(self, body, event, context, client) -> None:
        discussion_id = await self.surface.discussion_for_thread(event.get("channel", ""), event["thread_ts"])
        if discussion_id is None:
            return  # a thread that is not a discussion's
        ix = Interaction(
            client=client,
            user=event["user"],
            team=self._team(body, context),
            channel=event.get("channel"),
            thread_ts=event["thread_ts"],
        )
        await self.work.reply(ix, event.get("text", ""), discussion_id, body.get("event_id"))

    async def on_home(self, event, body, context, client) -> None:
        if event.get("tab") == "home":
            self.work.tasks.spawn(self._home(event, body, context, client))

    async def _home(self, event, body, context, client) -> None:
        try:
            await self.work.home(client, event["user"], self._team(body, context))
        except Exception as exc:
            log.error("slack: could not publish the App Home tab: %s", where(exc))


def describe(settings: Settings) -> str:
    """One line for `check-config`: how Slack is connected (never a secret)."""
    check(settings)
    workspaces = (
        "many workspaces through OAuth (/slack/install)" if settings.slack_client_id else "one workspace"
    )
    transport = "Socket Mode" if _secret(settings.slack_app_token) else f"HTTP at {EVENTS_PATH}"
    where = "a private channel" if settings.slack_discussion_mode == "private_channel" else "a thread"
    return f"{workspaces}, {transport}, each discussion in {where}, Web API {settings.slack_api_url}"
