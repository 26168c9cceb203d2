"""The payloads others recorded from Slack (../shared/conformance/slack/), replayed through the real
signed endpoint: as they are, and with our command, action and thread swapped in."""

import json
from urllib.parse import parse_qsl, urlencode

import pytest
from sqlalchemy import func, select

from dialogs import directory
from storage import refs
from storage.models import AuditEvent, Contribution, InboundEvent
from tests.conftest import CONFORMANCE
from tests.slack import signing
from tests.slack.people import seed_discussion, seed_people

SAMPLES = CONFORMANCE / "slack"


async def _changes(db) -> tuple[int, int, int]:
    async with db.session() as s:
        return tuple(
            [
                (await s.execute(select(func.count()).select_from(t))).scalar_one()
                for t in (AuditEvent, InboundEvent, Contribution)
            ]
        )


# sample -> (content type, HTTP status): 404 is Bolt's answer to something the app does not listen for
# (another app's command, action or view; an event type it does not subscribe to).
RAW = {
    "event_callback_app_mention.json": (signing.JSON, 404),
    "event_callback_reaction_added.json": (signing.JSON, 404),
    "event_callback_message_channel.json": (signing.JSON, 200),  # a top-level message: not ours
    "event_callback_message_thread_reply.json": (signing.JSON, 200),  # a thread that is not a discussion's
    "event_callback_message_thread_broadcast.json": (signing.JSON, 200),
    "block_actions.json": (signing.FORM, 404),
    "view_submission.json": (signing.FORM, 404),
    "slash_command.txt": (signing.FORM, 404),
}


def _body(name: str) -> str:
    text = (SAMPLES / name).read_text()
    if name.endswith(".json") and json.loads(text).get("type") in ("block_actions", "view_submission"):
        return signing.payload_body(json.loads(text))  # interactivity arrives as one form field (gotcha 8)
    return text


@pytest.mark.parametrize("name", sorted(RAW))
async def test_samples_as_recorded_are_answered_and_change_nothing(slack, name):
    content_type, status = RAW[name]
    before = await _changes(slack.services.db)
    sent = await slack.post(_body(name), content_type)
    assert sent.status == status
    assert await _changes(slack.services.db) == before
    # Nothing was said to anyone: at most the bot checked its own token.
    assert set(slack.standin.methods()) <= {"auth.test"} and slack.standin.webhooks == []


@pytest.fixture
async def sample_people(slack):
    """The samples' users (W111, W222, U111) as people in the directory."""
    db, procedure = slack.services.db, slack.services.procedure
    cast = await seed_people(db, procedure, slack.standin)
    async with db.session() as s:
        await directory.link_identity(s, cast.ids["duty"], "slack", "W111", "T111")
        await directory.link_identity(s, cast.ids["police"], "slack", "W222", "")
        await directory.link_identity(s, cast.ids["health"], "slack", "U111", "")
    return cast


async def test_the_slash_command_sample_as_strategy_help(slack, sample_people):
    fields = dict(parse_qsl((SAMPLES / "slash_command.txt").read_text()))
    fields |= {"command": "/strategy", "text": "help", "response_url": slack.standin.response_url()}
    sent = await slack.post(urlencode(fields), signing.FORM)
    assert sent.status == 200 and sent.text == ""  # acknowledged at once, answered after
    [answer] = slack.standin.webhooks
    assert answer["response_type"] == "ephemeral" and "convene" in json.dumps(answer["blocks"])


async def test_an_unknown_person_is_told_politely(slack):
    fields = dict(parse_qsl((SAMPLES / "slash_command.txt").read_text()))
    fields |= {"command": "/strategy", "text": "convene", "response_url": slack.standin.response_url()}
    slack.standin.add_user("W111", name="Primary Owner", email="owner@somewhere.example")
    await slack.post(urlencode(fields), signing.FORM)
    [answer] = slack.standin.webhooks
    assert "do not know you yet" in json.dumps(answer) and slack.standin.called("views.open") == []


async def test_thread_reply_samples_become_contributions_once(slack, sample_people):
    db = slack.services.db
    d_id = await seed_discussion(db, sample_people, invited=("police", "health"))
    reply = json.loads((SAMPLES / "event_callback_message_thread_reply.json").read_text())
    broadcast = json.loads((SAMPLES / "event_callback_message_thread_broadcast.json").read_text())
    slack.standin.add_channel("C111", name="sd-abc-123", members=["UBOT", "W222", "U111"], private=True)
    async with db.session() as s:  # the discussion's thread lives at the samples' thread_ts
        for ts in (reply["event"]["thread_ts"], broadcast["event"]["thread_ts"]):
            await refs.save_ref(
                s,
                platform="slack",
                kind="thread",
                key=f"C111:{ts}",
                discussion_id=d_id,
                reference={"channel": "C111", "ts": ts},
            )
    async with db.session() as s:  # the discussion must be under way for replies to count
        from storage.models import Discussion

        (await s.get(Discussion, d_id)).state = "in_progress"

    for _ in range(2):  # the second delivery is Slack retrying the same event_id
        sent = await slack.post(json.dumps(reply), signing.JSON)
        assert sent.status == 200
    broadcast["event_id"] = "Ev222"
    assert (await slack.post(json.dumps(broadcast), signing.JSON)).status == 200

    async with db.session() as s:
        rows = (await s.execute(select(Contribution).order_by(Contribution.id))).scalars().all()
    assert [(r.person_id, r.text) for r in rows] == [
        (sample_people.ids["police"], "When Slack was released?"),
        (sample_people.ids["health"], "Hi there!"),
    ]


async def test_the_block_actions_sample_as_a_status_button(slack, sample_people):
    d_id = await seed_discussion(slack.services.db, sample_people)
    payload = json.loads((SAMPLES / "block_actions.json").read_text())
    payload["actions"][0] |= {"action_id": "d:0:status", "value": str(d_id)}
    payload["response_url"] = slack.standin.response_url()
    sent = await slack.post(signing.payload_body(payload), signing.FORM)
    assert sent.status == 200
    [answer] = slack.standin.webhooks
    assert "ABC-123" in json.dumps(answer["blocks"]) and answer["replace_original"] is False


async def test_the_view_submission_sample_as_one_of_our_forms(slack, sample_people):
    payload = json.loads((SAMPLES / "view_submission.json").read_text())
    payload["view"] |= {"callback_id": "d:form", "private_metadata": json.dumps({"f": "no_such_form"})}
    sent = await slack.post(signing.payload_body(payload), signing.FORM)
    assert sent.status == 200
    answer = sent.json()
    assert answer["response_action"] == "update" and "did not understand" in json.dumps(answer["view"])
