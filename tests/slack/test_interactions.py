"""Commands, shortcuts, modals, the App Home and errors in plain words, through signed requests."""

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.timesource import TimeSource
from storage.models import Discussion
from tests.slack.conftest import button, check_standin, make_harness
from tests.slack.people import seed_discussion, seed_people
from tests.slack.standin import BOT_USER
from tests.slack.test_scenario import TUESDAY_10AM, engine_button

CONVENE = {
    "case_ref": "ZX-9",
    "category": "neglect",
    "concern": "Home conditions reported by the health visitor.",
    "immediate_risk": "no",
    "referring_agency": "health",
    "out_of_hours": "no",
    "format": "meeting",
    "proposed_date": "2026-11-24",
    "proposed_time": "15:00",
}


@pytest.fixture
async def bot(sqlite_db, standin):
    slack = await make_harness(sqlite_db, standin, time=TimeSource(TUESDAY_10AM - datetime.now(UTC)))
    cast = await seed_people(sqlite_db, slack.services.procedure, standin)
    standin.add_channel("C0DUTY", name="duty-team", members=[BOT_USER, "U0DUTY"])
    yield slack, cast
    await slack.settle()
    await slack.client.close()
    check_standin(standin)


async def test_a_command_is_acknowledged_before_the_work_is_done(bot):
    slack, _ = bot
    gate = slack.standin.hold("views.open")  # Slack's modal API will not answer until we say so
    sent = await slack.command("U0DUTY", "convene", settle=False)
    assert (sent.status, sent.text) == (200, "")  # acknowledged...
    assert slack.standin.views == {}  # ...while the modal is still on its way
    gate.set()
    await slack.settle()
    assert [json.loads(v["private_metadata"])["f"] for v in slack.standin.views.values()] == ["convene"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "*help*"),
        ("what is this", "*help*"),
        ("HELP", "*help*"),
        ("status", "no open strategy discussions"),
        ("due", "Nothing is due for you"),
    ],
)
async def test_strategy_subcommands_answer_only_the_person_who_asked(bot, text, expected):
    slack, _ = bot
    await slack.command("U0DUTY", text)
    [answer] = slack.standin.webhooks
    assert answer["response_type"] == "ephemeral" and expected in json.dumps(answer)


async def test_the_global_shortcut_opens_the_form_or_explains(bot):
    slack, _ = bot
    await slack.shortcut("U0DUTY")
    [form] = slack.standin.called("views.open")
    assert json.loads(form["view"]["private_metadata"])["f"] == "convene"
    await slack.shortcut("U0POLICE")  # a police officer may not convene: told so in a small modal
    refused = slack.standin.called("views.open")[-1]["view"]
    assert refused["callback_id"] == "d:info" and "Only a duty manager" in json.dumps(refused)
    slack.standin.add_user("U0STRANGER", name="Someone New", email="new@gmail.example")
    await slack.shortcut("U0STRANGER")
    unknown = slack.standin.called("views.open")[-1]["view"]
    assert "do not know you yet" in json.dumps(unknown)


async def test_the_message_shortcut_links_the_message_and_never_copies_it(bot):
    slack, _ = bot
    private = "Neighbour says the children were left alone all weekend"
    await slack.message_shortcut("U0DUTY", "C0DUTY", "1700000001.000100", text=private)
    [asked] = slack.standin.called("chat.getPermalink")
    assert (asked["channel"], asked["message_ts"]) == ("C0DUTY", "1700000001.000100")
    form = slack.last_view("views.open")
    link = "https://council.slack.com/archives/C0DUTY/p1700000001000100"
    assert link in json.dumps(form["blocks"]) and json.loads(form["private_metadata"])["l"] == link
    await slack.submit("U0DUTY", form, CONVENE)
    channel = next(c for c in slack.standin.channels.values() if c.name.startswith("sd-zx-9"))
    [summary_ts] = channel.pins
    thread = slack.standin.messages(channel.id, thread=summary_ts)
    assert any(link in json.dumps(m["blocks"]) and "not copied" in json.dumps(m["blocks"]) for m in thread)
    everything = json.dumps([c.params for c in slack.standin.calls])
    assert private not in everything


