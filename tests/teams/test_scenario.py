"""The whole strategy discussion through Teams activities only, asserting on what the stand-in Bot
Connector received: convene, invite, accept, thread replies, decision, plan, sign-off, circulation and
acknowledgement. Every card the bot sent is checked against the Adaptive Card 1.5 schema and measured
by the stand-in (tests/teams/connector.py)."""

from sqlalchemy import func, select

from dialogs.procedure import load_procedure
from storage.models import Circulation, Contribution, Discussion, Participant
from tests.teams.conftest import CHANNEL, TEAM, action, add_people, personal_chat, user
from tests.test_engine import CONVENE, answers

CAST_IN_CHANNEL = ("chair", "police", "police_manager", "health", "referrer")


def card_with(connector, conversation: str, text: str) -> dict:
    """The latest card sent to (or updated in) a conversation whose content mentions `text`."""
    for call in reversed(connector.posts()):
        if call.conversation_id == conversation and text in call.card_text:
            return call.card
    raise AssertionError(f"no card with {text!r} in {conversation}")


async def test_a_whole_discussion_in_teams(teams_bot, db):
    bot, connector = teams_bot, teams_bot.connector
    people = await add_people(db, CAST_IN_CHANNEL)
    users = {k: user(k) for k in CAST_IN_CHANNEL}
    bot.users = users
    connector.rosters[TEAM] = connector.rosters[CHANNEL] = [users[k].member() for k in CAST_IN_CHANNEL]
    # The app is installed personally for everyone but the health professional.
    connector.installed_for = {users[k].id for k in CAST_IN_CHANNEL if k != "health"}
    chair, police, health, manager = users["chair"], users["police"], users["health"], users["police_manager"]

    assert (await bot.send(bot.install()))[0] == 202

    # Convene: an @mention in the channel; the form comes in the chair's private chat.
    command = bot.message(chair, "convene")
    assert (await bot.send(command))[0] == 202
    form = card_with(connector, personal_chat(chair), "Case reference")
    pointer = connector.sent("SendToConversation", command["conversation"]["id"])  # the command's thread
    assert len(pointer) == 1 and "private chat" in pointer[0].body["text"]
    inputs = CONVENE | {"proposed_time": "14:00"}
    status, body = await bot.send(bot.execute(chair, personal_chat(chair), action(form, "Convene"), inputs))
    assert status == 200 and body["statusCode"] == 200

    # The post went to the channel the command came from, but only as a neutral notice: not everyone in
    # the channel takes part yet. The chair is told why, privately; the first agenda prompt waits.
    posts = connector.sent("SendToConversation", CHANNEL)
    root = [p for p in posts if "Strategy discussion" in p.card_text][-1]
    assert "LL-204511" in root.card_text and "Bruising" not in root.card_text
    assert "details are shared only" in root.card_text
    told = card_with(connector, personal_chat(chair), "not shown in the channel")
    assert "Pat Police" in str(told) and "not taking part" in str(told)
    thread = f"{CHANNEL};messageid={root.activity_id}"
    assert not connector.sent("SendToConversation", thread)

    # Invite everyone else in the channel (Action.Submit this time: what phones send).
    invite_button = action(card_with(connector, personal_chat(chair), "Invite people"), "Invite people")
    await bot.send(bot.submit(chair, personal_chat(chair), invite_button))
    invite_form = card_with(connector, personal_chat(chair), "Send invitations")
    invited = ",".join(str(people[k]) for k in ("police", "police_manager", "health", "referrer"))
    await bot.send(
        bot.execute(chair, personal_chat(chair), action(invite_form, "Send invitations"), {"people": invited})
    )

    # Now everyone present takes part: the post shows the details, updated in place, and the held-back
    # agenda prompt appears in its thread.
    update = connector.sent("UpdateActivity", CHANNEL)[-1]
    assert update.activity_id == root.activity_id and "Quorum" in update.card_text
    stage1 = connector.sent("SendToConversation", thread)[0]
    assert "Stage 1 of 6" in stage1.card_text and "Bruising" in stage1.card_text
    # Invitations: an @mention in the thread for each, and a personal message where the app is installed.
    mentions = [c for c in connector.sent("SendToConversation", thread) if c.body.get("entities")]
    mentioned = {c.body["entities"][0]["mentioned"]["id"] for c in mentions}
    assert mentioned == {users[k].id for k in ("police", "police_manager", "health", "referrer")}
    assert all(
        c.body["text"].startswith(f"<at>{c.body['entities'][0]['mentioned']['name']}</at>") for c in mentions
    )
    police_dm = card_with(connector, personal_chat(police), "invitation")
    assert "Accept" in str(police_dm)
    not_reached = card_with(connector, personal_chat(chair), "Not delivered privately to Harper Health")
    assert "Harper Health" in str(not_reached) and "BotNotInConversationRoster" in str(not_reached)

    # Police accept in their private chat (Action.Submit); health from the mention in the thread.
    await bot.send(bot.submit(police, personal_chat(police), action(police_dm, "Accept")))
    health_mention = next(c.card for c in mentions if c.body["entities"][0]["mentioned"]["id"] == health.id)
    status, body = await bot.send(bot.execute(health, thread, action(health_mention, "Accept")))
    assert status == 200 and "accepted" in body["value"]
    manager_dm = card_with(connector, personal_chat(manager), "invitation")
    await bot.send(bot.submit(manager, personal_chat(manager), action(manager_dm, "Decline")))
    decline = card_with(connector, personal_chat(manager), "Reason for not attending")
    await bot.send(
        bot.execute(
            manager,
            personal_chat(manager),
            _submit_action(decline),
            {"reason": "In court all day", "directions": "Officer to arrange a joint visit."},
        )
    )

    # Start, from the post in the channel; then replies in the thread, without mentioning the bot.
    post = connector.messages[(CHANNEL, root.activity_id)]["attachments"][0]["content"]
    status, body = await bot.send(bot.execute(chair, thread, action(post, "Start")))
    assert status == 200
    assert "Stage 2 of 6" in connector.sent("SendToConversation", thread)[-1].card_text
    reply = bot.message(
        police, "Known to police: a previous domestic incident in 2025.", thread=thread, mention=False
    )
    assert (await bot.send(reply))[0] == 202
    assert (await bot.send(reply))[0] == 202  # Teams delivered it twice
    await bot.send(
        bot.message(health, "Seen by the GP last month; no concerns noted.", thread=thread, mention=False)
    )
    async with db.session() as s:
        texts = sorted((await s.execute(select(Contribution.text))).scalars())
    assert texts == [
        "Known to police: a previous domestic incident in 2025.",
        "Seen by the GP last month; no concerns noted.",
    ]

    # The decision, the plan and the record, each from the post's buttons, forms in the chair's chat.
    post = connector.messages[(CHANNEL, root.activity_id)]["attachments"][0]["content"]
    await bot.send(bot.execute(chair, thread, action(post, "Decide")))
    decide = card_with(connector, personal_chat(chair), "Reasons for the decision")
    await bot.send(
        bot.execute(
            chair,
            personal_chat(chair),
            _submit_action(decide),
            {
                "outcome": "s47_joint",
                "reasons": "Unexplained bruising; threshold met.",
                "risks": "Non-accidental injury; previous domestic incident.",
            },
        )
    )
    post = connector.messages[(CHANNEL, root.activity_id)]["attachments"][0]["content"]
    await bot.send(bot.submit(chair, thread, action(post, "Plan S47")))
    plan = card_with(connector, personal_chat(chair), "tell_parents")
    await bot.send(
        bot.execute(
            chair,
            personal_chat(chair),
            _submit_action(plan),
            {
                "tell_parents": "yes",
                "tell_parents_how": "Social worker, today, visit.",
                "icpc_on": "2026-12-14",
                **answers(load_procedure()),
            },
        )
    )
    assert card_with(connector, personal_chat(chair), "The S47 plan is complete")
    post = connector.messages[(CHANNEL, root.activity_id)]["attachments"][0]["content"]
    await bot.send(bot.execute(chair, thread, action(post, "Review record")))
    signoff = card_with(connector, personal_chat(chair), "Who monitors progress")
    await bot.send(
        bot.execute(
            chair,
            personal_chat(chair),
            _submit_action(signoff),
            {"monitoring": "Team manager reviews weekly in supervision."},
        )
    )

    # Circulation: the record to each participant's private chat; acknowledged from there.
    record = card_with(connector, personal_chat(police), "Record of strategy discussion")
    # Health cannot be messaged privately: the record reaches them by an @mention in the thread.
    to_health = [
        c
        for c in connector.sent("SendToConversation", thread)
        if c.body.get("entities") and c.body["entities"][0]["mentioned"]["id"] == health.id
    ]
    assert "Record of strategy discussion" in to_health[-1].card_text
    assert "Known to police" in str(record)
    await bot.send(bot.submit(police, personal_chat(police), action(record, "Acknowledge receipt")))
    post = connector.messages[(CHANNEL, root.activity_id)]["attachments"][0]["content"]
    assert "acknowledged" in str(post)

    async with db.session() as s:
        d = (await s.execute(select(Discussion))).scalar_one()
        acked = (
            await s.execute(
                select(func.count()).select_from(Circulation).where(Circulation.acknowledged_at.is_not(None))
            )
        ).scalar()
        statuses = dict((await s.execute(select(Participant.person_id, Participant.status))).all())
    assert d.state == "signed_off" and acked == 1
    assert statuses[people["police"]] == "accepted" and statuses[people["health"]] == "accepted"
    assert statuses[people["police_manager"]] == "declined"
    # Nothing but the case reference and the deadline ever went into a notification preview.
    for call in connector.posts():
        assert "Bruising" not in call.body.get("summary", "") and "Known to police" not in call.body.get(
            "text", ""
        )
    assert connector.cards_checked > 20 and connector.largest_card < 80_000


