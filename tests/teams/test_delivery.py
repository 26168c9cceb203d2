"""The Teams Surface: proactive sends through stored references, what Teams' failures become, updates
in place, long cards, configured channels, and the guard that keeps case details from people who are
not taking part."""

import pytest
from sqlalchemy import select

from bot.delivery import DeliveryError
from dialogs.model import Actor, Card, Target, TargetKind, Turn, TurnKind
from storage.models import ConversationRef
from tests.engine_helpers import CAST
from tests.teams.conftest import BOT, CHANNEL, TEAM, TENANT, add_people, make_harness, personal_chat, user
from tests.test_engine import CONVENE


def direct(person_id: int, text: str = "Your action is due tomorrow.", **kw) -> Card:
    return Card(
        target=Target(TargetKind.DIRECT, person_id=person_id),
        title="Reminder",
        text=text,
        preview="LL-204511: action due",
        **kw,
    )


async def convene(bot, people, **fields):
    """A discussion convened through the engine; its cards, for the Surface to deliver."""
    name, agency, role = CAST["chair"]
    chair = Actor(people["chair"], name, agency, role)
    turn = Turn(actor=chair, kind=TurnKind.FORM, name="convene", fields=CONVENE | fields, channel="teams")
    return list((await bot.services.dialogs.handle(turn)).cards)


@pytest.fixture
async def bot(teams_bot):
    teams_bot.people = await add_people(teams_bot.services.db, ("chair", "police", "health"))
    teams_bot.connector.rosters[TEAM] = teams_bot.connector.rosters[CHANNEL] = [user("chair").member()]
    await teams_bot.send(teams_bot.install())  # the team's channel is known: a service URL to write through
    return teams_bot


def surface(bot):
    return bot.services.router.get("teams")


async def test_a_direct_message_opens_the_chat_once_and_then_uses_it(bot):
    police = bot.people["police"]
    bot.connector.installed_for = {user("police").id}
    assert await surface(bot).can_reach(direct(police))
    await bot.services.router.deliver(direct(police))
    await bot.services.router.deliver(direct(police, "Second reminder."))
    assert [c.operation for c in bot.connector.calls[1:]] == [
        "CreateConversation",
        "SendToConversation",
        "SendToConversation",
    ]
    assert {c.conversation_id for c in bot.connector.sent("SendToConversation")[1:]} == {
        personal_chat(user("police"))
    }
    create = bot.connector.sent("CreateConversation")[0].body
    assert create == {
        "isGroup": False,
        "bot": {"id": f"28:{bot.services.settings.microsoft_app_id}"},
        "members": [{"id": user("police").id}],
        "tenantId": TENANT,
        "channelData": {"tenant": {"id": TENANT}},
    }


async def test_someone_without_a_teams_identity_cannot_be_reached(bot):
    async with bot.services.db.session() as s:
        from storage.models import Person

        stranger = Person(display_name="No Teams", agency="police", role="police_officer")
        s.add(stranger)
        await s.flush()
    assert not await surface(bot).can_reach(direct(stranger.id))
    with pytest.raises(DeliveryError) as caught:
        await surface(bot).deliver(direct(stranger.id))
    assert not caught.value.retryable


@pytest.mark.parametrize("status", [429, 412, 502, 504])
async def test_throttling_and_outages_are_retryable_and_lose_nothing(bot, status):
    police = bot.people["police"]
    bot.connector.installed_for = {user("police").id}
    bot.connector.fail(
        status, "Throttled", retry_after="7" if status == 429 else None, operation="SendToConversation"
    )
    with pytest.raises(DeliveryError) as caught:
        await surface(bot).deliver(direct(police))
    assert caught.value.retryable
    assert caught.value.retry_after == (7.0 if status == 429 else None)
    await surface(bot).deliver(direct(police))  # the scheduler's next try gets through
    assert "Your action is due" in bot.connector.sent("SendToConversation")[-1].card_text


