"""The Bolt app: one request URL (`POST /slack/events`) on our aiohttp application for events, slash
commands, shortcuts and interactivity; the OAuth install routes when many workspaces are served;
Socket Mode instead of the request URL when an app-level token is set.

Bolt verifies every HTTP request's v0 signature and its timestamp (at most 5 minutes old) before any
listener runs; a request that fails gets 401 and changes nothing.
"""

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.background import Tasks
from bot.config import ConfigError, Settings
from bot.inbox import Inbox, Item
from bot.slack import blocks
from bot.slack.client import Clients, SlackDeliveryError, call
from bot.slack.interact import FAILED, PLATFORM, UNKNOWN_PERSON, Interaction, Interactions, reply_text, where
from bot.slack.stores import DatabaseInstallationStore, DatabaseStateStore
from bot.slack.surface import SlackSurface
from bot.slack.workspaces import AllowedTeamsOAuthFlow, allowed_teams, only_allowed_teams
from dialogs.model import Turn, TurnKind
from storage.models import Discussion

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


NOT_ADDED = (
    "Sorry <@{user}>: your reply in this thread{case} could not be added to the discussion's record, "
    "because of a problem on our side. Please post it again, or tell the chair{chair}."
)  # in the thread, by case reference only: never the reply's text
THREAD_REPLY, UNSTORED = "reply", None


def thread_reply(event: dict) -> bool:
    """A person's reply in a thread: not an edit, a join, a bot or a top-level message."""
    if event.get("type") != "message" or event.get("bot_id"):
        return False
    if event.get("subtype") not in (None, "thread_broadcast"):
        return False
    thread_ts, ts = event.get("thread_ts"), event.get("ts")
    return bool(thread_ts and thread_ts != ts and event.get("user"))


def _ours(kind: str, body: dict) -> bool:
    """An interaction this app listens for (another app's command or button is Bolt's 404)."""
    if kind == "command":
        return body.get("command") == COMMAND
    if kind in ("shortcut", "message_action"):
        return body.get("callback_id") in (CONVENE_SHORTCUT, MESSAGE_SHORTCUT)
    if kind == "view_submission":
        return (body.get("view") or {}).get("callback_id") == blocks.FORM_CALLBACK
    if kind == "block_actions":
        action_id = ((body.get("actions") or [{}])[0] or {}).get("action_id") or ""
        return bool(
            blocks.ENGINE_ACTION.match(action_id)
            or re.fullmatch(rf"{re.escape(blocks.CONFIRM_ACTION)}:\d+", action_id)
            or action_id in (blocks.RECHECK_ACTION, blocks.AGAIN_ACTION)
        )
    return False


def inbound(body: dict) -> tuple[str, str] | None:
    """(kind, key) of a request to store in the inbox before it is acknowledged, or None when there is
    nothing in it to lose. The key is the Events API's event_id (the same on every retry of the event),
    or for an interaction its trigger_id (one per delivery: a double click is two, and the engine's
    nonce de-duplication answers the second "already done", as before)."""
    if body.get("type") == "event_callback":
        if thread_reply(body.get("event") or {}) and body.get("event_id"):
            return THREAD_REPLY, f"event:{body['event_id']}"
        return UNSTORED
    if "command" in body and "type" not in body:
        kind = "command"
    else:
        kind = str(body.get("type") or "")
    if kind not in ("command", "shortcut", "message_action", "block_actions", "view_submission"):
        return UNSTORED
    if not _ours(kind, body):
        return UNSTORED
    once = body.get("trigger_id")
    if not once:  # not seen from Slack, but never store without a stable key
        once = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    return kind, f"{kind}:{once}"


