"""The Slack surface under test: our aiohttp app with Slack configured, a stand-in Web API, and real
v0-signed requests into /slack/events (and real Socket Mode frames when asked)."""

import asyncio
import json
import time
from dataclasses import dataclass

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.config import Settings
from bot.services import Services
from bot.slack import SLACK
from bot.timesource import TimeSource
from bot.web import build_app
from tests.slack import signing
from tests.slack.standin import BOT_TOKEN, TEAM, SlackStandIn


@dataclass
class Sent:
    status: int
    text: str

    def json(self) -> dict:
        return json.loads(self.text) if self.text else {}


class SlackHarness:
    """Sends what Slack would send, signed, and waits for the bot's background work to finish."""

    def __init__(self, client: TestClient, standin: SlackStandIn, services: Services) -> None:
        self.client = client
        self.standin = standin
        self.services = services
        self._triggers = 0

    @property
    def app(self):
        return self.client.server.app[SLACK]

    async def settle(self) -> None:
        """Let Bolt start its listeners (no I/O happens before they spawn their work), then wait."""
        while True:
            for _ in range(50):
                await asyncio.sleep(0)
            if not self.app.work.tasks.running:
                return
            await self.app.work.tasks.drain()

    async def raw(self, body: str, headers: dict, path: str = "/slack/events") -> Sent:
        resp = await self.client.post(path, data=body.encode(), headers=headers)
        return Sent(resp.status, await resp.text())

    async def post(self, body: str, content_type: str, *, settle: bool = True, **sign) -> Sent:
        sent = await self.raw(body, signing.signed_headers(body, content_type=content_type, **sign))
        if settle:
            await self.settle()
        return sent

    def trigger(self) -> str:
        self._triggers += 1
        return f"{self._triggers}.{int(time.time())}.trigger"

    async def command(self, user: str, text: str, *, channel: str = "C0DUTY", **kw) -> Sent:
        fields = {
            "token": "verification_token",
            "team_id": TEAM,
            "team_domain": "council",
            "channel_id": channel,
            "channel_name": "duty",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/strategy",
            "text": text,
            "api_app_id": "A0STRATEGY",
            "response_url": self.standin.response_url(),
            "trigger_id": self.trigger(),
        }
        return await self.post(signing.form_body(fields), signing.FORM, **kw)

    def _who(self, user: str) -> dict:
        return {
            "user": {"id": user, "username": user.lower(), "team_id": TEAM},
            "team": {"id": TEAM, "domain": "council"},
        }

    async def shortcut(self, user: str, callback_id: str = "strategy_convene") -> Sent:
        payload = {
            "type": "shortcut",
            "token": "t",
            "action_ts": "1.2",
            "callback_id": callback_id,
            "trigger_id": self.trigger(),
            "api_app_id": "A0STRATEGY",
            **self._who(user),
        }
        return await self.post(signing.payload_body(payload), signing.FORM)

    async def message_shortcut(self, user: str, channel: str, ts: str, text: str = "") -> Sent:
        payload = {
            "type": "message_action",
            "token": "t",
            "action_ts": "1.2",
            "callback_id": "strategy_from_message",
            "trigger_id": self.trigger(),
            "api_app_id": "A0STRATEGY",
            "channel": {"id": channel, "name": "x"},
            "message_ts": ts,
            "message": {"type": "message", "user": "U0SOMEONE", "ts": ts, "text": text},
            "response_url": self.standin.response_url("m1"),
            **self._who(user),
        }
        return await self.post(signing.payload_body(payload), signing.FORM)

    async def click(
        self,
        user: str,
        button: dict,
        *,
        channel: str | None = None,
        message_ts: str | None = None,
        view: dict | None = None,
    ) -> Sent:
        """Press a button (an element dict from blocks the bot sent)."""
        action = {
            "action_id": button["action_id"],
            "block_id": "b",
            "type": "button",
            "value": button.get("value", ""),
            "text": button["text"],
            "action_ts": "1.2",
        }
        payload = {
            "type": "block_actions",
            "token": "t",
            "api_app_id": "A0STRATEGY",
            "trigger_id": self.trigger(),
            "actions": [action],
            **self._who(user),
        }
        if view is not None:
            payload["container"] = {"type": "view", "view_id": view["id"]}
            payload["view"] = view
        else:
            payload["container"] = {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel,
                "is_ephemeral": False,
            }
            payload["channel"] = {"id": channel, "name": "x"}
            payload["message"] = {"ts": message_ts, "type": "message"}
            payload["response_url"] = self.standin.response_url("b1")
        return await self.post(signing.payload_body(payload), signing.FORM)

    async def submit(self, user: str, view: dict, values: dict | None = None, **kw) -> Sent:
        """Submit a modal the bot opened (as the stand-in recorded it), with values by input id;
        inputs not given keep what the modal showed."""
        payload = {
            "type": "view_submission",
            "token": "t",
            "api_app_id": "A0STRATEGY",
            "trigger_id": self.trigger(),
            "view": {**view, "state": {"values": state_of(view, values or {})}, "hash": "h", "team_id": TEAM},
            **self._who(user),
        }
        return await self.post(signing.payload_body(payload), signing.FORM, **kw)

    async def event(
        self, event: dict, event_id: str, *, retry: int | None = None, settle: bool = True
    ) -> Sent:
        body = json.dumps(
            {
                "token": "t",
                "team_id": TEAM,
                "api_app_id": "A0STRATEGY",
                "event": event,
                "type": "event_callback",
                "event_id": event_id,
                "event_time": int(time.time()),
                "authorizations": [{"team_id": TEAM, "user_id": "UBOT", "is_bot": True}],
            }
        )
        headers = signing.signed_headers(body, content_type=signing.JSON)
        if retry is not None:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        sent = await self.raw(body, headers)
        if settle:
            await self.settle()
        return sent

    async def reply(self, user: str, channel: str, thread_ts: str, text: str, event_id: str, **kw) -> Sent:
        ts = f"{int(time.time())}.{len(self.standin.calls):06d}"
        event = {
            "type": "message",
            "user": user,
            "text": text,
            "ts": ts,
            "thread_ts": thread_ts,
            "channel": channel,
            "channel_type": "group",
            "event_ts": ts,
            "team": TEAM,
        }
        return await self.event(event, event_id, **kw)

    # --- reading what the bot did ------------------------------------------------------------------

    def last_view(self, *methods: str) -> dict:
        """The newest view opened/pushed/updated, with the id the stand-in gave it."""
        methods = methods or ("views.open", "views.push", "views.update")
        for call in reversed(self.standin.calls):
            if call.method in methods:
                view_id = call.params.get("view_id") or next(
                    (i for i, v in reversed(list(self.standin.views.items())) if v is call.params["view"]),
                    None,
                )
                return {**call.params["view"], "id": view_id}
        raise AssertionError(f"no {methods} call")


