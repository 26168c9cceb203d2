"""The guard: case details only where every member may see them; otherwise a neutral notice there and
the reason to the chair privately. Buttons are pressed through real signed requests."""

import json

import pytest
from sqlalchemy import select

from bot.slack.blocks import NEUTRAL_NOTICE
from bot.slack.client import Identity
from bot.slack.guard import Reason, classify
from bot.slack.surface import Origin
from dialogs.model import Card, Target, TargetKind
from storage.models import AuditEvent, ConversationRef
from tests.slack.conftest import button, buttons, check_standin, make_harness
from tests.slack.people import add_outsiders, seed_discussion, seed_people
from tests.slack.standin import BOT_USER, OTHER_TEAM, TEAM
from tests.slack.test_surface import SECRET, main_card, thread_card

ME = Identity(team_id=TEAM, bot_user_id=BOT_USER)


def _user(**kw) -> dict:
    return {"id": "U1", "team_id": TEAM, **kw}


def test_who_may_see_a_discussion():
    allowed, confirmed = {"U1"}, set()
    assert classify(_user(), ME, allowed, confirmed) is None
    assert classify(_user(id="U2"), ME, allowed, confirmed) == Reason.NOT_INVITED
    assert classify(_user(is_restricted=True), ME, allowed, confirmed) == Reason.GUEST  # even if invited
    assert classify(_user(is_ultra_restricted=True), ME, allowed, confirmed) == Reason.GUEST
    assert classify(_user(is_bot=True), ME, allowed, confirmed) == Reason.APP
    outsider = _user(id="U3", team_id=OTHER_TEAM)
    assert classify(outsider, ME, allowed, confirmed) == Reason.EXTERNAL
    assert classify(outsider, ME, allowed | {"U3"}, confirmed) is None  # an invited participant
    assert classify(outsider, ME, allowed, {"U3"}) is None  # confirmed by the chair
    assert classify(_user(id="U4", is_stranger=True), ME, allowed, confirmed) == Reason.EXTERNAL
    # Another workspace of the same Enterprise Grid org is not an outsider.
    grid = Identity(team_id=TEAM, bot_user_id=BOT_USER, enterprise_id="E1")
    sister = _user(team_id="T0SISTER", enterprise_user={"enterprise_id": "E1"})
    assert classify(sister, grid, allowed, confirmed) is None
    # A team place (duty channel) has no invitation list, but guests, apps and outsiders still block.
    assert classify(_user(id="U9"), ME, None, confirmed) is None
    assert classify(_user(id="U9", is_restricted=True), ME, None, confirmed) == Reason.GUEST


@pytest.fixture
async def team_thread(sqlite_db, standin):
    """Thread mode: the discussion lives in the channel where the chair convened."""
    slack = await make_harness(sqlite_db, standin, slack_discussion_mode="thread")
    cast = await seed_people(slack.services.db, slack.services.procedure, standin)
    add_outsiders(standin)
    d_id = await seed_discussion(slack.services.db, cast)
    standin.add_channel("C0TEAM", name="safeguarding", members=[BOT_USER, "U0DUTY", "U0POLICE"])
    yield slack, cast, d_id
    await slack.settle()
    await slack.client.close()
    check_standin(standin)


def _leaked(standin, channel: str) -> bool:
    sent = [c.params for c in standin.calls if c.params.get("channel") == channel]
    return SECRET in json.dumps(sent)


async def _alert(slack) -> dict:
    dms = slack.standin.messages("DU0DUTY")
    assert dms, "the chair was not told"
    return dms[-1]