@pytest.mark.parametrize(
    "status, code, operation",
    [
        (403, "BotNotInConversationRoster", "CreateConversation"),
        (403, "BotNotInConversationRoster", "SendToConversation"),
        (404, "ConversationNotFound", "SendToConversation"),
        (403, "", "SendToConversation"),
        (404, "", "SendToConversation"),
    ],
)
async def test_people_who_cannot_be_reached_are_reported_for_the_chair(bot, status, code, operation):
    police = bot.people["police"]
    bot.connector.installed_for = {user("police").id}
    bot.connector.fail(status, code, operation=operation)
    secret = "Unexplained bruising to the upper arm"
    with pytest.raises(DeliveryError) as caught:
        await surface(bot).deliver(direct(police, secret))
    message = str(caught.value)
    assert not caught.value.retryable
    assert "Pat Police" in message and (code or f"HTTP {status}") in message
    assert secret not in message


async def test_answers_in_a_turn_back_off_and_retry(bot):
    chair = user("chair")
    bot.connector.installed_for = {chair.id}
    bot.connector.fail(429, "Throttled", retry_after="0", operation="SendToConversation")
    bot.connector.fail(502, "BadGateway", operation="SendToConversation")
    status, _ = await bot.send(bot.message(chair, "help", personal=True))
    assert status == 202
    answers = bot.connector.sent("SendToConversation", personal_chat(chair))
    assert len(answers) == 3 and "**convene**" in answers[-1].card_text  # third time lucky


async def test_a_card_with_the_same_key_is_updated_in_place(bot):
    police = bot.people["police"]
    bot.connector.installed_for = {user("police").id}
    await surface(bot).deliver(direct(police, "Version one.", key="circulation:1"))
    await surface(bot).deliver(direct(police, "Version two.", key="circulation:1"))
    first = bot.connector.sent("SendToConversation")[-1]
    update = bot.connector.sent("UpdateActivity")[0]
    assert (update.conversation_id, update.activity_id) == (first.conversation_id, first.activity_id)
    assert "Version two." in update.card_text
    # A message deleted in Teams meanwhile: the card is sent again rather than lost.
    del bot.connector.messages[(first.conversation_id, first.activity_id)]
    await surface(bot).deliver(direct(police, "Version three.", key="circulation:1"))
    assert "Version three." in bot.connector.sent("SendToConversation")[-1].card_text


async def test_a_long_card_comes_in_parts_each_under_80_kb(bot):
    police = bot.people["police"]
    bot.connector.installed_for = {user("police").id}
    record = "\n".join(f"- Contribution {i}: " + "detail " * 60 for i in range(600))  # about 250 KB
    await surface(bot).deliver(direct(police, record, buttons=()))
    parts = bot.connector.sent("SendToConversation", personal_chat(user("police")))
    assert len(parts) >= 4 and "(part 1 of" in parts[0].card_text
    assert all(len(p.card_text.encode()) < 80_000 for p in parts)
    sent = "".join(p.card["body"][1]["text"] for p in parts)
    assert sent.count("Contribution ") == 600  # nothing lost between the parts


async def test_the_post_shows_only_a_notice_where_there_are_guests_and_the_chair_is_told(bot):
    chair, guest = user("chair"), user("visitor", guest=True)
    bot.connector.rosters[CHANNEL] = [chair.member(), guest.member()]
    bot.connector.installed_for = {chair.id}
    cards = await convene(bot, bot.people)
    main = next(c for c in cards if c.target.kind == TargetKind.MAIN_POST)
    bot.services.settings.teams_duty_channel_id = CHANNEL
    await surface(bot).deliver(main)
    post = bot.connector.sent("SendToConversation", CHANNEL)[-1]
    assert "LL-204511" in post.card_text and "Quorum" not in post.card_text
    told = bot.connector.sent("SendToConversation", personal_chat(chair))[-1]
    assert "guests (Visitor)" in told.card_text
    assert told.body["summary"] == "LL-204511: details not shown in the channel"


