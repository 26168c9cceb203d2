"""A stand-in for Slack's Web API (and Socket Mode) that records every call.

It speaks the wire format slack_sdk uses: `POST /api/<method>` with form or JSON bodies and a bearer
token, answers like Slack (HTTP 200 with `ok: false` for errors; 429 with Retry-After when told to),
and keeps just enough state (channels, members, messages, views) to answer realistically. Every
message and view the bot sends is checked against Block Kit's limits (tests.slack.limits).

Files come in as Slack's current upload API takes them (what slack_sdk's `files_upload_v2` does):
`files.getUploadURLExternal` (filename and length, in the query string) returns an upload URL and a
file id; the bytes are POSTed to that URL (answered `200 OK - <length>`, text/plain); then
`files.completeUploadExternal` (`files`: a JSON array of `{"id", "title"}`; `channel_id`,
`initial_comment`, `thread_ts`) shares them in a channel as one message, whose `files` list them.
A file uploaded but never completed is shown nowhere, as on Slack. `uploads` keeps every file with
its bytes; `files_in(channel)` lists those shared there.
"""

import asyncio
import json
import re
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

from tests.slack import limits

TEAM = "T0COUNCIL"
OTHER_TEAM = "T0POLICE"  # another organisation, met through Slack Connect
BOT_USER = "UBOT"
BOT_TOKEN = "xoxb-test-bot-token"
APP_TOKEN = "xapp-1-test-app-token"
CHANNEL_NAME = re.compile(r"^[a-z0-9_-]{1,80}$")


@dataclass
class Call:
    method: str
    params: dict
    token: str | None


@dataclass
class Upload:
    """A file given to the stand-in: announced, uploaded (its bytes), and shared in a channel."""

    id: str
    filename: str
    length: int
    data: bytes | None = None  # None until the bytes are POSTed to the upload URL
    title: str | None = None
    channel: str | None = None  # where files.completeUploadExternal shared it
    comment: str | None = None  # the initial_comment it was shared with
    ts: str | None = None  # the message that shared it


@dataclass
class Channel:
    id: str
    name: str
    members: list[str]
    private: bool = False
    messages: dict[str, dict] = field(default_factory=dict)  # ts -> message
    pins: list[str] = field(default_factory=list)