async def test_a_guest_in_the_channel_holds_everything_back_until_they_leave(team_thread):
    slack, cast, d_id = team_thread
    standin, surface = slack.standin, slack.app.surface
    standin.channels["C0TEAM"].members.append("U0GUEST")
    await surface.deliver(main_card(d_id), Origin(team=TEAM, channel="C0TEAM").to_dict())
    await surface.deliver(thread_card(d_id, f"Stage 1: {SECRET}"))

    [notice] = standin.messages("C0TEAM")
    assert notice["text"] == NEUTRAL_NOTICE and not _leaked(standin, "C0TEAM")
    assert standin.channels["C0TEAM"].pins == []
    alert = await _alert(slack)
    shown = alert["blocks"][1]["text"]["text"]
    assert "<@U0GUEST>: a guest account" in shown and "ABC-123" in shown and SECRET not in json.dumps(alert)
    assert [b["text"]["text"] for b in buttons(alert["blocks"])] == [
        "Check again and post"
    ]  # no confirming a guest

    # Pressing "Check again" while the guest is still there changes nothing.
    await slack.click(
        "U0DUTY", button(alert["blocks"], "Check again and post"), channel="DU0DUTY", message_ts=alert["ts"]
    )
    assert len(standin.messages("C0TEAM")) == 1 and not _leaked(standin, "C0TEAM")
    assert "still may not see" in json.dumps(standin.webhooks[-1])

    standin.channels["C0TEAM"].members.remove("U0GUEST")
    await slack.click(
        "U0DUTY", button(alert["blocks"], "Check again and post"), channel="DU0DUTY", message_ts=alert["ts"]
    )
    summary = standin.messages("C0TEAM")[1]
    assert SECRET in json.dumps(summary["blocks"]) and standin.channels["C0TEAM"].pins == [summary["ts"]]
    [prompt] = standin.messages("C0TEAM", thread=summary["ts"])
    assert "Stage 1" in json.dumps(prompt["blocks"])
    assert "posted the details" in json.dumps(standin.webhooks[-1])
    async with slack.services.db.session() as s:
        held = (
            (await s.execute(select(ConversationRef).where(ConversationRef.kind == "held"))).scalars().all()
        )
    assert held == []
    # From now on the thread maps back to the discussion.
    assert await surface.discussion_for_thread("C0TEAM", summary["ts"]) == d_id


async def test_the_chair_can_confirm_an_invited_professional_from_another_organisation(team_thread):
    slack, cast, d_id = team_thread
    standin, surface = slack.standin, slack.app.surface
    standin.channels["C0TEAM"].members.append("U0EXT")
    await surface.deliver(main_card(d_id), Origin(team=TEAM, channel="C0TEAM").to_dict())
    alert = await _alert(slack)
    assert "<@U0EXT>: from another organisation and not invited" in alert["blocks"][1]["text"]["text"]
    confirm = button(alert["blocks"], "Confirm Sam Sergeant")

    # Only the chair may vouch for someone.
    await slack.click("U0POLICE", confirm, channel="DU0POLICE", message_ts=alert["ts"])
    assert "Only the chair" in json.dumps(standin.webhooks[-1])
    assert not _leaked(standin, "C0TEAM")

    await slack.click("U0DUTY", confirm, channel="DU0DUTY", message_ts=alert["ts"])
    assert SECRET in json.dumps(standin.messages("C0TEAM")[-1]["blocks"])
    async with slack.services.db.session() as s:
        audit = (
            (await s.execute(select(AuditEvent).where(AuditEvent.action == "slack.guard_confirm")))
            .scalars()
            .all()
        )
    assert [(a.actor, a.discussion_id, a.detail) for a in audit] == [
        (f"person:{cast.ids['duty']}", d_id, {"slack_user": "U0EXT"})
    ]


async def test_apps_and_colleagues_not_invited_block_too(team_thread):
    slack, _cast, d_id = team_thread
    slack.standin.channels["C0TEAM"].members += ["U0OTHERAPP", "U0COLLEAGUE"]
    await slack.app.surface.deliver(main_card(d_id), Origin(team=TEAM, channel="C0TEAM").to_dict())
    shown = (await _alert(slack))["blocks"][1]["text"]["text"]
    assert "<@U0OTHERAPP>: another app" in shown and "<@U0COLLEAGUE>: not invited" in shown
    assert not _leaked(slack.standin, "C0TEAM")