async def test_app_home_shows_what_is_due_and_the_viewers_discussions(bot):
    slack, cast = bot
    await slack.command("U0DUTY", "convene")
    await slack.submit("U0DUTY", slack.last_view("views.open"), CONVENE)
    event = {
        "type": "app_home_opened",
        "user": "U0DUTY",
        "channel": "DU0DUTY",
        "tab": "home",
        "event_ts": "1700000002.000100",
    }
    assert (await slack.event(event, "EvHome1")).status == 200
    home = slack.standin.published["U0DUTY"]
    shown = json.dumps(home)
    assert home["type"] == "home" and "Due for you" in shown and "Your discussions" in shown
    assert "ZX-9" in shown and "Dana Duty" in shown
    slack.standin.add_user("U0STRANGER", name="Someone New", email="new@gmail.example")
    await slack.event({**event, "user": "U0STRANGER"}, "EvHome2")
    assert "do not know you yet" in json.dumps(slack.standin.published["U0STRANGER"])
    await slack.event({**event, "tab": "messages"}, "EvHome3")  # the Messages tab is not ours to draw
    assert len(slack.standin.called("views.publish")) == 2


async def test_slow_work_shows_working_then_the_answer(bot):
    slack, _ = bot
    slack.app.work.submit_budget = 0  # as if the engine took longer than Slack waits
    await slack.command("U0DUTY", "convene")
    form = slack.last_view("views.open")
    sent = await slack.submit("U0DUTY", form, CONVENE)
    assert sent.json()["response_action"] == "update" and "Working on it" in json.dumps(sent.json()["view"])
    [update] = slack.standin.called("views.update")
    assert update["view_id"] == form["id"] and "Convened ZX-9" in json.dumps(update["view"])


async def test_slow_work_with_field_errors_still_keeps_what_was_typed(bot):
    slack, _ = bot
    slack.app.work.submit_budget = 0
    await slack.command("U0DUTY", "convene")
    form = slack.last_view("views.open")
    await slack.submit("U0DUTY", form, CONVENE | {"concern": ""})
    [update] = slack.standin.called("views.update")
    inputs = {b["block_id"]: b["element"] for b in update["view"]["blocks"] if b["type"] == "input"}
    assert inputs["case_ref"]["initial_value"] == "ZX-9"  # nothing typed is lost
    assert "concern" in json.dumps(update["view"]) and ":warning:" in json.dumps(update["view"])


async def test_an_expired_trigger_offers_a_button_that_opens_the_form(bot):
    slack, _ = bot
    slack.standin.fail("views.open", status=200, error="expired_trigger_id")
    await slack.command("U0DUTY", "convene")
    [offer] = slack.standin.webhooks
    again = button(offer["blocks"], "Open it")
    await slack.click("U0DUTY", again, channel="C0DUTY", message_ts="1.2")
    opened = slack.standin.called("views.open")
    assert len(opened) == 2 and json.loads(opened[-1]["view"]["private_metadata"])["f"] == "convene"
    assert len(slack.standin.views) == 1


async def test_a_full_modal_stack_is_updated_instead_of_pushed(bot):
    slack, cast = bot
    d_id = await seed_discussion(slack.services.db, cast)
    view = {
        "id": "V0TOP",
        "type": "modal",
        "callback_id": "d:info",
        "private_metadata": json.dumps({"n": 3}),
        "title": {"type": "plain_text", "text": "x"},
        "blocks": [],
    }
    slack.standin.views["V0TOP"] = view
    invite = {"action_id": "d:0:invite", "value": str(d_id), "text": {"type": "plain_text", "text": "Invite"}}
    await slack.click("U0DUTY", invite, view=view)
    assert slack.standin.called("views.push") == []
    [update] = slack.standin.called("views.update")
    assert update["view_id"] == "V0TOP" and json.loads(update["view"]["private_metadata"])["n"] == 3