async def test_members_are_checked_page_by_page(bot):
    chair = user("chair")
    crowd = [user(f"member{i}").member() for i in range(449)]
    bot.connector.rosters[CHANNEL] = [chair.member(), *crowd]
    bot.connector.installed_for = {chair.id}
    bot.services.settings.teams_duty_channel_id = CHANNEL
    cards = await convene(bot, bot.people)
    await surface(bot).deliver(next(c for c in cards if c.target.kind == TargetKind.MAIN_POST))
    pages = bot.connector.sent("GetConversationPagedMembers", CHANNEL)
    assert [p.query.get("continuationToken", "") for p in pages] == ["", "200", "400"]
    told = bot.connector.sent("SendToConversation", personal_chat(chair))[-1].card_text
    assert "Member0" in told and "and 439 more" in told
    assert "Bruising" not in bot.connector.sent("SendToConversation", CHANNEL)[-1].card_text


async def test_out_of_hours_discussions_are_announced_in_the_configured_channel(
    db, key, login_url, connector
):
    ooh = "19:out-of-hours@thread.tacv2"
    async with make_harness(db, key, login_url, connector, teams_out_of_hours_channel_id=ooh) as bot:
        people = await add_people(db, ("chair",))
        chair = user("chair")
        connector.rosters[TEAM] = connector.rosters[CHANNEL] = connector.rosters[ooh] = [chair.member()]
        connector.installed_for = {chair.id}
        await bot.send(bot.install())
        await bot.send(bot.message(chair, "convene"))
        from tests.teams.conftest import action

        form = connector.sent("SendToConversation", personal_chat(chair))[-1].card
        await bot.send(
            bot.execute(
                chair,
                personal_chat(chair),
                action(form, "Convene"),
                # A day-time meeting the chair counts as out of hours: the override needs its reason.
                CONVENE | {"out_of_hours": "yes", "hours_reason": "The out-of-hours team runs it"},
            )
        )
        announced = connector.sent("SendToConversation", ooh)
        assert (
            len(announced) == 1
            and "New out-of-hours strategy discussion: LL-204511" in announced[0].card_text
        )
        assert "Bruising" not in announced[0].card_text
        assert people  # the chair convened it


async def test_every_conversation_the_bot_is_in_is_remembered(bot):
    async with bot.services.db.session() as s:
        kinds = {(r.kind, r.key) for r in (await s.execute(select(ConversationRef))).scalars()}
    assert ("channel", TEAM) in kinds
    chair = user("chair")
    await bot.send(bot.install(personal_chat(chair)))  # installed personally: a welcome, and a reference
    async with bot.services.db.session() as s:
        ref = (await s.execute(select(ConversationRef).where(ConversationRef.kind == "person"))).scalar_one()
    assert ref.key == personal_chat(chair) and ref.person_id == bot.people["chair"]
    assert await surface(bot).can_reach(direct(bot.people["chair"]))


async def convene_in_channel(bot) -> tuple[int, str]:
    """A discussion convened from the channel, as a chair does it; (its id, its thread's conversation id)."""
    from tests.teams.conftest import action

    chair = user("chair")
    bot.connector.installed_for |= {chair.id}
    await bot.send(bot.message(chair, "convene"))
    form = bot.connector.sent("SendToConversation", personal_chat(chair))[-1].card
    await bot.send(bot.execute(chair, personal_chat(chair), action(form, "Convene"), CONVENE))
    post = next(c for c in bot.connector.sent("SendToConversation", CHANNEL) if "Quorum" in c.card_text)
    async with bot.services.db.session() as s:
        from storage.models import Discussion

        did = (await s.execute(select(Discussion.id))).scalar_one()
    return did, f"{CHANNEL};messageid={post.activity_id}"


async def test_a_reminder_the_private_chat_cannot_take_goes_to_the_thread_and_the_chair_is_told(bot):
    did, thread = await convene_in_channel(bot)
    police = bot.people["police"]  # not installed for: opening the chat gets 403 BotNotInConversationRoster
    reminder = Card(
        target=Target(TargetKind.DIRECT, person_id=police, discussion_id=did),
        title="Action due tomorrow",
        text="Joint visit: due Thu 26 Nov.",
        preview="LL-204511: action due tomorrow",
    )
    await bot.services.router.deliver(reminder)  # handled: nothing for the scheduler to retry or lose
    in_thread = bot.connector.sent("SendToConversation", thread)[-1]
    assert in_thread.body["entities"][0]["mentioned"] == {"id": user("police").id, "name": "Pat Police"}
    assert "Joint visit" in in_thread.card_text
    told = bot.connector.sent("SendToConversation", personal_chat(user("chair")))[-1]
    assert "Not delivered privately to Pat Police" in told.card_text
    assert "BotNotInConversationRoster" in told.card_text and "Joint visit" not in told.card_text


