"""The Teams surface under test: our aiohttp app with Teams configured, a stand-in Bot Connector at the
activities' serviceUrl, and JWTs signed by a local key whose OpenID metadata and keys a local server
publishes (TEAMS_OPENID_METADATA_URL_OVERRIDE)."""

import functools
import itertools
from dataclasses import dataclass

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot import teams
from bot.config import Settings
from bot.delivery import Router
from bot.services import Services
from bot.timesource import TimeSource
from bot.web import SERVICES
from dialogs.engine import Dialogs
from dialogs.procedure import load_procedure
from storage.models import Person, PersonIdentity
from tests.engine_helpers import CAST, TUESDAY_10AM, Clock
from tests.teams.connector import StandInConnector
from tests.teams.identity import LocalTokenProvider, SigningKey, login_app

APP_ID = "5f0c2a61-3b0e-4d5a-9c39-8b1d2e7a4c10"
TENANT = "0b7e7d3c-1f7a-4c2e-9d6b-2a9f4e8c6a51"
TEAM = "19:team-general@thread.tacv2"  # a team's id is its General channel's id
CHANNEL = "19:strategy-discussions@thread.tacv2"
BOT = {"id": f"28:{APP_ID}", "name": "Strategy discussion"}


@dataclass(frozen=True)
class User:
    key: str
    id: str  # 29:...
    aad: str
    name: str
    guest: bool = False

    def account(self) -> dict:
        return {"id": self.id, "name": self.name, "aadObjectId": self.aad}

    def member(self) -> dict:
        return self.account() | {
            "userRole": "guest" if self.guest else "user",
            "tenantId": TENANT,
            "email": f"{self.key}@example.org",
            "userPrincipalName": f"{self.key}@example.org",
        }


def user(key: str, **kw) -> User:
    return User(key, f"29:{key}-user", f"aad-{key}", CAST[key][0] if key in CAST else key.title(), **kw)


class TeamsHarness:
    """Sends what Teams would send, with a valid token, and builds activities like Teams' own."""

    def __init__(self, client: TestClient, connector: StandInConnector, key: SigningKey, services, clock):
        self.client = client
        self.connector = connector
        self.key = key
        self.services = services
        self.clock = clock
        self.service_url = ""
        self.people: dict[str, int] = {}  # cast key -> person id
        self.users: dict[str, User] = {}
        self._ids = itertools.count(1)

    def token(self, **override) -> str:
        return self.key.channel_token(APP_ID, self.service_url, **override)

    async def send(
        self, activity: dict, *, token: str | None = "valid", headers: dict | None = None, drain: bool = True
    ):
        """POST the activity to /api/messages; returns (status, JSON body or None).

        The bot answers first and sends its cards afterwards; `drain` waits for those too."""
        headers = dict(headers or {})
        if token == "valid":
            headers["Authorization"] = f"Bearer {self.token()}"
        elif token is not None:
            headers["Authorization"] = token
        resp = await self.client.post("/api/messages", json=activity, headers=headers)
        body = await resp.json() if resp.content_type == "application/json" else None
        if drain:
            await self.drain()
        return resp.status, body

    async def drain(self) -> None:
        """Wait until the cards of the turns answered so far have been sent."""
        await self.services.router.get("teams").tasks.drain()

    def next_id(self) -> str:
        return str(1_800_000_000_000 + next(self._ids))

    # --- activities, as Teams sends them ----------------------------------------------------------

    def base(self, who: User, conversation: str, kind: str, **extra) -> dict:
        conversation_type = "personal" if conversation.startswith("a:") else "channel"
        channel_data = {"tenant": {"id": TENANT}}
        if conversation_type == "channel":
            base_id = conversation.split(";messageid=")[0]
            channel_data |= {"team": {"id": TEAM}, "channel": {"id": base_id}}
        return {
            "type": kind,
            "id": self.next_id(),
            "timestamp": "2026-11-24T10:00:00.000Z",
            "channelId": "msteams",
            "serviceUrl": self.service_url,
            "from": who.account(),
            "conversation": {
                "id": conversation,
                "conversationType": conversation_type,
                "tenantId": TENANT,
                **({"isGroup": True} if conversation_type != "personal" else {}),
            },
            "recipient": BOT,
            "channelData": channel_data,
            "locale": "en-GB",
        } | extra

    def message(
        self,
        who: User,
        text: str,
        *,
        channel: str | None = CHANNEL,
        thread: str | None = None,
        mention: bool = True,
        personal: bool = False,
    ) -> dict:
        """A message: a new post in `channel`, a reply in the `thread` of a post, or in a personal chat."""
        if personal:
            conversation = personal_chat(who)
        elif thread:
            conversation = thread
        else:
            conversation = None  # a new post: its id names the thread it starts
        activity = self.base(who, conversation or CHANNEL, "message", textFormat="plain")
        if conversation is None:
            activity["conversation"]["id"] = f"{channel}{';messageid='}{activity['id']}"
            self.connector.messages[(channel, activity["id"])] = {"from": who.id}
        if mention and not personal:
            tag = f"<at>{BOT['name']}</at>"
            activity["text"] = f"{tag} {text}\n"
            activity["entities"] = [{"mentioned": BOT, "text": tag, "type": "mention"}]
        else:
            activity["text"] = text
        return activity

    def execute(self, who: User, conversation: str, data: dict, inputs: dict | None = None, **extra) -> dict:
        """The `adaptiveCard/action` invoke an Action.Execute sends (card data merged with the inputs)."""
        value = {
            "action": {"type": "Action.Execute", "verb": "x", "data": data | (inputs or {})},
            "trigger": "manual",
        }
        return self.base(who, conversation, "invoke", name="adaptiveCard/action", value=value, **extra)

    def submit(self, who: User, conversation: str, data: dict, inputs: dict | None = None) -> dict:
        """The message an Action.Submit sends: the card's data merged with the inputs, as `value`."""
        return self.base(who, conversation, "message", value=data | (inputs or {}))

    def install(self, conversation: str = TEAM) -> dict:
        """The bot added to a team (its General channel) or to a person's personal scope."""
        who = self.users.get("chair") or user("chair")
        activity = self.base(who, conversation, "conversationUpdate", membersAdded=[{"id": BOT["id"]}])
        activity["from"] = {"id": who.id, "aadObjectId": who.aad}  # Teams sends no name here
        if not conversation.startswith("a:"):
            activity["channelData"]["eventType"] = "teamMemberAdded"
        return activity