async def test_someone_joining_later_hides_the_pinned_summary(team_thread):
    slack, _cast, d_id = team_thread
    standin, surface = slack.standin, slack.app.surface
    await surface.deliver(main_card(d_id), Origin(team=TEAM, channel="C0TEAM").to_dict())
    [summary] = standin.messages("C0TEAM")
    assert SECRET in json.dumps(summary["blocks"])
    standin.channels["C0TEAM"].members.append("U0GUEST")
    await surface.deliver(main_card(d_id, f"{SECRET} (updated)"))
    assert standin.channels["C0TEAM"].messages[summary["ts"]]["text"] == NEUTRAL_NOTICE
    assert SECRET not in json.dumps(standin.channels["C0TEAM"].messages[summary["ts"]])
    assert "<@U0GUEST>" in (await _alert(slack))["blocks"][1]["text"]["text"]
    # The guest leaves; the updated summary comes back in place.
    standin.channels["C0TEAM"].members.remove("U0GUEST")
    await surface.deliver(thread_card(d_id, "Next stage"))
    assert "(updated)" in json.dumps(standin.channels["C0TEAM"].messages[summary["ts"]]["blocks"])


async def test_a_team_channel_with_a_guest_gets_only_a_neutral_notice(sqlite_db, standin):
    slack = await make_harness(sqlite_db, standin, slack_duty_channel="C0DUTY")
    try:
        add_outsiders(standin)
        standin.add_channel("C0DUTY", name="duty", members=[BOT_USER, "U0GUEST"])
        card = Card(
            target=Target(TargetKind.CHANNEL, place="duty"), title="Handover", text=SECRET, preview="Handover"
        )
        await slack.app.surface.deliver(card)
        assert [m["text"] for m in standin.messages("C0DUTY")] == [NEUTRAL_NOTICE]
        standin.channels["C0DUTY"].members.remove("U0GUEST")
        await slack.app.surface.deliver(card)
        assert SECRET in json.dumps(standin.messages("C0DUTY")[-1]["blocks"])
    finally:
        await slack.client.close()


async def test_a_thread_post_held_back_hides_the_summary_and_both_come_back(team_thread):
    slack, _cast, d_id = team_thread
    standin, surface = slack.standin, slack.app.surface
    await surface.deliver(main_card(d_id), Origin(team=TEAM, channel="C0TEAM").to_dict())
    [summary] = standin.messages("C0TEAM")
    standin.channels["C0TEAM"].members.append("U0GUEST")
    await surface.deliver(thread_card(d_id, "Stage 2: information sharing"))
    assert standin.channels["C0TEAM"].messages[summary["ts"]]["text"] == NEUTRAL_NOTICE
    assert standin.messages("C0TEAM", thread=summary["ts"]) == []
    standin.channels["C0TEAM"].members.remove("U0GUEST")
    alert = await _alert(slack)
    await slack.click(
        "U0DUTY", button(alert["blocks"], "Check again and post"), channel="DU0DUTY", message_ts=alert["ts"]
    )
    assert SECRET in json.dumps(standin.channels["C0TEAM"].messages[summary["ts"]]["blocks"])
    [prompt] = standin.messages("C0TEAM", thread=summary["ts"])
    assert "Stage 2" in json.dumps(prompt["blocks"])


async def test_only_the_chair_may_check_again_and_post(team_thread):
    slack, _cast, d_id = team_thread
    standin, surface = slack.standin, slack.app.surface
    standin.channels["C0TEAM"].members.append("U0GUEST")
    await surface.deliver(main_card(d_id), Origin(team=TEAM, channel="C0TEAM").to_dict())
    alert = await _alert(slack)
    recheck = button(alert["blocks"], "Check again and post")
    standin.channels["C0TEAM"].members.remove("U0GUEST")  # the channel is safe now, but...
    checks = len(standin.called("conversations.members"))

    await slack.click("U0POLICE", recheck, channel="DU0POLICE", message_ts=alert["ts"])  # ...not the chair
    assert "Only the chair" in json.dumps(standin.webhooks[-1])
    assert [m["text"] for m in standin.messages("C0TEAM")] == [NEUTRAL_NOTICE] and not _leaked(
        standin, "C0TEAM"
    )
    assert len(standin.called("conversations.members")) == checks  # not even checked

    await slack.click("U0DUTY", recheck, channel="DU0DUTY", message_ts=alert["ts"])
    assert SECRET in json.dumps(standin.messages("C0TEAM")[-1]["blocks"])
    assert len(standin.called("conversations.members")) > checks
