"""The whole discussion through Slack payloads only: a duty manager convenes with /strategy, police and
health are invited and answer by direct message, reply in the private channel's thread, the chair
decides, plans, signs off and circulates, and a recipient acknowledges. Every request is v0-signed;
every assertion is on what the stand-in Slack recorded and what the database holds."""

import json
import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.timesource import TimeSource
from dialogs import directory
from storage.models import Circulation, Contribution, Decision, Discussion, InboundEvent, RecordVersion
from tests.slack.conftest import check_standin, make_harness
from tests.slack.standin import BOT_USER, TEAM

CONCERN = "Bruising to the upper arm seen at school."  # case detail: never in a notification or a log
PEOPLE = {  # slug: (Slack id, name, agency, role)
    "chair": ("U0CHAIR", "Dana Duty", "social_care", "duty_manager"),
    "police": ("U0POLICE", "Pat Police", "police", "police_officer"),
    "police_manager": ("U0PM", "Morgan Manager", "police", "police_manager"),
    "health": ("U0HEALTH", "Harper Health", "health", "health_professional"),
    "referrer": ("U0REF", "Rory Referrer", "education", "referrer"),
    "outsider": ("U0OUT", "Olly Outsider", "social_care", "social_worker"),
}
# Tuesday 24 November 2026, 10:00 in London: office hours.
TUESDAY_10AM = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


ANSWERS = {
    "case_ref": "LL-204511",
    "category": "physical",
    "concern": CONCERN,
    "immediate_risk": "no",
    "c_possible_injury": "yes",
    "c_medical_implications": "no",
    "c_hospital_involvement": "no",
    "c_inpatient": "no",
    "c_complex": "no",
    "referring_agency": "education",
    "format": "meeting",
    "proposed_date": "2026-11-24",
    "proposed_time": "14:00",
}


def engine_button(blocks: list[dict], action: str) -> dict:
    found = [
        e
        for b in blocks or []
        if b.get("type") == "actions"
        for e in b["elements"]
        if e["action_id"].startswith("d:") and e["action_id"].split(":", 2)[2] == action
    ]
    assert found, f"no {action!r} button"
    return found[0]


@pytest.fixture
async def council(db, standin):
    time = TimeSource(TUESDAY_10AM - datetime.now(UTC))
    slack = await make_harness(db, standin, time=time)
    ids = {}
    async with db.session() as s:
        for slug, (user, name, agency, role) in PEOPLE.items():
            email = f"{slug}@council.example.org"
            # The police manager is known only by email: the bot finds and links them in Slack.
            identities = [] if slug == "police_manager" else [("slack", user, TEAM)]
            person = await directory.add_person(
                s,
                slack.services.procedure,
                name=name,
                email=email,
                agency=agency,
                role=role,
                identities=identities,
            )
            ids[slug] = person.id
            standin.add_user(user, name=name, email=email)
    standin.add_channel("C0DUTY", name="duty-team", members=[BOT_USER, "U0CHAIR"])
    yield slack, ids
    await slack.settle()
    await slack.client.close()
    check_standin(standin)


def _dm(standin, user: str) -> dict:
    return standin.messages(f"D{user}")[-1]