def state_of(view: dict, values: dict) -> dict:
    """`view.state.values` as Slack builds it from the modal's input blocks."""
    state = {}
    for block in view.get("blocks") or []:
        if block.get("type") != "input":
            continue
        element = block["element"]
        kind = element["type"]
        given = values.get(block["block_id"], _initial(element))
        grouped = [o for g in element.get("option_groups") or [] for o in g["options"]]
        options = {o["value"]: o for o in (element.get("options") or []) + grouped}
        if kind == "plain_text_input":
            entry = {"value": given or None}
        elif kind == "datepicker":
            entry = {"selected_date": given or None}
        elif kind == "timepicker":
            entry = {"selected_time": given or None}
        elif kind in ("static_select", "radio_buttons"):
            entry = {"selected_option": options[given] if given else None}
        elif kind in ("multi_static_select", "checkboxes"):
            entry = {"selected_options": [options[v] for v in given or []]}
        elif kind == "multi_users_select":
            entry = {"selected_users": list(given or [])}
        else:
            raise AssertionError(f"unexpected element {kind}")
        state[block["block_id"]] = {element["action_id"]: {"type": kind, **entry}}
    return state


def _initial(element: dict):
    if "initial_value" in element:
        return element["initial_value"]
    if "initial_date" in element:
        return element["initial_date"]
    if "initial_time" in element:
        return element["initial_time"]
    if "initial_option" in element:
        return element["initial_option"]["value"]
    if "initial_options" in element:
        return [o["value"] for o in element["initial_options"]]
    return None


def buttons(blocks: list[dict]) -> list[dict]:
    return [e for b in blocks or [] if b.get("type") == "actions" for e in b["elements"]]


def button(blocks: list[dict], label: str) -> dict:
    found = [b for b in buttons(blocks) if b["text"]["text"] == label]
    assert found, f"no button {label!r} in {[b['text']['text'] for b in buttons(blocks)]}"
    return found[0]


def slack_settings(db_url: str, api_url: str, **extra) -> Settings:
    values = {
        "database_url": db_url,
        "slack_signing_secret": signing.SECRET,
        "slack_bot_token": BOT_TOKEN,
        "slack_api_url": api_url,
        "scheduler_enabled": False,  # reminders are the scheduler's tests; these drive Slack by hand
    }
    return Settings(_env_file=None, **(values | extra))


def check_standin(standin: SlackStandIn) -> None:
    """After a test: everything the bot sent was within Block Kit's limits, and it called only Web API
    methods whose scopes the manifests declare (plus the OAuth exchange and Socket Mode's URL)."""
    from bot.slack.settings import METHOD_SCOPES

    assert standin.problems == [], standin.problems
    assert set(standin.methods()) <= set(METHOD_SCOPES) | {"oauth.v2.access", "apps.connections.open"}


@pytest.fixture
async def standin():
    server = SlackStandIn()
    await server.start()
    yield server
    await server.close()


async def make_harness(db, standin: SlackStandIn, *, time: TimeSource | None = None, **extra):
    settings = slack_settings(db.url, str(standin.server.make_url("/api/")), **extra)
    services = Services.create(settings, db, time or TimeSource())
    client = TestClient(TestServer(build_app(services)))
    await client.start_server()
    return SlackHarness(client, standin, services)


@pytest.fixture
async def slack(sqlite_db, standin):
    """The bot with Slack configured (one workspace, bot token), on a SQLite file."""
    harness = await make_harness(sqlite_db, standin)
    yield harness
    await harness.settle()
    await harness.client.close()
    check_standin(standin)