def _submit_action(card: dict) -> dict:
    """The data of a form's submit button (the first Action.Execute that sends the inputs)."""
    from tests.teams.conftest import actions

    for a in actions(card):
        if a["data"].get("_sd") == "form":
            return a["data"]
    raise AssertionError("no form on the card")


async def test_a_second_first_discussion_and_a_stale_second_form_in_teams(teams_bot, db):
    """A second "first discussion" for the case is refused with the way to the open one; a decision
    form left open in the chat while another copy of it was sent is refused, showing the current
    values and what was typed."""
    bot, connector = teams_bot, teams_bot.connector
    await add_people(db, ("chair",))
    chair = user("chair")
    connector.rosters[TEAM] = connector.rosters[CHANNEL] = [chair.member()]
    connector.installed_for = {chair.id}
    await bot.send(bot.install())
    chat = personal_chat(chair)
    for _ in range(2):
        await bot.send(bot.message(chair, "convene"))
        form = card_with(connector, chat, "Case reference")
        await bot.send(
            bot.execute(chair, chat, action(form, "Convene"), CONVENE | {"proposed_time": "14:00"})
        )
    assert "already has an open series" in str(card_with(connector, chat, "Case reference"))
    assert "Open it" in str(card_with(connector, chat, "LL-204511 already has an open series."))
    async with db.session() as s:
        assert (await s.execute(select(func.count()).select_from(Discussion))).scalar_one() == 1

    root = [p for p in connector.sent("SendToConversation", CHANNEL) if "Strategy discussion" in p.card_text][
        -1
    ]
    thread = f"{CHANNEL};messageid={root.activity_id}"
    post = connector.messages[(CHANNEL, root.activity_id)]["attachments"][0]["content"]
    await bot.send(bot.execute(chair, thread, action(post, "Start")))
    post = connector.messages[(CHANNEL, root.activity_id)]["attachments"][0]["content"]
    for _ in range(2):
        await bot.send(bot.execute(chair, thread, action(post, "Decide")))
    first, second = [
        c.card
        for c in connector.posts()
        if c.conversation_id == chat and "Reasons for the decision" in c.card_text
    ][-2:]
    why = {"override_reason": "Police and health are on their way"}
    sent = {"outcome": "no_s47", "reasons": "A", "risks": "B", "alternative": "C"} | why
    await bot.send(bot.execute(chair, chat, _submit_action(second), sent))
    mine = {"outcome": "s47_joint", "reasons": "Unexplained bruising", "risks": "Injury"} | why
    await bot.send(bot.execute(chair, chat, _submit_action(first), mine))
    stale = card_with(connector, chat, "This has changed since you opened it")
    assert "Unexplained bruising" in str(stale)
    async with db.session() as s:
        from storage.models import Decision

        assert (await s.execute(select(Decision.outcome))).scalar_one() == "no_s47"