async def test_slack_errors_are_explained_in_plain_words(sqlite_db, standin):
    """Thread mode, convened from a public channel the bot was never added to."""
    slack = await make_harness(
        sqlite_db, standin, slack_discussion_mode="thread", time=TimeSource(TUESDAY_10AM - datetime.now(UTC))
    )
    try:
        await seed_people(sqlite_db, slack.services.procedure, standin)
        standin.add_channel("C0PUBLIC", name="general", members=["U0DUTY"])
        await slack.command("U0DUTY", "convene", channel="C0PUBLIC")
        await slack.submit("U0DUTY", slack.last_view("views.open"), CONVENE)
        told = json.dumps(standin.messages("DU0DUTY"))
        assert "I am not a member of this channel" in told and "/invite" in told
        assert standin.messages("C0PUBLIC") == []
        async with slack.services.db.session() as s:  # the discussion itself is safe in the database
            assert (await s.execute(select(Discussion.case_ref))).scalar_one() == "ZX-9"
        # Once the bot is added, the next change posts the summary there.
        standin.channels["C0PUBLIC"].members.append(BOT_USER)
        await slack.command("U0DUTY", "status ZX-9", channel="C0PUBLIC")
        status = slack.standin.webhooks[-1]
        await slack.click(
            "U0DUTY", engine_button(status["blocks"], "start"), channel="C0PUBLIC", message_ts="1.2"
        )
        [posted] = standin.messages("C0PUBLIC")[:1]
        assert "ZX-9" in json.dumps(posted["blocks"]) and standin.channels["C0PUBLIC"].pins == [posted["ts"]]
    finally:
        await slack.client.close()


async def test_a_failure_is_reported_politely_and_logged_without_details(bot, caplog, monkeypatch):
    slack, _ = bot

    async def broken(turn):
        raise ValueError(f"constraint failed for concern {turn.value!r}")

    monkeypatch.setattr(slack.services.dialogs, "handle", broken)
    await slack.command("U0DUTY", "status Child-Named-Smith")
    assert "nothing was changed" in json.dumps(slack.standin.webhooks[-1])
    failures = [r.getMessage() for r in caplog.records if r.name.startswith("bot.slack")]
    assert any(m.startswith("slack: a turn failed: ValueError at ") for m in failures)
    assert "Child-Named-Smith" not in caplog.text


async def test_reminders_reach_people_as_direct_messages_naming_only_the_case(bot):
    from datetime import timedelta

    from bot.scheduler import Scheduler

    slack, _ = bot
    await slack.command("U0DUTY", "convene")
    await slack.submit("U0DUTY", slack.last_view("views.open"), CONVENE)
    before = len(slack.standin.messages("DU0DUTY"))
    slack.services.time.advance(timedelta(hours=23, minutes=30))  # the meeting is due in half an hour
    scheduler = Scheduler.from_services(slack.services)
    await scheduler.tick()
    await scheduler.drain()
    reminders = slack.standin.messages("DU0DUTY")[before:]
    assert reminders, "no reminder reached the chair"
    assert all("ZX-9" in r["text"] and CONVENE["concern"] not in json.dumps(r) for r in reminders)


async def test_a_submission_is_acknowledged_in_time_even_while_slack_is_asked_who_submitted(bot):
    """Finding the person (here a users.info call that Slack has not answered yet) counts against the
    submission's budget: the modal says "Working on it" instead of the ack missing Slack's 3 seconds."""
    slack, cast = bot
    slack.app.work.submit_budget = 0.05  # the stand-in will not answer users.info within any budget
    await slack.command("U0DUTY", "convene")
    form = slack.last_view("views.open")
    gate = slack.standin.hold("users.info")
    sent = await slack.submit("U0HEALTH", form, CONVENE, settle=False)  # known by email only
    assert sent.status == 200
    assert sent.json()["response_action"] == "update" and "Working on it" in json.dumps(sent.json()["view"])
    assert [c["user"] for c in slack.standin.called("users.info")] == ["U0HEALTH"]  # asked, not answered
    assert slack.standin.called("views.update") == []
    gate.set()
    await slack.settle()
    [update] = slack.standin.called("views.update")  # the answer replaces "Working on it"
    assert update["view_id"] == form["id"] and "Only a duty manager" in json.dumps(update["view"])
