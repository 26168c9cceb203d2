"""Double clicks and double submits: Slack gives buttons and modal submissions no delivery id, so each
rendered button and form carries a one-time nonce that the engine de-duplicates on."""

import asyncio
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.slack import blocks
from bot.timesource import TimeSource
from storage.models import AuditEvent, Discussion, Participant
from tests.slack.conftest import check_standin, make_harness
from tests.slack.people import seed_people
from tests.slack.standin import BOT_USER
from tests.slack.test_interactions import CONVENE
from tests.slack.test_scenario import TUESDAY_10AM, engine_button

ALREADY_DONE = "That was already done."


@pytest.fixture
async def bot(db, standin):
    slack = await make_harness(db, standin, time=TimeSource(TUESDAY_10AM - datetime.now(UTC)))
    cast = await seed_people(db, slack.services.procedure, standin)
    standin.add_channel("C0DUTY", name="duty-team", members=[BOT_USER, "U0DUTY"])
    yield slack, cast
    await slack.settle()
    await slack.client.close()
    check_standin(standin)


async def _count(slack, query) -> int:
    async with slack.services.db.session() as s:
        return (await s.execute(query)).scalar_one()


async def _convene(slack) -> dict:
    """Convene through the modal; the answer view (with its "Invite people" button), as Slack shows it."""
    await slack.command("U0DUTY", "convene")
    form = slack.last_view("views.open")
    answer = (await slack.submit("U0DUTY", form, CONVENE)).json()
    assert answer["response_action"] == "update"
    return {**answer["view"], "id": form["id"]}


async def test_the_same_convene_form_submitted_twice_convenes_once(bot):
    slack, _ = bot
    await slack.command("U0DUTY", "convene")
    form = slack.last_view("views.open")
    meta = json.loads(form["private_metadata"])
    assert len(meta["k"]) == 22 and len(form["private_metadata"]) <= blocks.PRIVATE_METADATA

    first = await slack.submit("U0DUTY", form, CONVENE)
    second = await slack.submit("U0DUTY", form, CONVENE)  # the double click on Submit
    assert "Convened ZX-9" in json.dumps(first.json()["view"])
    assert second.json()["response_action"] == "update" and ALREADY_DONE in json.dumps(second.json()["view"])
    assert await _count(slack, select(func.count()).select_from(Discussion)) == 1
    assert len(slack.standin.called("conversations.create")) == 1


async def test_the_same_invitation_form_submitted_twice_invites_once(bot):
    slack, cast = bot
    answer = await _convene(slack)
    await slack.click("U0DUTY", engine_button(answer["blocks"], "invite"), view=answer)
    invite = slack.last_view("views.push")
    people = {invite["blocks"][-1]["block_id"]: [str(cast.ids["police"])]}

    first = await slack.submit("U0DUTY", invite, people)
    second = await slack.submit("U0DUTY", invite, people)
    assert first.status == second.status == 200
    assert "Invited 1 person" in json.dumps(first.json()) and ALREADY_DONE in json.dumps(second.json())
    invited = select(func.count()).select_from(Participant).where(Participant.person_id == cast.ids["police"])
    assert await _count(slack, invited) == 1
    assert len(slack.standin.messages("DU0POLICE")) == 1  # one invitation


async def test_the_same_button_pressed_twice_acts_once(bot):
    slack, cast = bot
    answer = await _convene(slack)
    await slack.click("U0DUTY", engine_button(answer["blocks"], "invite"), view=answer)
    invite = slack.last_view("views.push")
    await slack.submit("U0DUTY", invite, {invite["blocks"][-1]["block_id"]: [str(cast.ids["police"])]})
    [dm] = slack.standin.messages("DU0POLICE")
    accept = engine_button(dm["blocks"], "accept")

    await slack.click("U0POLICE", accept, channel="DU0POLICE", message_ts=dm["ts"])
    await slack.click("U0POLICE", accept, channel="DU0POLICE", message_ts=dm["ts"])
    accepted = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "participant.accepted")
    assert await _count(slack, accepted) == 1
    first, second = slack.standin.webhooks[-2:]
    assert "you have accepted" in json.dumps(first) and ALREADY_DONE in json.dumps(second)


async def test_a_button_that_only_opens_a_form_can_be_pressed_again(bot):
    """Nothing changed, so the nonce is forgotten: closing the form and pressing again works."""
    slack, _ = bot
    answer = await _convene(slack)
    invite = engine_button(answer["blocks"], "invite")
    await slack.click("U0DUTY", invite, view=answer)
    await slack.click("U0DUTY", invite, view=answer)
    pushed = slack.standin.called("views.push")
    assert [json.loads(p["view"]["private_metadata"])["f"] for p in pushed] == ["invite", "invite"]
    assert ALREADY_DONE not in json.dumps([c.params for c in slack.standin.calls])


async def test_a_form_sent_back_with_errors_answers_the_same_way_again(bot):
    """Field errors changed nothing: submitting the same wrong answer again shows the errors again,
    and nothing typed is lost, rather than "already done"."""
    slack, _ = bot
    await slack.command("U0DUTY", "convene")
    form = slack.last_view("views.open")
    wrong = CONVENE | {"case_ref": "Jane Smith!"}
    for _ in range(2):
        sent = await slack.submit("U0DUTY", form, wrong)
        assert sent.json()["response_action"] == "errors" and set(sent.json()["errors"]) == {"case_ref"}
    done = await slack.submit("U0DUTY", form, CONVENE)
    assert "Convened ZX-9" in json.dumps(done.json()["view"])


async def test_a_double_submit_arriving_at_once_still_convenes_once(bot):
    """The two submissions of a real double click are handled at the same time."""
    slack, _ = bot
    await slack.command("U0DUTY", "convene")
    form = slack.last_view("views.open")
    sent = await asyncio.gather(*(slack.submit("U0DUTY", form, CONVENE, settle=False) for _ in range(2)))
    await slack.settle()
    assert [s.status for s in sent] == [200, 200]
    assert await _count(slack, select(func.count()).select_from(Discussion)) == 1
    assert len(slack.standin.called("conversations.create")) == 1
    shown = json.dumps([s.json() for s in sent] + slack.standin.called("views.update"))
    assert "Convened ZX-9" in shown and ALREADY_DONE in shown
