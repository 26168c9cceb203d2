"""Delivering cards into Slack through the Surface protocol, against the stand-in Web API."""

import pytest
from sqlalchemy import select

from bot.delivery import DeliveryError
from bot.slack.channels import channel_name
from bot.slack.surface import Origin
from dialogs.model import Button, Card, Target, TargetKind
from storage import refs
from storage.models import ConversationRef, PersonIdentity
from tests.slack.conftest import make_harness
from tests.slack.people import seed_discussion, seed_people
from tests.slack.standin import BOT_USER, TEAM

SECRET = "Bruising seen at school by the class teacher"


def main_card(d_id: int, text: str = SECRET) -> Card:
    return Card(
        target=Target(TargetKind.MAIN_POST, discussion_id=d_id),
        title="Strategy discussion ABC-123",
        text=text,
        facts=(("Chair", "Dana Duty"),),
        key=f"main:{d_id}",
        preview="ABC-123: meeting by 14:00",
    )


def thread_card(d_id: int, text: str, key: str | None = None) -> Card:
    return Card(
        target=Target(TargetKind.THREAD, discussion_id=d_id),
        title="Stage 1 of 6",
        text=text,
        key=key,
        preview="ABC-123: next stage",
    )


@pytest.fixture
async def world(slack):
    cast = await seed_people(slack.services.db, slack.services.procedure, slack.standin)
    d_id = await seed_discussion(slack.services.db, cast)
    return slack, cast, d_id


async def test_first_summary_creates_a_private_channel_invites_pins_and_remembers(world):
    slack, cast, d_id = world
    surface, standin = slack.app.surface, slack.standin
    card = main_card(d_id)
    assert await surface.can_reach(card) is False  # nowhere yet, and no interaction to start one
    assert await surface.can_reach(card, Origin(team=TEAM).to_dict()) is True
    await surface.deliver(card, Origin(team=TEAM).to_dict())

    created = standin.called("conversations.create")
    assert created == [{"name": "sd-abc-123-2026-03-27", "is_private": True}]
    channel = next(c for c in standin.channels.values() if c.name == "sd-abc-123-2026-03-27")
    # The chair and both invitees; health was found by email and is now linked in the directory.
    assert sorted(channel.members) == sorted([BOT_USER, "U0DUTY", "U0POLICE", "U0HEALTH"])
    assert {"email": "health@council.example.org"} in standin.called("users.lookupByEmail")
    async with slack.services.db.session() as s:
        linked = (
            (await s.execute(select(PersonIdentity).where(PersonIdentity.person_id == cast.ids["health"])))
            .scalars()
            .all()
        )
    assert [(i.platform, i.external_id, i.tenant) for i in linked] == [("slack", "U0HEALTH", TEAM)]
    [post] = standin.posts_in(channel.id)
    assert post["text"] == "ABC-123: meeting by 14:00" and SECRET in post["blocks"][1]["text"]["text"]
    assert channel.pins == [next(iter(channel.messages))]
    async with slack.services.db.session() as s:
        thread = await refs.find_ref(s, platform="slack", kind="thread", discussion_id=d_id)
    assert thread.key == f"{channel.id}:{channel.pins[0]}"
    assert await surface.discussion_for_thread(channel.id, channel.pins[0]) == d_id

    # The same summary again is an update in place, not a second post; nobody is invited twice.
    await surface.deliver(main_card(d_id, "Updated summary"))
    [update] = standin.called("chat.update")
    assert update["ts"] == channel.pins[0] and "Updated summary" in update["blocks"][1]["text"]["text"]
    assert len(standin.posts_in(channel.id)) == 1 and len(standin.called("conversations.invite")) == 3

    # Prompts go into its thread; a keyed one is updated in place the second time.
    await surface.deliver(thread_card(d_id, "What is the concern?", key="stage:1"))
    await surface.deliver(thread_card(d_id, "What is the concern? (answered)", key="stage:1"))
    await surface.deliver(thread_card(d_id, "Information from each agency"))
    replies = standin.posts_in(channel.id, thread=channel.pins[0])
    assert [r["blocks"][1]["text"]["text"] for r in replies] == [
        "What is the concern?",
        "Information from each agency",
    ]
    assert standin.called("chat.update")[-1]["blocks"][1]["text"]["text"] == "What is the concern? (answered)"


async def test_a_taken_channel_name_gets_a_suffix(world):
    slack, _cast, d_id = world
    slack.standin.add_channel("C0OLD", name="sd-abc-123-2026-03-27", members=[])
    await slack.app.surface.deliver(main_card(d_id), Origin(team=TEAM).to_dict())
    assert [c["name"] for c in slack.standin.called("conversations.create")] == [
        "sd-abc-123-2026-03-27",
        "sd-abc-123-2026-03-27-1",
    ]


def test_channel_names_follow_slacks_rules():
    from datetime import date

    assert channel_name("ABC/123 Smith?", date(2026, 1, 2)) == "sd-abc-123-smith-2026-01-02"
    assert len(channel_name("x" * 200, date(2026, 1, 2), 3)) == 80
    assert channel_name("!!!", date(2026, 1, 2)) == "sd-case-2026-01-02"


async def test_the_chair_is_told_in_plain_words_whom_slack_would_not_let_in(world):
    slack, _cast, d_id = world
    slack.standin.errors[("conversations.invite", "U0POLICE")] = "cant_invite"
    await slack.app.surface.deliver(main_card(d_id), Origin(team=TEAM).to_dict())
    dm = slack.standin.posts_in("DU0DUTY")
    assert len(dm) == 1
    shown = dm[0]["blocks"][1]["text"]["text"]
    assert "Pat Constable" in shown and "Apps cannot add guests" in shown
    assert SECRET not in str(dm)  # names and the case reference only
    await slack.app.surface.deliver(main_card(d_id, "again"))
    assert len(slack.standin.posts_in("DU0DUTY")) == 1  # told once