async def test_whole_discussion_through_slack(council, caplog):
    caplog.set_level(logging.DEBUG)
    slack, ids = council
    standin, db = slack.standin, slack.services.db

    # 1. Convene: /strategy convene opens the form as a modal; submitting it creates the discussion.
    sent = await slack.command("U0CHAIR", "convene", channel="C0DUTY")
    assert sent.status == 200 and sent.text == ""
    form = slack.last_view("views.open")
    assert json.loads(form["private_metadata"])["f"] == "convene"
    answers = dict(ANSWERS)
    bad = await slack.submit("U0CHAIR", form, answers | {"case_ref": "Jane Smith!"})
    assert bad.json()["response_action"] == "errors" and set(bad.json()["errors"]) == {"case_ref"}
    done = await slack.submit("U0CHAIR", form, answers)
    answer = done.json()
    assert answer["response_action"] == "update" and "Convened LL-204511" in json.dumps(answer["view"])

    [created] = standin.called("conversations.create")
    assert created == {"name": "sd-ll-204511-2026-11-24", "is_private": True}
    channel_id = next(c.id for c in standin.channels.values() if c.name == created["name"])
    channel = standin.channels[channel_id]
    [summary_ts] = channel.pins
    summary = channel.messages[summary_ts]
    assert summary["text"] == "Strategy discussion LL-204511"  # the notification: case reference only
    assert "U0CHAIR" in channel.members
    [stage1] = standin.messages(channel_id, thread=summary_ts)
    assert CONCERN in json.dumps(stage1["blocks"])
    async with db.session() as s:
        d_id = (await s.execute(select(Discussion.id))).scalar_one()

    # 2. Invite from the confirmation modal: the invite form is pushed on top of it.
    view = {**answer["view"], "id": form["id"]}
    await slack.click("U0CHAIR", engine_button(answer["view"]["blocks"], "invite"), view=view)
    invite = slack.last_view("views.push")
    assert json.loads(invite["private_metadata"])["n"] == 2  # the second view in Slack's stack of three
    people = [str(ids[k]) for k in ("police", "police_manager", "health", "referrer")]
    done = await slack.submit("U0CHAIR", invite, {invite["blocks"][-1]["block_id"]: people})
    assert done.status == 200
    assert sorted(channel.members) == sorted([BOT_USER, "U0CHAIR", "U0POLICE", "U0PM", "U0HEALTH", "U0REF"])
    assert {"email": "police_manager@council.example.org"} in standin.called("users.lookupByEmail")
    for user in ("U0POLICE", "U0PM", "U0HEALTH", "U0REF"):
        invitation = _dm(standin, user)
        assert "LL-204511" in invitation["text"] and CONCERN not in invitation["text"]

    # 3. Answers by direct message: accept, and a police manager who declines with directions.
    for user in ("U0POLICE", "U0HEALTH"):
        dm = _dm(standin, user)
        await slack.click(
            user, engine_button(dm["blocks"], "accept"), channel=f"D{user}", message_ts=dm["ts"]
        )
    dm = _dm(standin, "U0PM")
    await slack.click("U0PM", engine_button(dm["blocks"], "decline"), channel="DU0PM", message_ts=dm["ts"])
    decline = slack.last_view("views.open")
    bad = await slack.submit("U0PM", decline, {"reason": "In court all day"})
    assert bad.json() == {
        "response_action": "errors",
        "errors": {"directions": bad.json()["errors"]["directions"]},
    }
    await slack.submit(
        "U0PM", decline, {"reason": "In court all day", "directions": "Officer to arrange a joint visit."}
    )
    assert "Quorum" in json.dumps(channel.messages[summary_ts]["blocks"])
    assert '"met"' not in json.dumps(channel.messages[summary_ts]["blocks"])  # still a rendered card
    assert len(channel.pins) == 1  # updated in place, never posted twice

    # 4. The discussion in the thread: replies become contributions, once each.
    main = channel.messages[summary_ts]
    await slack.click(
        "U0CHAIR", engine_button(main["blocks"], "start"), channel=channel_id, message_ts=summary_ts
    )
    await slack.reply(
        "U0POLICE", channel_id, summary_ts, "Known to police: a domestic incident in 2025.", "Ev1"
    )
    await slack.reply(
        "U0POLICE", channel_id, summary_ts, "Known to police: a domestic incident in 2025.", "Ev1", retry=1
    )
    await slack.reply(
        "U0HEALTH", channel_id, summary_ts, "Seen by the GP last month &amp; no concerns.", "Ev2"
    )
    await slack.reply("U0OUT", channel_id, summary_ts, "I heard about this too", "Ev3")
    [told] = standin.called("chat.postEphemeral")
    assert (
        told["user"] == "U0OUT"
        and told["thread_ts"] == summary_ts
        and "not recorded" in json.dumps(told["blocks"])
    )
    async with db.session() as s:
        rows = (await s.execute(select(Contribution).order_by(Contribution.id))).scalars().all()
        seen = (
            await s.execute(select(func.count()).where(InboundEvent.event_id.like("Ev%")))
        ).scalar_one()  # the thread's message events (buttons and forms record their nonces too)
    assert [(r.person_id, r.text) for r in rows] == [
        (ids["police"], "Known to police: a domestic incident in 2025."),
        (ids["health"], "Seen by the GP last month & no concerns."),
    ]
    assert seen == 2  # the two stored; the outsider's was refused, so nothing of it is kept

    # 5. Decision: only the chair; reasons are required and nothing typed is lost.
    main = channel.messages[summary_ts]
    await slack.click(
        "U0POLICE", engine_button(main["blocks"], "decide"), channel=channel_id, message_ts=summary_ts
    )
    assert "Only the chair" in json.dumps(standin.webhooks[-1])
    await slack.click(
        "U0CHAIR", engine_button(main["blocks"], "decide"), channel=channel_id, message_ts=summary_ts
    )
    decide = slack.last_view("views.open")
    bad = await slack.submit("U0CHAIR", decide, {"outcome": "s47_joint", "risks": "Injury pattern"})
    assert set(bad.json()["errors"]) == {"reasons"}
    await slack.submit(
        "U0CHAIR",
        decide,
        {
            "outcome": "s47_joint",
            "reasons": "Unexplained bruising; threshold met.",
            "risks": "Non-accidental injury; previous domestic incident.",
        },
    )
    async with db.session() as s:
        assert (await s.execute(select(Decision.outcome))).scalar_one() == "s47_joint"

    # 6. The S47 plan: every checklist item answered; an ICPC date too late needs a reason.
    main = channel.messages[summary_ts]
    await slack.click(
        "U0CHAIR", engine_button(main["blocks"], "plan"), channel=channel_id, message_ts=summary_ts
    )
    plan = slack.last_view("views.open")
    items = {
        b["block_id"]: f"Agreed: {b['block_id']}."
        for b in plan["blocks"]
        if b["type"] == "input" and b["block_id"].startswith("item_")
    }
    assert len(items) >= 10
    plan_answers = items | {
        "tell_parents": "yes",
        "tell_parents_how": "Social worker, today, visit.",
        "criminal_investigation": "Joint ABE interview on Thursday.",
    }
    late = await slack.submit("U0CHAIR", plan, plan_answers | {"icpc_on": "2027-01-29"})
    assert "icpc_late_reason" in late.json()["errors"]
    await slack.submit("U0CHAIR", plan, plan_answers | {"icpc_on": "2026-12-14"})

    main = channel.messages[summary_ts]
    await slack.click(
        "U0CHAIR", engine_button(main["blocks"], "add_action"), channel=channel_id, message_ts=summary_ts
    )
    action = slack.last_view("views.open")
    await slack.submit(
        "U0CHAIR", action, {"description": "Joint visit", "owner": str(ids["police"]), "due_on": "2026-11-26"}
    )
    owner_dm = _dm(standin, "U0POLICE")
    assert owner_dm["text"] == "LL-204511: action due 26 Nov" and engine_button(
        owner_dm["blocks"], "action_done"
    )

    # 7. Review and sign-off in a modal; circulation by direct message; an acknowledgement.
    main = channel.messages[summary_ts]
    await slack.click(
        "U0CHAIR", engine_button(main["blocks"], "review"), channel=channel_id, message_ts=summary_ts
    )
    review = slack.last_view("views.open")
    assert "Known to police" in json.dumps(review["blocks"])  # the draft record, shown to the chair only
    await slack.submit("U0CHAIR", review, {"monitoring": "Team manager reviews weekly in supervision."})
    record_dm = _dm(standin, "U0POLICE")
    outcome_dm = _dm(standin, "U0REF")
    assert "Known to police" not in json.dumps(outcome_dm)  # the referrer gets the outcome only
    await slack.click(
        "U0POLICE", engine_button(record_dm["blocks"], "ack"), channel="DU0POLICE", message_ts=record_dm["ts"]
    )
    assert "acknowledged" in json.dumps(channel.messages[summary_ts]["blocks"])

    async with db.session() as s:
        d = await s.get(Discussion, d_id)
        record = (await s.execute(select(RecordVersion))).scalar_one()
        acked = (
            (await s.execute(select(Circulation).where(Circulation.acknowledged_at.is_not(None))))
            .scalars()
            .all()
        )
    assert d.state == "signed_off" and "Record of strategy discussion: LL-204511" in record.body
    assert [c.person_id for c in acked] == [ids["police"]]

    # Whatever Slack could show on a lock screen, and whatever was logged, names no case details.
    notifications = [c.params.get("text", "") for c in standin.calls if c.method.startswith("chat.")]
    assert notifications and not any(CONCERN in t or "Known to police" in t for t in notifications)
    # (The database driver's own DEBUG log of SQL parameters is storage's business, not the surface's.)
    logged = "\n".join(
        r.getMessage() for r in caplog.records if not r.name.startswith(("aiosqlite", "sqlalchemy"))
    )
    assert "Strategy discussion" in logged or "slack" in logged  # the log was captured at all
    assert CONCERN not in logged and "Known to police" not in logged
    assert len(standin.called("conversations.create")) == 1 and len(channel.pins) == 1


