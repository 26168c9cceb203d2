"""A stand-in for the Teams Bot Connector service, at the serviceUrl of the activities the tests send.

It answers the calls the bot makes (Bot Connector API v3, in the shapes of
`conformance/teams/botframework-connector-api-v3.swagger.json`), checks each request body against the
swagger's definitions and each bearer token against the test key, and keeps what it received so the
tests can assert on it. It can be told to fail: 429 with Retry-After, 403 BotNotInConversationRoster,
404 ConversationNotFound, and so on.
"""

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import jsonschema
from aiohttp import web

from tests.conftest import CONFORMANCE

SWAGGER = json.loads((CONFORMANCE / "teams" / "botframework-connector-api-v3.swagger.json").read_text())
THREAD_MARK = ";messageid="


def _validator(definition: str) -> jsonschema.Draft4Validator:
    schema = {"$ref": f"#/definitions/{definition}", "definitions": SWAGGER["definitions"]}
    return jsonschema.Draft4Validator(schema)


ACTIVITY = _validator("Activity")
CONVERSATION_PARAMETERS = _validator("ConversationParameters")
ADAPTIVE_CARD = jsonschema.Draft6Validator(
    json.loads((CONFORMANCE / "adaptivecards" / "adaptive-card-1.5.schema.json").read_text())
)
MAX_CARD_BYTES = 80_000  # our limit; Teams refuses messages over about 100 KB (HTTP 413)
MAX_MESSAGE_BYTES = 100_000


def card_problems(card: dict) -> list[str]:
    """Why a card would not pass: the official AC 1.5 schema (without Teams' `msteams`), and its size."""
    official = {k: v for k, v in card.items() if k != "msteams"}  # conformance README, gotcha 1
    problems = [f"card: {e.message[:200]} at {list(e.path)}" for e in ADAPTIVE_CARD.iter_errors(official)]
    if card.get("version") != "1.5":
        problems.append(f"card: version {card.get('version')!r}, not 1.5")
    size = len(json.dumps(card, ensure_ascii=False).encode())
    if size > MAX_CARD_BYTES:
        problems.append(f"card: {size} bytes, over {MAX_CARD_BYTES}")
    return problems


@dataclass
class Call:
    method: str
    operation: str  # the swagger operationId
    conversation_id: str = ""
    activity_id: str = ""
    body: dict = field(default_factory=dict)
    query: dict = field(default_factory=dict)
    authorization: str = ""  # the bearer token the bot sent ("" in local development)

    @property
    def card(self) -> dict | None:
        for attachment in self.body.get("attachments") or []:
            if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive":
                return attachment["content"]
        return None

    @property
    def card_text(self) -> str:
        """Every text on the card, for simple assertions."""
        return json.dumps(self.card or {}, ensure_ascii=False)


@dataclass
class Failure:
    status: int
    code: str = ""
    retry_after: str | None = None
    operation: str | None = None  # only this operation; None: the next call of any kind
    conversation: str | None = None  # only calls about this conversation (its base id)


