"""The Bolt app: one request URL (`POST /slack/events`) on our aiohttp application for events, slash
commands, shortcuts and interactivity; the OAuth install routes when many workspaces are served;
Socket Mode instead of the request URL when an app-level token is set.

Bolt verifies every HTTP request's v0 signature and its timestamp (at most 5 minutes old) before any
listener runs; a request that fails gets 401 and changes nothing.
"""

import asyncio
import logging
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
from bot.config import Settings
from bot.inbox import Inbox, Item
from bot.records.to_chair import ChairRecords
from bot.reports.to_person import ReportFiles
from bot.slack import blocks
from bot.slack.client import Clients, call
from bot.slack.inbound import NOT_ADDED, THREAD_REPLY, inbound
from bot.slack.interact import Interactions
from bot.slack.interaction import FAILED, PLATFORM, Interaction
from bot.slack.listeners import Listeners
from bot.slack.settings import (
    EVENTS_PATH,
    INSTALL_PATH,
    NOT_INSTALLED,
    REDIRECT_PATH,
    bot_scopes,
    check,
    quiet_sdk_logs,
    secret,
)
from bot.slack.stores import DatabaseInstallationStore, DatabaseStateStore
from bot.slack.surface import SlackSurface
from bot.slack.workspaces import AllowedTeamsOAuthFlow, allowed_teams, only_allowed_teams
from storage.models import Discussion

log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 10.0  # seconds


class SlackApp(Listeners):
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
        records = ChairRecords(services.db, services.dialogs)  # the chair's files at sign-off
        reports = ReportFiles(services.db, services.dialogs)  # the figures a manager asks for
        self.surface = SlackSurface(settings, services.db, self.clients, records=records, reports=reports)
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
        token = secret(settings.slack_bot_token)
        common = {
            "signing_secret": secret(settings.slack_signing_secret),
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
                    client_secret=secret(settings.slack_client_secret),
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
        if secret(self.settings.slack_app_token):
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
            secret(self.settings.slack_app_token),
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