async def test_direct_messages_reach_people_by_id_or_email_and_update_by_key(world):
    slack, cast, d_id = world
    surface, standin = slack.app.surface, slack.standin
    invite = Card(
        target=Target(TargetKind.DIRECT, person_id=cast.ids["police"], discussion_id=d_id),
        title="Invitation",
        text="You are invited",
        buttons=(Button("accept", "Accept", "1"),),
        key="invitation:1",
        preview="ABC-123: invitation",
    )
    assert await surface.can_reach(invite)
    await surface.deliver(invite)
    await surface.deliver(
        Card(target=invite.target, title="Invitation", text="Accepted", key="invitation:1", preview="x")
    )
    assert standin.called("conversations.open") == [{"users": "U0POLICE"}, {"users": "U0POLICE"}]
    assert len(standin.posts_in("DU0POLICE")) == 1 and len(standin.called("chat.update")) == 1

    # Someone Slack does not know by email cannot be reached here (another surface may reach them).
    async with slack.services.db.session() as s:
        from dialogs import directory

        nobody = await directory.add_person(
            s,
            slack.services.procedure,
            name="No Slack",
            email="nobody@elsewhere.example",
            agency="police",
            role="police_officer",
        )
    lost = Card(target=Target(TargetKind.DIRECT, person_id=nobody.id), title="Reminder")
    assert await surface.can_reach(lost) is False


async def test_rate_limits_and_server_errors_are_retryable_with_retry_after(world):
    slack, cast, d_id = world
    surface, standin = slack.app.surface, slack.standin
    card = Card(
        target=Target(TargetKind.DIRECT, person_id=cast.ids["police"]),
        title="Reminder",
        key="r:1",
        preview="ABC-123",
    )
    standin.fail("chat.postMessage", status=429, retry_after="7")
    with pytest.raises(DeliveryError) as limited:
        await surface.deliver(card)
    assert (limited.value.retryable, limited.value.retry_after) == (True, 7.0)
    assert "ABC-123" not in str(limited.value) and str(limited.value) == "slack chat.postMessage: ratelimited"
    standin.fail("chat.postMessage", status=503, error="service_unavailable")
    with pytest.raises(DeliveryError) as down:
        await surface.deliver(card)
    assert (down.value.retryable, down.value.retry_after) == (True, None)
    async with slack.services.db.session() as s:  # nothing remembered for a message that was not sent
        assert (
            await s.execute(select(ConversationRef).where(ConversationRef.kind == "card"))
        ).first() is None
    await surface.deliver(card)  # Slack is back
    assert len(standin.messages("DU0POLICE")) == 1


async def test_a_missing_channel_is_not_retryable(sqlite_db, standin):
    slack = await make_harness(sqlite_db, standin, slack_duty_channel="C0GONE")
    try:
        card = Card(target=Target(TargetKind.CHANNEL, place="duty"), title="Handover", preview="Handover")
        assert await slack.app.surface.can_reach(card)
        with pytest.raises(DeliveryError) as gone:
            await slack.app.surface.deliver(card)
        assert gone.value.retryable is False and gone.value.code == "channel_not_found"
        assert "cannot see that channel" in gone.value.explanation
    finally:
        await slack.client.close()


async def test_interactive_delivery_waits_out_a_rate_limit(world):
    slack, cast, d_id = world
    card = Card(
        target=Target(TargetKind.DIRECT, person_id=cast.ids["police"]), title="Reminder", preview="ABC-123"
    )
    slack.standin.fail("chat.postMessage", status=429, retry_after="0", times=2)
    assert await slack.app.work.send(await _queue(slack, [card])) == []
    assert (
        len(slack.standin.called("chat.postMessage")) == 3 and len(slack.standin.messages("DU0POLICE")) == 1
    )


async def test_what_could_not_be_delivered_is_said_in_plain_words(world):
    slack, _cast, d_id = world
    async with slack.services.db.session() as s:
        from dialogs import directory

        nobody = await directory.add_person(
            s,
            slack.services.procedure,
            name="Nat Noslack",
            email="nat@elsewhere.example",
            agency="health",
            role="paediatrician",
        )
    cards = [
        Card(
            target=Target(TargetKind.CHANNEL, place="out_of_hours", discussion_id=d_id),
            title="New",
            preview="x",
        ),
        Card(target=Target(TargetKind.DIRECT, person_id=nobody.id), title="Invitation", preview="x"),
        thread_card(d_id, "A prompt before the discussion has a place"),
    ]
    problems = await slack.app.work.send(await _queue(slack, cards))
    assert len(problems) == 3
    assert "out-of-hours team was not told" in problems[0] and "SLACK_OUT_OF_HOURS_CHANNEL" in problems[0]
    assert "could not send Nat Noslack a direct message" in problems[1]
    assert "no channel or thread in Slack yet" in problems[2]
    assert not any(SECRET in p for p in problems)


async def _queue(slack, cards: list[Card]) -> tuple[int, ...]:
    """Cards queued as a turn on Slack queues them (dialogs.engine.queue_cards)."""
    from dialogs.engine import queue_cards
    from dialogs.model import Actor, Turn, TurnKind

    actor = Actor(person_id=0, name="", agency="", role="")
    turn = Turn(actor=actor, kind=TurnKind.BUTTON, channel="slack", origin=Origin(team=TEAM).to_dict())
    async with slack.services.db.session() as s:
        return tuple(await queue_cards(s, cards, turn, None))
