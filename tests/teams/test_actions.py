"""Card actions: a double click acts once, and a form's origin (where the discussion it convenes is
posted) cannot be changed by whoever sends the card's data back."""

import pytest
from sqlalchemy import func, select

from bot.teams.agent import OUT_OF_DATE
from bot.teams.cards import render
from dialogs.model import Button, Card, Target, TargetKind
from storage.models import Discussion, Participant
from tests.teams.conftest import CHANNEL, TEAM, action, add_people, personal_chat, user
from tests.test_engine import CONVENE

EVERYONE = "19:everyone-in-the-council@thread.tacv2"  # a channel the bot is also in


async def count(db, table) -> int:
    async with db.session() as s:
        return (await s.execute(select(func.count()).select_from(table))).scalar()


def latest_card(connector, conversation: str, text: str) -> dict:
    for call in reversed(connector.sent("SendToConversation", conversation)):
        if text in call.card_text:
            return call.card
    raise AssertionError(f"no card with {text!r} in {conversation}")


@pytest.fixture
async def bot(teams_bot):
    keys = ("chair", "police", "health")
    teams_bot.people = await add_people(teams_bot.services.db, keys)
    members = [user(k).member() for k in keys]
    teams_bot.connector.rosters[TEAM] = teams_bot.connector.rosters[CHANNEL] = members
    teams_bot.connector.rosters[EVERYONE] = members
    teams_bot.connector.installed_for = {user(k).id for k in keys}
    await teams_bot.send(teams_bot.install())
    await teams_bot.send(teams_bot.install(EVERYONE))
    return teams_bot


async def convene_form(bot) -> dict:
    """The data of the Convene form's button, asked for with a command in CHANNEL."""
    chair = user("chair")
    await bot.send(bot.message(chair, "convene"))
    return action(latest_card(bot.connector, personal_chat(chair), "Case reference"), "Convene")


@pytest.mark.parametrize("how", ["submit", "execute"])
async def test_a_double_click_on_a_form_convenes_once(bot, db, how):
    chair = user("chair")
    data = await convene_form(bot)
    click = getattr(bot, how)
    first = click(chair, personal_chat(chair), data, CONVENE)
    second = click(chair, personal_chat(chair), data, CONVENE)  # a new activity id: Teams' own
    assert first["id"] != second["id"]
    assert (await bot.send(first))[0] in (200, 202)
    status, _ = await bot.send(second)
    assert status in (200, 202)
    assert await count(db, Discussion) == 1
    assert "already done" in bot.connector.sent("SendToConversation", personal_chat(chair))[-1].card_text


async def test_a_double_click_on_send_invitations_invites_once(bot, db):
    chair = user("chair")
    await bot.send(bot.execute(user("chair"), personal_chat(chair), await convene_form(bot), CONVENE))
    invite = action(latest_card(bot.connector, personal_chat(chair), "Invite people"), "Invite people")
    await bot.send(bot.submit(chair, personal_chat(chair), invite))
    send = action(latest_card(bot.connector, personal_chat(chair), "Send invitations"), "Send invitations")
    people = {"people": f"{bot.people['police']},{bot.people['health']}"}
    for _ in range(2):
        status, _ = await bot.send(bot.submit(chair, personal_chat(chair), send, people))
        assert status == 202
    assert await count(db, Participant) == 3  # the chair and the two invited, once each
    assert len(bot.connector.sent("SendToConversation", personal_chat(user("police")))) == 1


async def test_two_people_pressing_the_same_button_are_two_actions(bot, db):
    """The nonce is per rendered card, and a card in a channel is seen (and pressed) by many."""
    chair, police = user("chair"), user("police")
    await bot.send(bot.execute(chair, personal_chat(chair), await convene_form(bot), CONVENE))
    invite = action(latest_card(bot.connector, personal_chat(chair), "Invite people"), "Invite people")
    await bot.send(bot.submit(chair, personal_chat(chair), invite))
    send = action(latest_card(bot.connector, personal_chat(chair), "Send invitations"), "Send invitations")
    people = {"people": f"{bot.people['police']},{bot.people['health']}"}
    await bot.send(bot.submit(chair, personal_chat(chair), send, people))
    async with db.session() as s:
        did = (await s.execute(select(Discussion.id))).scalar_one()
    alert = Card(
        Target(TargetKind.CHANNEL, place="duty"),
        "Alert",
        buttons=(Button("discussion.open", "Open", str(did)),),
    )
    open_it = action(render(alert), "Open")  # as on an alert in the duty channel
    for who in (chair, police):
        _, answer = await bot.send(bot.execute(who, CHANNEL, open_it))
        assert answer["value"] == "Done: see your private chat with me."
        assert (
            "already done" not in bot.connector.sent("SendToConversation", personal_chat(who))[-1].card_text
        )
    # Opening changes nothing: the button stays usable, and a second press opens it again.
    _, again = await bot.send(bot.execute(police, CHANNEL, open_it))
    assert again["value"] == "Done: see your private chat with me."


@pytest.mark.parametrize("how", ["submit", "execute"])
async def test_a_changed_origin_is_refused_and_nothing_is_posted_there(bot, db, how):
    chair = user("chair")
    data = await convene_form(bot)
    assert data["_sd_origin"] == CHANNEL
    tampered = data | {"_sd_origin": EVERYONE}
    status, body = await bot.send(getattr(bot, how)(chair, personal_chat(chair), tampered, CONVENE))
    assert status in (200, 202)
    assert await count(db, Discussion) == 0
    assert not bot.connector.sent("SendToConversation", EVERYONE)[1:]  # only the welcome there
    if how == "execute":
        assert body["value"] == OUT_OF_DATE
    else:
        assert bot.connector.sent("SendToConversation", personal_chat(chair))[-1].body["text"] == OUT_OF_DATE
    # The genuine form still works, and its discussion goes where it was asked for.
    await bot.send(bot.execute(chair, personal_chat(chair), data, CONVENE))
    assert await count(db, Discussion) == 1
    assert any("LL-204511" in c.card_text for c in bot.connector.sent("SendToConversation", CHANNEL))
    assert not bot.connector.sent("SendToConversation", EVERYONE)[1:]
