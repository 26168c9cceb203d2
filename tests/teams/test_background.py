"""Teams gets its answer as soon as the engine's turn is committed; the cards follow in the background,
and the app waits for them when it stops. (The stand-in connector is held shut, so nothing can be sent
until the test lets it: a bot that sent its cards within the request would never answer.)"""

import asyncio

from sqlalchemy import func, select

from storage.models import Discussion
from tests.teams.conftest import action, add_people, make_harness, personal_chat, user
from tests.test_engine import CONVENE

NEVER = 60  # seconds: only so that a bot which does not answer fails instead of hanging the run


def surface(bot):
    return bot.services.router.get("teams")


async def test_a_form_is_answered_before_its_cards_are_sent(teams_bot, db):
    bot, connector = teams_bot, teams_bot.connector
    await add_people(db, ("chair",))
    chair = user("chair")
    connector.installed_for = {chair.id}
    await bot.send(bot.message(chair, "convene", personal=True))
    form = connector.sent("SendToConversation", personal_chat(chair))[-1].card
    sent_before = len(connector.sent("SendToConversation"))

    connector.hold = asyncio.Event()
    submit = bot.execute(chair, personal_chat(chair), action(form, "Convene"), CONVENE)
    status, body = await asyncio.wait_for(bot.send(submit, drain=False), NEVER)

    assert status == 200 and body["statusCode"] == 200
    async with db.session() as s:  # the turn is committed ...
        assert (await s.execute(select(func.count()).select_from(Discussion))).scalar() == 1
    assert len(connector.sent("SendToConversation")) == sent_before  # ... its cards not sent yet
    assert surface(bot).tasks.running
    connector.hold.set()
    await bot.drain()
    assert not surface(bot).tasks.running
    assert any("LL-204511" in c.card_text for c in connector.sent("SendToConversation")[sent_before:])


async def test_cards_still_being_sent_when_the_app_stops_are_sent(db, key, login_url, connector):
    harness = make_harness(db, key, login_url, connector)
    bot = await harness.__aenter__()
    try:
        await add_people(db, ("chair",))
        chair = user("chair")
        connector.installed_for = {chair.id}
        connector.hold = asyncio.Event()
        status, _ = await asyncio.wait_for(
            bot.send(bot.message(chair, "help", personal=True), drain=False), NEVER
        )
        assert status == 202 and not connector.sent("SendToConversation")
        asyncio.get_running_loop().call_soon(connector.hold.set)
    finally:
        await harness.__aexit__(None, None, None)  # the app stops: it waits for the answer to go out
    assert not surface(bot).tasks.running
    answer = connector.sent("SendToConversation", personal_chat(chair))
    assert len(answer) == 1 and "convene" in answer[0].card_text