async def test_a_second_first_discussion_and_a_stale_second_tab_through_slack(council):
    """The lifecycle's rules as Slack shows them: a second "first discussion" for a case is refused
    beside the case reference, with the way to a further one; a decision form left open in a second
    modal while the first was sent is refused, with the current values and what was typed."""
    slack, ids = council
    standin, db = slack.standin, slack.services.db
    await slack.command("U0CHAIR", "convene", channel="C0DUTY")
    await slack.submit("U0CHAIR", slack.last_view("views.open"), ANSWERS)
    await slack.command("U0CHAIR", "convene", channel="C0DUTY")
    refused = await slack.submit("U0CHAIR", slack.last_view("views.open"), ANSWERS)
    assert refused.json()["response_action"] == "errors"
    assert "already has an open series" in refused.json()["errors"]["case_ref"]
    await slack.settle()
    told = standin.called("chat.postEphemeral")[-1]
    assert "LL-204511 already has an open series" in json.dumps(told["blocks"])
    async with db.session() as s:
        assert (await s.execute(select(func.count()).select_from(Discussion))).scalar_one() == 1

    [channel_id] = [c.id for c in standin.channels.values() if c.name.startswith("sd-")]
    [summary_ts] = standin.channels[channel_id].pins
    main = standin.channels[channel_id].messages[summary_ts]
    await slack.click(
        "U0CHAIR", engine_button(main["blocks"], "start"), channel=channel_id, message_ts=summary_ts
    )
    main = standin.channels[channel_id].messages[summary_ts]
    tabs = []
    for _ in range(2):  # the Decide button pressed on a laptop and on a phone: two forms open
        await slack.click(
            "U0CHAIR", engine_button(main["blocks"], "decide"), channel=channel_id, message_ts=summary_ts
        )
        tabs.append(slack.last_view("views.open"))
    why = {"override_reason": "Police and health are being called now"}
    await slack.submit(
        "U0CHAIR", tabs[1], {"outcome": "no_s47", "reasons": "A", "risks": "B", "alternative": "C"} | why
    )
    stale = await slack.submit(
        "U0CHAIR",
        tabs[0],
        {"outcome": "s47_joint", "reasons": "Unexplained bruising", "risks": "Injury"} | why,
    )
    answer = stale.json()
    assert answer["response_action"] == "update"
    shown = json.dumps(answer["view"])
    assert "This has changed since you opened it" in shown and "Unexplained bruising" in shown
    async with db.session() as s:
        assert (await s.execute(select(Decision.outcome))).scalar_one() == "no_s47"