class StandInConnector:
    def __init__(self, verify_token=None) -> None:
        self.verify_token = verify_token  # None: anonymous (local development)
        self.calls: list[Call] = []
        self.problems: list[str] = []  # bodies that do not match the swagger: a test fails on them
        self.failures: list[Failure] = []
        self.rosters: dict[str, list[dict]] = {}  # conversation (base) id -> members
        self.installed_for: set[str] = set()  # user ids whose 1:1 chat with the bot can be opened
        self.messages: dict[tuple[str, str], dict] = {}  # (conversation, activity id) -> latest body
        self._ids = itertools.count(1_700_000_000_001)
        self.cards_checked = 0
        self.largest_card = 0  # bytes
        self.hold: asyncio.Event | None = None  # when set to an Event: messages wait until it is set
        self.on_members: Callable[[], Awaitable[None]] | None = None  # run while a members page is asked

    # --- what tests look at ----------------------------------------------------------------------

    def sent(self, operation: str | None = None, conversation: str | None = None) -> list[Call]:
        return [
            c
            for c in self.calls
            if (operation is None or c.operation == operation)
            and (conversation is None or c.conversation_id == conversation)
        ]

    def posts(self) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.operation in ("SendToConversation", "ReplyToActivity", "UpdateActivity")
        ]

    def fail(
        self,
        status: int,
        code: str = "",
        *,
        retry_after: str | None = None,
        operation: str | None = None,
        conversation: str | None = None,
        times: int = 1,
    ) -> None:
        self.failures.extend(
            Failure(status, code, retry_after, operation, conversation) for _ in range(times)
        )

    # --- the service -------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth])
        r = app.router
        r.add_post("/v3/conversations", self._create_conversation)
        r.add_post("/v3/conversations/{cid}/activities", self._send)
        r.add_post("/v3/conversations/{cid}/activities/{aid}", self._reply)
        r.add_put("/v3/conversations/{cid}/activities/{aid}", self._update)
        r.add_get("/v3/conversations/{cid}/pagedmembers", self._paged_members)
        r.add_get("/v3/conversations/{cid}/pagedMembers", self._paged_members)  # Teams ignores the case
        r.add_get("/v3/conversations/{cid}/members/{mid}", self._member)
        return app

    @web.middleware
    async def _auth(self, request: web.Request, handler):
        if self.verify_token is not None:
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if scheme != "Bearer" or not self.verify_token(token):
                return _error(401, "Unauthorized", "missing or invalid bearer token")
        before = len(self.calls)
        response = await handler(request)
        for call in self.calls[before:]:
            call.authorization = request.headers.get("Authorization", "")
        return response

    def _failure(self, operation: str, conversation: str) -> web.Response | None:
        for i, f in enumerate(self.failures):
            if (f.operation in (None, operation)) and (
                f.conversation in (None, conversation.split(THREAD_MARK)[0])
            ):
                del self.failures[i]
                headers = {"Retry-After": f.retry_after} if f.retry_after is not None else None
                return _error(f.status, f.code, "stand-in failure", headers)
        return None

    async def _body(self, request: web.Request, validator, call: Call) -> dict | None:
        raw = await request.read()
        body = json.loads(raw)
        call.body = body
        if len(raw) > MAX_MESSAGE_BYTES:
            self.problems.append(f"{call.operation}: {len(raw)} bytes, Teams would answer 413")
        for attachment in body.get("attachments") or []:
            if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive":
                self.cards_checked += 1
                self.largest_card = max(self.largest_card, len(json.dumps(attachment["content"]).encode()))
                self.problems.extend(card_problems(attachment["content"]))
        for problem in validator.iter_errors(body):
            self.problems.append(f"{call.operation}: {problem.message} at {list(problem.path)}")
        if call.operation != "CreateConversation" and body.get("type") != "message":
            self.problems.append(f"{call.operation}: activity type {body.get('type')!r}")
        for entity in body.get("entities") or []:
            if entity.get("type") == "mention" and entity.get("text") not in (body.get("text") or ""):
                self.problems.append(f"{call.operation}: mention {entity.get('text')!r} not in the text")
        return body

    async def _create_conversation(self, request: web.Request) -> web.Response:
        call = Call("POST", "CreateConversation")
        self.calls.append(call)
        body = await self._body(request, CONVERSATION_PARAMETERS, call)
        if failed := self._failure(call.operation, ""):
            return failed
        members = body.get("members") or []
        if body.get("isGroup") or len(members) != 1 or not body.get("tenantId"):
            return _error(400, "BadSyntax", "only 1:1 chats, with one member and a tenantId")
        user = members[0].get("id", "")
        if user not in self.installed_for:
            return _error(
                403, "BotNotInConversationRoster", "The bot is not part of the conversation roster."
            )
        return web.json_response({"id": f"a:personal-{user}"}, status=201)

    async def _send(self, request: web.Request) -> web.Response:
        cid = request.match_info["cid"]
        call = Call("POST", "SendToConversation", cid)
        return await self._store(request, call, new_id=True)

    async def _reply(self, request: web.Request) -> web.Response:
        call = Call("POST", "ReplyToActivity", request.match_info["cid"], request.match_info["aid"])
        return await self._store(request, call, new_id=True)

    async def _update(self, request: web.Request) -> web.Response:
        call = Call("PUT", "UpdateActivity", request.match_info["cid"], request.match_info["aid"])
        return await self._store(request, call, new_id=False)

    async def _store(self, request: web.Request, call: Call, *, new_id: bool) -> web.Response:
        if self.hold is not None:
            await self.hold.wait()
        self.calls.append(call)
        body = await self._body(request, ACTIVITY, call)
        if failed := self._failure(call.operation, call.conversation_id):
            return failed
        base, _, root = call.conversation_id.partition(THREAD_MARK)
        if base not in self.rosters and not base.startswith("a:"):
            return _error(404, "ConversationNotFound", "Conversation not found.")
        if root and (base, root) not in self.messages:
            return _error(404, "ConversationNotFound", "No such post to reply to.")
        if not new_id:
            key = (base, call.activity_id)
            if key not in self.messages:
                return _error(404, "ActivityNotFound", "No such message.")
            self.messages[key] = body
            return web.json_response({"id": call.activity_id})
        activity_id = str(next(self._ids))
        call.activity_id = call.activity_id or activity_id
        self.messages[(base, activity_id)] = body
        return web.json_response({"id": activity_id}, status=201)

    async def _paged_members(self, request: web.Request) -> web.Response:
        cid = request.match_info["cid"]
        call = Call("GET", "GetConversationPagedMembers", cid, query=dict(request.query))
        self.calls.append(call)
        if self.on_members is not None:
            await self.on_members()
        if failed := self._failure(call.operation, cid):
            return failed
        if cid not in self.rosters:
            return _error(404, "ConversationNotFound", "Conversation not found.")
        size = max(1, min(int(request.query.get("pageSize") or 50), 500))
        start = int(request.query.get("continuationToken") or 0)
        members = self.rosters[cid][start : start + size]
        page: dict = {"members": members}
        if start + size < len(self.rosters[cid]):
            page["continuationToken"] = str(start + size)
        return web.json_response(page)

    async def _member(self, request: web.Request) -> web.Response:
        cid, mid = request.match_info["cid"], request.match_info["mid"]
        self.calls.append(Call("GET", "GetConversationMember", cid, query={"member": mid}))
        for member in self.rosters.get(cid, []):
            if mid in (member.get("id"), member.get("aadObjectId")):
                return web.json_response(member)
        return _error(404, "MemberNotFound", "Member not found.")


def _error(status: int, code: str, message: str, headers: dict | None = None) -> web.Response:
    """The swagger's ErrorResponse (without a code when there is none to give)."""
    error = {"code": code, "message": message} if code else {"message": message}
    return web.json_response({"error": error}, status=status, headers=headers)