def personal_chat(who: User) -> str:
    return f"a:personal-{who.id}"


def actions(card: dict) -> list[dict]:
    """Every Action.Execute on a card (top level and in action sets)."""
    found = list(card.get("actions") or [])
    for item in card.get("body") or []:
        if item.get("type") == "ActionSet":
            found.extend(item["actions"])
    return found


def action(card: dict, title: str) -> dict:
    """The data of the action with this title (what Teams sends back when it is pressed)."""
    for a in actions(card):
        if a.get("title") == title:
            assert a["type"] == "Action.Execute" and a["fallback"]["data"] == a["data"]
            return a["data"]
    raise AssertionError(f"no action {title!r} on the card: {[a.get('title') for a in actions(card)]}")


async def add_people(db, keys, *, with_user_id: bool = True) -> dict[str, int]:
    """People from the cast in the directory, with their Teams object id (and 29: id)."""
    ids = {}
    async with db.session() as s:
        for key in keys:
            name, agency, role = CAST[key]
            person = Person(display_name=name, email=f"{key}@example.org", agency=agency, role=role)
            s.add(person)
            await s.flush()
            u = user(key)
            s.add(PersonIdentity(person_id=person.id, platform="teams", tenant=TENANT, external_id=u.aad))
            if with_user_id:
                s.add(PersonIdentity(person_id=person.id, platform="teams", tenant=TENANT, external_id=u.id))
            ids[key] = person.id
    return ids


@pytest.fixture
def key() -> SigningKey:
    return _KEY


_KEY = SigningKey()  # generating RSA keys is slow: one for the session


@pytest.fixture
async def login_url(key):
    async with TestServer(login_app(key), host="127.0.0.1") as server:
        yield str(server.make_url("/v1/.well-known/openidconfiguration"))


@pytest.fixture
async def connector(key):
    stand_in = StandInConnector(key.verify_connector_token)
    async with TestServer(stand_in.app(), host="127.0.0.1") as server:
        stand_in.url = str(server.make_url("/"))
        yield stand_in
    assert not stand_in.problems, stand_in.problems


def teams_settings(db, login_url: str, **override) -> Settings:
    values = {
        "database_url": db.url,
        "microsoft_app_id": APP_ID,
        "microsoft_app_password": "not-a-real-secret",
        "microsoft_app_tenant_id": TENANT,
        "teams_openid_metadata_url_override": login_url,
    }
    return Settings(_env_file=None, **(values | override))


def services_for(settings: Settings, db, clock: Clock) -> Services:
    procedure = load_procedure(settings.procedure_file)
    dialogs = Dialogs(db, procedure, nation=settings.nation, tz=settings.timezone, now=clock.now)
    return Services(
        settings=settings, db=db, procedure=procedure, dialogs=dialogs, time=TimeSource(), router=Router()
    )


@pytest.fixture
async def teams_bot(db, key, login_url, connector):
    """A harness around the bot app, with the database `db` (SQLite and PostgreSQL)."""
    async with make_harness(db, key, login_url, connector) as harness:
        yield harness


class make_harness:
    def __init__(self, db, key, login_url, connector, **settings) -> None:
        self.args = (db, key, login_url, connector, settings)

    async def __aenter__(self) -> TeamsHarness:
        db, key, login_url, connector, settings = self.args
        clock = Clock(TUESDAY_10AM)
        services = services_for(teams_settings(db, login_url, **settings), db, clock)
        app = web.Application()
        app[SERVICES] = services
        teams.setup(app, services, token_provider_factory=functools.partial(LocalTokenProvider, key=key))
        self.client = TestClient(TestServer(app, host="127.0.0.1"))
        await self.client.start_server()
        harness = TeamsHarness(self.client, connector, key, services, clock)
        harness.service_url = connector.url
        return harness

    async def __aexit__(self, *exc) -> None:
        await self.client.close()