async def _no_ack(*_args, **_kwargs) -> None:
    """A modal's ack when its submission is replayed from the inbox: Slack's window is long gone."""


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
        # A fixed pool of workers and a bounded queue for everything done after the ack.
        self.work.tasks = Tasks(
            "slack", workers=settings.background_workers, queue_size=settings.background_queue_size
        )
        self.inbox = Inbox(
            PLATFORM, services.db, settings, self.work.tasks, replay=self._replay, gave_up=self._gave_up
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
        self._waiting = 0  # requests on the events URL not yet answered
        # After Bolt's own checks (signature, workspace), before any listener and so before any ack.
        self.bolt.middleware(self._store_first)
        self._register()

    # --- HTTP ---------------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        app.router.add_post(EVENTS_PATH, self.events)
        if self.bolt.oauth_flow is not None:
            app.router.add_get(INSTALL_PATH, self.install)
            app.router.add_get(REDIRECT_PATH, self.oauth_redirect)
        if _secret(self.settings.slack_app_token):
            app.on_startup.append(self._connect_socket)
        app.on_startup.append(self._start_sweeping)
        app.on_cleanup.append(self._close)

    async def events(self, request: web.Request) -> web.Response:
        if self._waiting >= self.settings.inbound_max_waiting:
            # Back-pressure: more arrives than the database takes. Refused before the body is read,
            # so memory stays bounded; Slack sends it again (the inbox would have absorbed it, but
            # here even storing it has to wait).
            return web.Response(status=503, headers={"Retry-After": "10"})
        self._waiting += 1
        try:
            response = await self.bolt.async_dispatch(await to_bolt_request(request))
            return await to_aiohttp_response(response)
        finally:
            self._waiting -= 1

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

    async def _start_sweeping(self, _app: web.Application) -> None:
        self.inbox.start()

    async def _close(self, _app: web.Application) -> None:
        if self._socket is not None:
            await self._socket.close_async()
        await self.inbox.stop()
        try:  # let work already acknowledged to Slack finish, but do not hang the shutdown
            await asyncio.wait_for(self.work.tasks.drain(), SHUTDOWN_GRACE)
        except TimeoutError:  # what is unfinished is in the inbox: the next start's sweep does it
            log.warning(
                "slack: %d background task(s) still running at shutdown", len(self.work.tasks.running)
            )
        await self.work.tasks.close()
        await self.clients.close()

    # --- the inbox: stored before the ack, processed by the bounded workers -------------------------

    async def _store_first(self, body, context, next) -> BoltResponse | None:
        """Bolt global middleware: store what must not be lost, then let the listener ack it. When it
        cannot be stored, 503: Slack retries an event; for an interaction it shows the person an error,
        which is the truth. A retry of something already stored is acked and not processed again."""
        what = inbound(body)
        if what is None:
            await next()
            return None
        kind, key = what
        try:
            stored = await self.inbox.store(kind, key, body)
        except Exception as exc:  # noqa: BLE001 - the database away: not stored, so not acknowledged
            log.error("slack: could not store an inbound %s (%s): answered 503", kind, type(exc).__name__)
            return BoltResponse(status=503, body="")
        if not stored.new:
            log.info("slack: an inbound %s was already stored (%s): acknowledged again", kind, stored.status)
            return BoltResponse(status=200, body="")
        context["inbox_item"] = Item(stored.id, kind, body)
        await next()
        return None

    def _queue(self, context, work: Callable[[], Awaitable[None]] | None) -> None:
        """Hand the listener's work to the workers; its inbox row is marked done when it is."""
        if work is None:
            return
        item: Item | None = context.get("inbox_item")
        if item is not None:
            self.inbox.submit(item, work)  # when full, the row waits for the sweep
        elif not self.work.tasks.submit(work):
            log.warning("slack: the work queue is full: dropped work that has no inbox row")

    async def _replay(self, item: Item) -> None:
        """A row found by the sweep: the same work as its listener's, from the stored payload."""
        body = item.payload
        team = self._team(body, {})
        client, _me = await self.clients.for_team(team)
        work = self._work_for(item.kind, body, {"team_id": team}, client)
        if work is not None:
            await work()

    def _work_for(self, kind: str, body: dict, context, client) -> Callable[[], Awaitable[None]] | None:
        if kind == THREAD_REPLY:
            return lambda: self._reply(body, context, client)
        if kind == "command":
            ix = Interaction(
                client=client,
                user=body.get("user_id", ""),
                team=self._team(body, context),
                channel=body.get("channel_id"),
                trigger_id=body.get("trigger_id"),
                response_url=body.get("response_url"),
            )
            return lambda: self.work.command(ix, body.get("text", ""))
        if kind == "shortcut":
            ix = self._interaction(body, context, client)
            return lambda: self.work.command(ix, "convene")
        if kind == "message_action":
            return lambda: self._from_message(body, context, client)
        if kind == "view_submission":
            ix = self._interaction(body, context, client)
            return lambda: self._submit_again(ix, body.get("view") or {})
        if kind == "block_actions":
            action_id = ((body.get("actions") or [{}])[0] or {}).get("action_id") or ""
            if blocks.ENGINE_ACTION.match(action_id):
                return lambda: self._button(body, context, client)
            if action_id.startswith(blocks.CONFIRM_ACTION + ":"):
                return lambda: self._confirm(body, context, client)
            if action_id == blocks.RECHECK_ACTION:
                return lambda: self._recheck(body, context, client)
            if action_id == blocks.AGAIN_ACTION:
                ix = self._interaction(body, context, client)
                value = (body.get("actions") or [{}])[0].get("value") or "{}"
                return lambda: self.work.again(ix, value)
        log.warning("slack: an inbox row of kind %s has no work: left as done", kind)
        return None

    async def _gave_up(self, item: Item) -> None:
        """A stored message that could not be processed for good: say so, never silently."""
        body = item.payload
        team = self._team(body, {})
        client, _me = await self.clients.for_team(team)
        if item.kind == THREAD_REPLY:
            await self._not_added(body.get("event") or {}, client)
            return
        if item.kind in ("command", "shortcut", "message_action", "block_actions", "view_submission"):
            ix = self._interaction(body, {"team_id": team}, client)
            if item.kind == "command":
                ix = replace(ix, user=body.get("user_id", ""), channel=body.get("channel_id"))
            await self.work.tell(
                replace(ix, view_id=None, depth=0, trigger_id=None), [], [FAILED], quiet=True
            )

    async def _not_added(self, event: dict, client: AsyncWebClient) -> None:
        """Tell the reply's author and the discussion's chair, in the thread, that the reply is not in
        the record: by case reference only."""
        channel, thread_ts, user = event.get("channel", ""), event.get("thread_ts", ""), event.get("user", "")
        case, chair = "", ""
        try:
            discussion_id = await self.surface.discussion_for_thread(channel, thread_ts)
            if discussion_id is not None:
                async with self.services.db.session() as s:
                    d = await s.get(Discussion, discussion_id)
                    case_ref, chair_id = (d.case_ref, d.chair_id) if d is not None else ("", None)
                case = f" (case {case_ref})" if case_ref else ""
                found = await self.surface.people.slack_user(chair_id) if chair_id is not None else None
                chair = f" <@{found[2]}>" if found else ""
        except Exception as exc:  # say it without the case reference rather than not at all
            log.warning("slack: no case reference for a reply not added (%s)", type(exc).__name__)
        text = NOT_ADDED.format(user=user, case=case, chair=chair)
        await call(client, "chat.postMessage", channel=channel, thread_ts=thread_ts, text=text)

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
        self._queue(context, self._work_for("command", body, context, client))

    async def on_shortcut(self, ack, body, context, client) -> None:
        await ack()
        self._queue(context, self._work_for("shortcut", body, context, client))

    async def on_message_shortcut(self, ack, body, context, client) -> None:
        await ack()
        self._queue(context, self._work_for("message_action", body, context, client))

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
        self._queue(context, self._work_for("block_actions", body, context, client))

    async def _button(self, body, context, client) -> None:
        ix = self._interaction(body, context, client)
        action = (body.get("actions") or [{}])[0]
        name = blocks.engine_action(action.get("action_id", ""))
        # The button's value names the discussion ("<id>[:<subject>]"); the engine reads it from there.
        await self.work.button(ix, name, action.get("value") or "")

    async def on_confirm(self, ack, body, context, client) -> None:
        await ack()
        self._queue(context, self._work_for("block_actions", body, context, client))

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
        self._queue(context, self._work_for("block_actions", body, context, client))

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
        self._queue(context, self._work_for("block_actions", body, context, client))

    async def on_submit(self, ack, body, context, client) -> None:
        # Answered inside the ack (field errors, the next form), within its budget; stored first.
        item: Item | None = context.get("inbox_item")
        if item is not None:
            self.inbox.in_hand.add(item.id)
        try:
            ix = self._interaction(body, context, client)
            turn = await self.work.submit(ack, ix, body.get("view") or {})
            # Answered already; handled once the turn has committed (or failed, which the person was
            # told): a process that dies before then leaves the row for the sweep.
            await asyncio.wait({turn})
        finally:
            if item is not None:
                self.inbox.in_hand.discard(item.id)
        if item is not None:
            await self.inbox.done(item)

    async def on_message(self, body, event, context, client) -> None:
        # Only people's replies in a thread (stored by _store_first); not edits, joins, bots or posts.
        if context.get("inbox_item") is not None:
            self._queue(context, self._work_for(THREAD_REPLY, body, context, client))

    async def _submit_again(self, ix: Interaction, view: dict) -> None:
        """A stored submission the sweep runs again: done once its turn has committed."""
        await asyncio.wait({await self.work.submit(_no_ack, ix, view)})

    async def _reply(self, body, context, client) -> None:
        """A reply in a thread: a contribution when the thread is a discussion's. Failures raise, so the
        inbox tries again and in the end tells the author and the chair."""
        event = body.get("event") or {}
        discussion_id = await self.surface.discussion_for_thread(event.get("channel", ""), event["thread_ts"])
        if discussion_id is None:
            return  # a thread that is not a discussion's: nothing to record
        ix = Interaction(
            client=client,
            user=event["user"],
            team=self._team(body, context),
            channel=event.get("channel"),
            thread_ts=event["thread_ts"],
        )
        actor = await self.work.actor(client, ix.user, ix.team)
        if actor is None:  # not in the directory: nothing to record, and they are told why
            try:
                await self.work.tell(ix, [], [UNKNOWN_PERSON])
            except SlackDeliveryError as exc:
                log.warning("slack: could not tell an unknown person why their reply was not kept: %s", exc)
            return
        turn = Turn(
            actor=actor,
            kind=TurnKind.REPLY,
            text=reply_text(event.get("text", "")),
            discussion_id=discussion_id,
            channel=PLATFORM,
            event_id=body.get("event_id"),
            origin=ix.origin.to_dict(),
        )
        result = await self.services.dialogs.handle(turn)
        try:  # recorded: what follows is telling people, which must not make it be recorded again
            await self.work.present(result, ix, turn)
        except Exception as exc:
            log.error("slack: a reply was recorded but its answer failed: %s", where(exc))

    async def on_home(self, event, body, context, client) -> None:
        if event.get("tab") == "home" and not self.work.tasks.submit(
            lambda: self._home(event, body, context, client)
        ):
            log.warning(
                "slack: the work queue is full (%d waiting): an App Home tab was not refreshed",
                self.work.tasks.queue.qsize(),
            )

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
