"""Replay of the real Teams activities in conformance/teams/activities/ (captured from Teams in 2019).

Each is sent as Teams sent it, except that its serviceUrl points at the stand-in connector (and the
token says so). The bot of the council whose tenant they come from must accept every one, answer the
ones meant for it, and ignore the rest; another council's bot must refuse them and store nothing.
"""

import copy
import json

import pytest
from sqlalchemy import func, select

from bot.teams.agent import OTHER_TENANT
from storage.models import ConversationRef, InboundEvent, Person, PersonIdentity
from tests.conftest import CONFORMANCE
from tests.teams.conftest import make_harness
from tests.teams.connector import THREAD_MARK

ACTIVITIES = CONFORMANCE / "teams" / "activities"
CAPTURED_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
DAVE = {  # the engineer who recorded the captures: in our directory as a duty manager
    "id": "29:1CFIxRJBLjT_io3iNsDZxMk_4YPWQmr3DZUM1I6ihf5L2ocCDqg9S1vkHK6kRdGfK1P_2LFE2nQqFIvdu-GBOZA",
    "aadObjectId": "6b703ce3-6d14-4fe6-b90c-dc5f03657ae4",
}
TEAM = "19:097e6717fd7245bdbeba6baa13840db8@thread.skype"
OTHER_CHANNEL = "19:9d3c71104f8c49128368b23a5eaeb86d@thread.skype"
GROUP_CHAT = "19:444d246d19234aab86db1a0cb3d13cb8@thread.v2"

# file -> (expected HTTP status, what the bot should have sent: operation names in order).
# 202: accepted (the answer, if any, goes through the connector); 501: an invoke the bot does not offer.
EXPECTED = {
    "conversationUpdate_channelCreated.json": (202, []),
    "conversationUpdate_membersAdded_team_channel.json": (202, []),  # a person was added, not the bot
    "conversationUpdate_membersAdded_groupChat.json": (202, []),
    "conversationUpdate_membersRemoved_team_channel.json": (202, []),
    "conversationUpdate_teamRenamed.json": (202, []),
    "message_channel_mention.json": (202, ["CreateConversation", "SendToConversation", "SendToConversation"]),
    "message_channel_mention_with_link_html.json": (
        202,
        ["CreateConversation", "SendToConversation", "SendToConversation"],
    ),
    "message_personal.json": (202, ["GetConversationMember", "SendToConversation"]),  # someone unknown
    "message_value_from_action_submit.json": (202, []),  # another bot's card: not ours
    "message_value_from_msteams_messageBack.json": (202, []),
    "invoke_unnamed_from_msteams_invoke_submit.json": (501, []),  # task modules and invoke submits: unused
    "invoke_task_fetch.json": (501, []),
    "invoke_task_submit.json": (501, []),
    "invoke_adaptiveCard_action.doc-excerpt.json": (200, []),  # an invoke is answered in the response
}


def test_every_captured_activity_is_replayed():
    captured = {p.name for p in ACTIVITIES.glob("*.json") if not p.name.endswith(".source-card.json")}
    assert captured == set(EXPECTED)


def load(name: str, service_url: str) -> dict:
    activity = json.loads((ACTIVITIES / name).read_text())
    if name.endswith(".doc-excerpt.json"):  # not a capture: only type, name and value; give it an envelope
        envelope = json.loads((ACTIVITIES / "invoke_task_fetch.json").read_text())
        activity = {k: v for k, v in envelope.items() if k not in ("name", "value")} | activity
    activity["serviceUrl"] = service_url
    return activity


async def add_dave(db) -> int:
    async with db.session() as s:
        person = Person(
            display_name="Dave", email="dave@example.org", agency="social_care", role="duty_manager"
        )
        s.add(person)
        await s.flush()
        s.add(
            PersonIdentity(
                person_id=person.id, platform="teams", tenant=CAPTURED_TENANT, external_id=DAVE["aadObjectId"]
            )
        )
        return person.id


@pytest.fixture
async def captured_bot(db, key, login_url, connector):
    """The bot of the council whose tenant the captures come from."""
    async with make_harness(db, key, login_url, connector, microsoft_app_tenant_id=CAPTURED_TENANT) as bot:
        yield bot