async def test_a_reminder_nobody_can_take_fails_for_good_and_the_chair_is_told_what_it_was(bot):
    did, _ = await convene_in_channel(bot)
    async with bot.services.db.session() as s:
        from storage.models import Person

        nobody = Person(display_name="Nat Nowhere", agency="health", role="health_professional")
        s.add(nobody)
        await s.flush()
    reminder = Card(
        target=Target(TargetKind.DIRECT, person_id=nobody.id, discussion_id=did),
        title="Record to acknowledge",
        text="Record of strategy discussion: the concern in full.",
        preview="LL-204511: record to acknowledge",
    )
    bot.connector.installed_for = {user("chair").id}
    async with bot.services.db.session() as s:  # a Teams id, but no chat can be opened with it
        from storage.models import PersonIdentity

        s.add(PersonIdentity(person_id=nobody.id, platform="teams", tenant=TENANT, external_id="29:nat"))
    bot.connector.fail(404, "ConversationNotFound", operation="SendToConversation", conversation=CHANNEL)
    with pytest.raises(DeliveryError) as caught:
        await surface(bot).deliver(reminder)
    assert not caught.value.retryable and "Nat Nowhere" in str(caught.value)
    told = bot.connector.sent("SendToConversation", personal_chat(user("chair")))[-1].card_text
    assert "Not delivered privately to Nat Nowhere" in told and "LL-204511: record to acknowledge" in told
    assert "the concern in full" not in told


async def test_the_guard_lets_only_this_bot_through_not_other_apps(bot):
    chair = user("chair")
    other_app = {"id": "28:0d4c7e8f-another-app", "name": "Polly"}  # any bot: someone else's app, or a spy
    bot.connector.rosters[CHANNEL] = [chair.member(), BOT, other_app]
    bot.connector.installed_for = {chair.id}
    bot.services.settings.teams_duty_channel_id = CHANNEL
    cards = await convene(bot, bot.people)
    await surface(bot).deliver(next(c for c in cards if c.target.kind == TargetKind.MAIN_POST))
    assert "Quorum" not in bot.connector.sent("SendToConversation", CHANNEL)[-1].card_text
    told = bot.connector.sent("SendToConversation", personal_chat(chair))[-1].card_text
    assert "these members are not taking part: Polly." in told  # Polly alone: this bot is not named

    bot.connector.rosters[CHANNEL] = [chair.member(), BOT]  # with only this bot, the details show
    cards = await convene(bot, bot.people, case_ref="LL-204512")
    await surface(bot).deliver(next(c for c in cards if c.target.kind == TargetKind.MAIN_POST))
    assert "Quorum" in bot.connector.sent("SendToConversation", CHANNEL)[-1].card_text


async def test_the_guard_holds_no_transaction_while_it_asks_teams_for_the_members(
    sqlite_db, key, login_url, connector
):
    """On SQLite a transaction holds the write lock: another writer must get in during the paging."""
    async with make_harness(sqlite_db, key, login_url, connector, teams_duty_channel_id=CHANNEL) as bot:
        people = await add_people(sqlite_db, ("chair",))
        chair = user("chair")
        connector.rosters[TEAM] = connector.rosters[CHANNEL] = [chair.member()]
        connector.installed_for = {chair.id}
        await bot.send(bot.install())
        written = []

        async def another_writer():
            async with sqlite_db.session() as s:  # BEGIN IMMEDIATE: waits for the write lock
                s.add(ConversationRef(platform="test", kind="x", key=f"during-paging-{len(written)}"))
            written.append(True)

        connector.on_members = another_writer
        cards = await convene(bot, people)
        await surface(bot).deliver(next(c for c in cards if c.target.kind == TargetKind.MAIN_POST))
    assert written == [True]
    assert "Quorum" in connector.sent("SendToConversation", CHANNEL)[-1].card_text