class SlackStandIn:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.users: dict[str, dict] = {}
        self.channels: dict[str, Channel] = {}
        self.failures: dict[str, list[tuple[int, dict, dict]]] = {}
        self.errors: dict[tuple[str, str], str] = {}  # (method, user or channel) -> Slack error code
        self.webhooks: list[dict] = []  # posts to response_url
        self.views: dict[str, dict] = {}
        self.uploads: dict[str, Upload] = {}  # file id -> the file, in the order they were announced
        self.published: dict[str, dict] = {}  # user -> App Home view
        self.problems: list[str] = []
        self.socket_frames: asyncio.Queue = asyncio.Queue()
        self.socket_acks: list[dict] = []
        self.socket_acked = asyncio.Event()
        self.installs = 0
        self.install_team = "T0SECOND"  # the workspace oauth.v2.access says the app was installed in
        self.gates: dict[str, asyncio.Event] = {}  # methods held until the test lets them answer
        self._ts = 1_700_000_000_000_100
        self._ids = 0
        self.server: TestServer | None = None
        self.add_user(BOT_USER, name="Strategy discussions", email=None, bot=True)

    # --- set-up -------------------------------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        *,
        name: str,
        email: str | None,
        team: str = TEAM,
        guest: bool = False,
        bot: bool = False,
        stranger: bool = False,
    ) -> dict:
        user = {
            "id": user_id,
            "team_id": team,
            "name": name.split()[0].lower(),
            "real_name": name,
            "deleted": False,
            "is_bot": bot,
            "is_app_user": False,
            "is_restricted": guest,
            "is_ultra_restricted": False,
            "profile": {"real_name": name, "display_name": name, **({"email": email} if email else {})},
        }
        if stranger:
            user["is_stranger"] = True
        self.users[user_id] = user
        return user

    def add_channel(
        self, channel_id: str, *, name: str, members: list[str], private: bool = False
    ) -> Channel:
        self.channels[channel_id] = Channel(channel_id, name, list(members), private)
        return self.channels[channel_id]

    def hold(self, method: str) -> asyncio.Event:
        """Keep `method` from answering until the returned event is set."""
        self.gates[method] = asyncio.Event()
        return self.gates[method]

    def fail(
        self,
        method: str,
        *,
        status: int = 429,
        error: str = "ratelimited",
        retry_after: str = "7",
        times: int = 1,
    ):
        headers = {"Retry-After": retry_after} if status == 429 else {}
        self.failures.setdefault(method, []).extend(
            [(status, {"ok": False, "error": error}, headers)] * times
        )

    # --- reading what happened --------------------------------------------------------------------

    def called(self, method: str) -> list[dict]:
        return [c.params for c in self.calls if c.method == method]

    def methods(self) -> list[str]:
        return [c.method for c in self.calls]

    def posts_in(self, channel: str, *, thread: str | None = None) -> list[dict]:
        return [
            p
            for p in self.called("chat.postMessage")
            if p.get("channel") == channel and (thread is None or p.get("thread_ts") == thread)
        ]

    def files_in(self, channel: str) -> list[Upload]:
        """Files shared in a channel (a DM: "D" + the user's id), in the order they were shared."""
        return [u for u in self.uploads.values() if u.channel == channel]

    def messages(self, channel: str, *, thread: str | None = None) -> list[dict]:
        """Messages that Slack accepted in a channel (or one thread of it), oldest first."""
        found = self.channels.get(channel)
        msgs = list(found.messages.values()) if found else []
        return [m for m in msgs if thread is None or m.get("thread_ts") == thread]

    # --- serving ----------------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{key}", self._webhook)
        app.router.add_post("/upload/v1/{file_id}", self._upload)
        app.router.add_get("/socket", self._socket)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        return str(self.server.make_url("/api/"))

    def response_url(self, key: str = "r1") -> str:
        return str(self.server.make_url(f"/response/{key}"))

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    async def _params(self, request: web.Request) -> dict:
        params = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
        elif request.can_read_body:
            params.update(dict(await request.post()))
        for key in ("blocks", "view", "attachments"):
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        for key in ("unfurl_links", "unfurl_media", "is_private"):
            if isinstance(params.get(key), str):
                params[key] = params[key] in ("true", "1", "True")
        return params

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else params.pop("token", None)
        self.calls.append(Call(method, params, token))
        if method in self.gates:
            await self.gates[method].wait()
        queued = self.failures.get(method)
        if queued:
            status, body, headers = queued.pop(0)
            return web.json_response(body, status=status, headers=headers)
        expected = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        if (
            method != "oauth.v2.access"
            and token != expected
            and not (token or "").startswith("xoxb-installed-")
        ):
            return web.json_response({"ok": False, "error": "invalid_auth"})
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        try:
            result = handler(params)
        except KeyError as exc:  # a required argument is missing
            return web.json_response({"ok": False, "error": "invalid_arguments", "missing": str(exc)})
        return web.json_response({"ok": "error" not in result, **result})

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.webhooks.append(body)
        self._check_message(body, "response_url")
        return web.Response(text="ok")

    async def _upload(self, request: web.Request) -> web.Response:
        """The upload URL files.getUploadURLExternal hands out: the file's bytes, raw or as the
        multipart form field `file` (both are accepted, as by Slack)."""
        upload = self.uploads.get(request.match_info["file_id"])
        queued = self.failures.get("upload")
        if queued:
            status, _body, headers = queued.pop(0)
            return web.Response(status=status, text="error", headers=headers)
        if upload is None:
            return web.Response(status=404, text="not found")
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            field = form.get("file")
            data = field.file.read() if hasattr(field, "file") else str(field or "").encode()
        else:
            data = await request.read()
        if len(data) != upload.length:
            self.problems.append(f"upload {upload.id}: {len(data)} bytes, announced {upload.length}")
        upload.data = data
        return web.Response(text=f"OK - {len(data)}", content_type="text/plain")

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json(
            {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0STRATEGY"}}
        )

        async def pump():
            while not ws.closed:
                frame = await self.socket_frames.get()
                await ws.send_str(frame)

        sender = asyncio.ensure_future(pump())
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self.socket_acks.append(json.loads(msg.data))
                    self.socket_acked.set()
        finally:
            sender.cancel()
        return ws

    # --- checks on what the bot sends ----------------------------------------------------------------

    def _check_message(self, params: dict, where: str) -> None:
        if "blocks" in params:
            self.problems += limits.block_problems(params["blocks"], where, limits.MESSAGE_BLOCKS)
        if not params.get("text") and "blocks" in params:
            self.problems.append(f"{where}: no notification text")

    def _check_view(self, view: dict, where: str) -> None:
        self.problems += limits.view_problems(view, where)

    def _next_ts(self) -> str:
        self._ts += 100
        return f"{self._ts // 1_000_000}.{self._ts % 1_000_000:06d}"

    def _next_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}{self._ids:05d}"

    # --- methods --------------------------------------------------------------------------------

    def _auth_test(self, p):
        return {
            "url": "https://council.slack.com/",
            "team": "Council",
            "user": "strategy",
            "team_id": TEAM,
            "user_id": BOT_USER,
            "bot_id": "B0STRATEGY",
            "is_enterprise_install": False,
        }

    def _auth_revoke(self, p):
        return {"revoked": True}

    def _apps_connections_open(self, p):
        return {"url": str(self.server.make_url("/socket")).replace("http://", "ws://")}

    def _oauth_v2_access(self, p):
        self.installs += 1
        return {
            "app_id": "A0STRATEGY",
            "authed_user": {"id": "UINSTALLER"},
            "scope": p.get("scope", ""),
            "token_type": "bot",
            "access_token": f"xoxb-installed-{self.installs}",
            "bot_user_id": BOT_USER,
            "team": {"id": self.install_team, "name": "Another council"},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def _channel(self, channel_id: str) -> Channel | None:
        if channel_id and channel_id.startswith("D") and channel_id not in self.channels:
            user = channel_id[1:]
            self.add_channel(channel_id, name=f"dm-{user}", members=[BOT_USER, user], private=True)
        return self.channels.get(channel_id)

    def _conversations_create(self, p):
        name = p["name"]
        if not CHANNEL_NAME.match(name):
            return {"error": "invalid_name_specials"}
        if any(c.name == name for c in self.channels.values()):
            return {"error": "name_taken"}
        if ("conversations.create", name) in self.errors:
            return {"error": self.errors[("conversations.create", name)]}
        channel = self.add_channel(
            self._next_id("G"), name=name, members=[BOT_USER], private=bool(p.get("is_private"))
        )
        return {"channel": {"id": channel.id, "name": name, "is_private": channel.private}}

    def _conversations_invite(self, p):
        channel = self._channel(p["channel"])
        if channel is None:
            return {"error": "channel_not_found"}
        users = [u for u in str(p["users"]).split(",") if u]
        for user in users:
            if ("conversations.invite", user) in self.errors:
                return {"error": self.errors[("conversations.invite", user)]}
            if user in channel.members:
                return {"error": "already_in_channel"}
            if user not in self.users:
                return {"error": "user_not_found"}
        channel.members += users
        return {"channel": {"id": channel.id}}

    def _conversations_members(self, p):
        channel = self._channel(p["channel"])
        if channel is None or (channel.private and BOT_USER not in channel.members):
            return {"error": "channel_not_found"}
        return {"members": list(channel.members), "response_metadata": {"next_cursor": ""}}

    def _conversations_open(self, p):
        user = str(p["users"])
        return {"channel": {"id": self._channel(f"D{user}").id}}

    def _chat_postMessage(self, p):
        channel = self._channel(p["channel"])
        if channel is None:
            return {"error": "channel_not_found"}
        if BOT_USER not in channel.members:
            return {"error": "not_in_channel"}
        self._check_message(p, f"chat.postMessage to {channel.id}")
        ts = self._next_ts()
        channel.messages[ts] = {
            "ts": ts,
            "text": p.get("text"),
            "blocks": p.get("blocks"),
            "thread_ts": p.get("thread_ts"),
        }
        return {"channel": channel.id, "ts": ts, "message": channel.messages[ts]}

    def _chat_update(self, p):
        channel = self._channel(p["channel"])
        if channel is None:
            return {"error": "channel_not_found"}
        if p["ts"] not in channel.messages:
            return {"error": "message_not_found"}
        self._check_message(p, f"chat.update in {channel.id}")
        channel.messages[p["ts"]].update(text=p.get("text"), blocks=p.get("blocks"))
        return {"channel": channel.id, "ts": p["ts"]}

    def _chat_postEphemeral(self, p):
        channel = self._channel(p["channel"])
        if channel is None:
            return {"error": "channel_not_found"}
        if BOT_USER not in channel.members:
            return {"error": "not_in_channel"}
        self._check_message(p, "chat.postEphemeral")
        return {"message_ts": self._next_ts()}

    def _chat_getPermalink(self, p):
        message = p["message_ts"].replace(".", "")
        return {
            "channel": p["channel"],
            "permalink": f"https://council.slack.com/archives/{p['channel']}/p{message}",
        }

    def _files_getUploadURLExternal(self, p):
        filename, length = p["filename"], p["length"]
        if not filename or not str(length).isdigit() or int(length) < 1:
            return {"error": "invalid_arguments"}
        upload = Upload(self._next_id("F"), filename, int(length))
        self.uploads[upload.id] = upload
        return {"upload_url": str(self.server.make_url(f"/upload/v1/{upload.id}")), "file_id": upload.id}

    def _files_completeUploadExternal(self, p):
        try:
            wanted = json.loads(p["files"])
        except (TypeError, ValueError):
            return {"error": "invalid_arguments"}
        if not isinstance(wanted, list) or not wanted or not all(isinstance(f, dict) for f in wanted):
            return {"error": "invalid_arguments"}
        uploads = [self.uploads.get(f.get("id")) for f in wanted]
        if any(u is None or u.data is None or u.channel is not None for u in uploads):
            return {"error": "file_not_found"}  # never announced, bytes never sent, or already shared
        channel = None
        if p.get("channel_id"):
            channel = self._channel(p["channel_id"])
            if channel is None:
                return {"error": "channel_not_found"}
            if BOT_USER not in channel.members:
                return {"error": "not_in_channel"}
        if p.get("initial_comment") and len(p["initial_comment"]) > 4000:
            self.problems.append("files.completeUploadExternal: initial_comment over 4,000 characters")
        shared = []
        for f, upload in zip(wanted, uploads, strict=True):
            upload.title = f.get("title") or upload.filename
            shared.append({"id": upload.id, "name": upload.filename, "title": upload.title})
        if channel is not None:
            ts = self._next_ts()
            channel.messages[ts] = {
                "ts": ts,
                "text": p.get("initial_comment") or "",
                "files": shared,
                "thread_ts": p.get("thread_ts"),
            }
            for upload in uploads:
                upload.channel, upload.comment, upload.ts = channel.id, p.get("initial_comment"), ts
        return {"files": shared}

    def _pins_add(self, p):
        channel = self._channel(p["channel"])
        if channel is None or p["timestamp"] not in channel.messages:
            return {"error": "message_not_found"}
        if p["timestamp"] in channel.pins:
            return {"error": "already_pinned"}
        channel.pins.append(p["timestamp"])
        return {}

    def _users_info(self, p):
        user = self.users.get(p["user"])
        return {"user": user} if user else {"error": "user_not_found"}

    def _users_lookupByEmail(self, p):
        user = next((u for u in self.users.values() if u["profile"].get("email") == p["email"]), None)
        return {"user": user} if user else {"error": "users_not_found"}

    def _view(self, view: dict, where: str) -> dict:
        self._check_view(view, where)
        view_id = self._next_id("V")
        self.views[view_id] = view
        return {"view": {**view, "id": view_id}}

    def _views_open(self, p):
        if not p.get("trigger_id"):
            return {"error": "invalid_trigger_id"}
        if ("views.open", p["trigger_id"]) in self.errors:
            return {"error": self.errors[("views.open", p["trigger_id"])]}
        return self._view(p["view"], "views.open")

    def _views_push(self, p):
        if not p.get("trigger_id"):
            return {"error": "invalid_trigger_id"}
        return self._view(p["view"], "views.push")

    def _views_update(self, p):
        if p.get("view_id") not in self.views:
            return {"error": "not_found"}
        self._check_view(p["view"], "views.update")
        self.views[p["view_id"]] = p["view"]
        return {"view": {**p["view"], "id": p["view_id"]}}

    def _views_publish(self, p):
        self._check_view(p["view"], "views.publish")
        self.published[p["user_id"]] = p["view"]
        return {"view": {**p["view"], "id": self._next_id("V")}}