@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_replay(captured_bot, db, name):
    bot, connector = captured_bot, captured_bot.connector
    await add_dave(db)
    for conversation in (TEAM, OTHER_CHANNEL, GROUP_CHAT):
        connector.rosters[conversation] = [DAVE | {"name": "Dave", "userRole": "user"}]
    connector.installed_for = {DAVE["id"]}
    activity = load(name, bot.service_url)
    base, _, root = activity["conversation"]["id"].partition(THREAD_MARK)
    if root:
        connector.messages[(base, root)] = copy.deepcopy(activity)  # the post a reply goes under
    expected_status, expected_calls = EXPECTED[name]

    status, body = await bot.send(activity)

    assert status == expected_status, body
    assert [c.operation for c in connector.calls] == expected_calls
    async with db.session() as s:
        refs = {(r.kind, r.key) for r in (await s.execute(select(ConversationRef))).scalars()}
        events = (await s.execute(select(func.count()).select_from(InboundEvent))).scalar()
    kind = "person" if activity["conversation"].get("conversationType") == "personal" else "channel"
    assert (kind, base) in refs  # every conversation the bot hears from is remembered
    if name.startswith("message_channel_mention"):
        dm = connector.sent("SendToConversation")[0]
        assert (
            "*convene*" in dm.card_text and dm.conversation_id
        )  # unknown words get the help == f"a:personal-{DAVE['id']}"
        create = connector.sent("CreateConversation")[0].body
        assert create["members"] == [{"id": DAVE["id"]}] and create["tenantId"] == CAPTURED_TENANT
        pointer = connector.sent("SendToConversation")[1]
        assert (
            pointer.conversation_id == activity["conversation"]["id"]
            and "private chat" in pointer.body["text"]
        )
        assert events == 0  # it changed nothing, so the same message would be answered again
    elif name == "message_personal.json":
        answer = connector.sent("SendToConversation")[0]
        assert answer.conversation_id == activity["conversation"]["id"]
        assert "not in the strategy discussion directory" in answer.body["text"]
        assert events == 0
    elif name == "invoke_adaptiveCard_action.doc-excerpt.json":
        assert body == {
            "statusCode": 200,
            "type": "application/vnd.microsoft.activity.message",
            "value": "This card is out of date: please use the latest one.",
        }
    else:
        assert events == 0


async def stored(db) -> tuple[int, int, int]:
    """(conversation references, inbound events, platform identities) in the database."""
    async with db.session() as s:
        return tuple(
            [
                (await s.execute(select(func.count()).select_from(table))).scalar()
                for table in (ConversationRef, InboundEvent, PersonIdentity)
            ]
        )


@pytest.mark.parametrize(
    "name, answered",
    [
        ("message_channel_mention.json", True),
        ("message_personal.json", True),
        ("message_value_from_action_submit.json", True),
        ("conversationUpdate_membersAdded_team_channel.json", False),
        ("invoke_adaptiveCard_action.doc-excerpt.json", False),  # answered in the invoke response
    ],
)
async def test_another_tenants_activities_are_refused_politely_and_change_nothing(
    teams_bot, db, name, answered
):
    """The captures come from Microsoft's tenant; this council's bot (tests' TENANT) serves its own."""
    bot, connector = teams_bot, teams_bot.connector
    await add_dave(db)
    connector.rosters[TEAM] = [DAVE | {"name": "Dave", "userRole": "user", "email": "dave@example.org"}]
    connector.installed_for = {DAVE["id"]}
    activity = load(name, bot.service_url)
    before = await stored(db)

    status, body = await bot.send(activity)

    assert status in (200, 202) and await stored(db) == before
    if answered:
        [answer] = connector.calls
        assert answer.operation == "SendToConversation" and answer.body["text"] == OTHER_TENANT
        assert answer.conversation_id == activity["conversation"]["id"]
    else:
        assert connector.calls == []
    if name.startswith("invoke"):
        assert body["value"] == OTHER_TENANT


async def test_a_partner_tenant_named_in_the_settings_is_served(db, key, login_url, connector):
    partner = f" {CAPTURED_TENANT.upper()} , another-tenant"  # as an administrator might write it
    async with make_harness(db, key, login_url, connector, microsoft_allowed_tenant_ids=partner) as bot:
        await add_dave(db)
        connector.rosters[TEAM] = [DAVE | {"name": "Dave", "userRole": "user"}]
        connector.installed_for = {DAVE["id"]}
        status, _ = await bot.send(load("message_channel_mention.json", bot.service_url))
    assert status == 202
    assert "*convene*" in connector.sent("SendToConversation")[0].card_text  # answered: help
    # The channel and Dave's chat remembered; the help changed nothing, so its message id is not kept.
    assert (await stored(db))[:2] == (2, 0)
