"""Every flow through the playground's HTTP endpoints, as people at browsers would run it.

The server is the real aiohttp app on a real SQLite file; each person has their own cookie jar and
posts the forms the pages render (tokens included). Time is the process clock, stopped on a Tuesday
morning, moved only by the page's clock control.
"""

import re
from datetime import date

from sqlalchemy import select

from dialogs.procedure import load_procedure
from storage.models import Contribution, Decision, Discussion, Participant, RecordVersion
from tests.playground.webpage import Page, form_data, values_for

CASE = "LL-204511"
CONCERN = "Bruising to the upper arm, seen by the class teacher this morning."
PROCEDURE = load_procedure()


async def convene(pg, case_ref: str = CASE, **overrides) -> int:
    """The duty manager convenes from the menu; returns the new discussion's id."""
    dm = await pg.as_("duty_manager")
    await dm.get("/")
    await dm.command("convene")
    values = {
        "case_ref": case_ref,
        "category": "physical",
        "concern": CONCERN,
        "immediate_risk": "no",
        "c_possible_injury": "yes",
        "referring_agency": "education",
    } | overrides
    page = await dm.fill(values)
    links = [a.attrs["href"] for a in page.section("channel").all("a") if case_ref in _card_of(a).text]
    assert links, page.text[:3000]
    return int(links[0].rsplit("/", 1)[1])


def _card_of(node):
    return node.up("article")


async def invite(pg, did: int, *names: str) -> Page:
    dm = await pg.as_("duty_manager")
    page = await dm.get("/")
    await dm.press("Invite", page.card(CASE, within="channel"))
    form = dm.page.section("notices").first("form", action="/act/form")
    return await dm.fill({"people": values_for(form, "people", *names)})


async def accept(pg, slug: str) -> Page:
    user = await pg.as_(slug)
    page = await user.get("/")
    return await user.press("Accept", page.card("invitation", within="direct"))


async def quorate(pg) -> int:
    """Convened, with police and health accepted and the police manager's directions recorded."""
    did = await convene(pg)
    await invite(pg, did, "Pat Constable", "Mo Sergeant", "Hari Health", "Rae Referrer")
    await accept(pg, "police_officer")
    await accept(pg, "health_professional")
    manager = await pg.as_("police_manager")
    page = await manager.get("/")
    await manager.press("Decline", page.card("invitation", within="direct"))
    await manager.fill({"reason": "In court all day", "directions": "Officer to arrange a joint visit."})
    return did


async def started(pg) -> int:
    did = await quorate(pg)
    dm = await pg.as_("duty_manager")
    await dm.get(f"/discussions/{did}")
    await dm.press("Start", dm.page.card(CASE, within="main-post"))
    await (await pg.as_("police_officer")).reply(did, "Known to police: a domestic incident in 2025.")
    await (await pg.as_("health_professional")).reply(did, "Seen by the GP last month; no concerns noted.")
    return did


async def decided(pg) -> int:
    did = await started(pg)
    dm = await pg.as_("duty_manager")
    await dm.get(f"/discussions/{did}")
    await dm.press("Decide", dm.page.card(CASE, within="main-post"))
    await dm.fill(
        {
            # The circumstances nobody knew at convening are answered before the decision.
            "c_medical_implications": "no",
            "c_hospital_involvement": "no",
            "c_inpatient": "no",
            "c_complex": "no",
            "outcome": "s47_joint",
            "reasons": "Unexplained bruising; the threshold is met.",
            "risks": "Non-accidental injury; a previous domestic incident.",
        }
    )
    return did


def plan_answers(**extra) -> dict:
    answers = {f"item_{c.id}": f"Agreed: {c.id}." for c in PROCEDURE.s47_checklist}
    answers["item_consent_refused"] = "N/A: consent was given"
    return (
        answers
        | {"tell_parents": "yes", "tell_parents_how": "Social worker, today, on a home visit."}
        | extra
    )


async def planned(pg) -> int:
    did = await decided(pg)
    dm = await pg.as_("duty_manager")
    await dm.get(f"/discussions/{did}")
    await dm.press("Plan S47", dm.page.card(CASE, within="main-post"))
    await dm.fill(plan_answers(icpc_on="2026-12-14"))
    return did


async def circulated(pg) -> int:
    did = await planned(pg)
    dm = await pg.as_("duty_manager")
    await dm.get(f"/discussions/{did}")
    await dm.press("Review record", dm.page.card(CASE, within="main-post"))
    await dm.fill({"monitoring": "Team manager reviews weekly in supervision."})
    return did


async def rows(pg, model, **where):
    async with pg.services.db.session() as s:
        query = select(model).filter_by(**where)
        return list((await s.execute(query)).scalars())


# --- who you are ----------------------------------------------------------------------------------


async def test_a_fresh_database_has_the_cast_to_pick_from(playground):
    from tests.playground.webpage import User

    visitor = User(playground.server, "nobody")
    try:
        page = await visitor.get("/")
        assert "Who are you?" in page.text
        slugs = {b.attrs["value"] for b in page.root.all("button", name="who")}
        assert {
            "duty_manager",
            "police_officer",
            "police_manager",
            "health_professional",
            "paediatrician",
            "referrer",
            "ooh_worker",
            "ooh_manager",
            "team_manager",
            "district_manager",
            "consultant",
            "social_worker",
        } <= slugs
        page = await visitor.submit(
            page.root.first("button", value="police_officer").up("form"),
            {},
            page.root.first("button", value="police_officer"),
        )
        assert "You are Pat Constable (police officer)" in page.text and "Police officer, Police" in page.text
        # A name that is not in the directory is refused, and the choice stays as it was.
        form = (await visitor.get("/who")).root.first("form", action="/act/identity")
        page = await visitor.post(
            "/act/identity", [("csrf", form.first("input", name="csrf").attrs["value"]), ("who", "mallory")]
        )
        assert "That person is not in the directory." in page.text
        assert "You are Pat Constable" in (await visitor.get("/")).text
    finally:
        await visitor.close()


# --- convene ----------------------------------------------------------------------------------------


async def test_convene_posts_the_discussion_with_its_deadline_and_required_attendees(playground):
    did = await convene(playground)
    dm = playground.users["duty_manager"]
    post = dm.page.card(CASE, within="channel")
    text = post.words
    assert f"Strategy discussion {CASE}" in text
    assert "Meeting due by Wed 25 Nov 10:00" in text and "Quorum not met" in text
    assert "Police safeguarding manager" in text  # possible injury calls for one
    assert "Invited 0" not in text
    # Everyone sees the channel; the thread has its own page.
    police = await playground.as_("police_officer")
    assert CASE in (await police.get("/")).section("channel").words
    assert (await police.get(f"/discussions/{did}")).card(CASE, within="main-post")
    (d,) = await rows(playground, Discussion, id=did)
    assert d.case_ref == CASE and d.possible_injury and d.referring_agency == "education"


async def test_only_managers_convene(playground):
    police = await playground.as_("police_officer")
    await police.get("/")
    page = await police.command("convene")
    assert "Only a duty manager, team manager or out-of-hours manager can convene" in page.notices()
    assert not page.section("notices").all("form", action="/act/form")


async def test_convene_bad_input_is_explained_beside_each_field_and_nothing_typed_is_lost(playground):
    dm = await playground.as_("duty_manager")
    await dm.get("/")
    await dm.command("convene")
    too_long = "x" * 3001
    page = await dm.fill(
        {
            "case_ref": "Jane Smith",  # a name, not a case reference
            "category": "physical",
            "concern": too_long,
            "immediate_risk": "no",
            "referring_agency": "education",
            "proposed_date": "2026-11-20",  # in the past
        }
    )
    form = page.section("notices").first("form", action="/act/form")
    errors = {
        p.attrs["id"].rsplit("-", 2)[-2]: p.text for p in form.all("p", class_="error") if p.attrs.get("id")
    }
    assert "letters, digits" in errors["case_ref"]
    assert "under 3000 characters" in errors["concern"]
    assert errors["proposed_date"]
    assert form.first("input", name="in.case_ref").attrs["value"] == "Jane Smith"
    assert form.first("textarea", name="in.concern").text == too_long
    assert form.first("input", name="in.proposed_date").attrs["value"] == "2026-11-20"
    assert [
        o.attrs["value"]
        for o in form.first("select", name="in.category").all("option")
        if "selected" in o.attrs
    ] == ["physical"]
    assert "checked" in form.first("input", name="in.immediate_risk", value="no").attrs
    # An empty required field is named too.
    page = await dm.fill({"case_ref": "", "concern": ""})
    form = page.section("notices").first("form", action="/act/form")
    messages = [p.text for p in form.all("p", class_="error")]
    assert messages.count("Please fill this in.") >= 2
    assert await rows(playground, Discussion) == []


async def test_a_later_meeting_needs_a_reason(playground):
    dm = await playground.as_("duty_manager")
    await dm.get("/")
    await dm.command("convene")
    base = {
        "case_ref": CASE,
        "category": "physical",
        "concern": CONCERN,
        "immediate_risk": "no",
        "referring_agency": "education",
        "proposed_date": "2026-11-26",
        "proposed_time": "10:00",
    }
    page = await dm.fill(base)
    assert "after the deadline (Wed 25 Nov 10:00)" in page.notices()
    page = await dm.fill({"late_reason": "The paediatrician can only attend on Thursday."})
    assert CASE in page.section("channel").text


# --- invitations ------------------------------------------------------------------------------------


async def test_invitations_acceptances_and_a_police_manager_declining_with_directions(playground):
    did = await convene(playground)
    page = await invite(playground, did, "Pat Constable", "Mo Sergeant", "Hari Health", "Rae Referrer")
    assert "Invited 4 people." in page.notices()
    for slug in ("police_officer", "police_manager", "health_professional", "referrer"):
        dms = (await (await playground.as_(slug)).get("/")).section("direct")
        assert f"Strategy discussion invitation: {CASE}" in dms.text
    assert "invitation" not in (await (await playground.as_("paediatrician")).get("/")).section("direct").text

    page = await accept(playground, "police_officer")
    assert f"you have accepted {CASE}" in page.notices()
    assert re.search(
        r"Pat Constable \(police officer\) \(police\): accepted",
        page.card(CASE, within="channel").words,
        re.I,
    )

    manager = await playground.as_("police_manager")
    page = await manager.get("/")
    page = await manager.press("Decline", page.card("invitation", within="direct"))
    page = await manager.fill({"reason": "In court all day"})
    form = page.section("notices").first("form", action="/act/form")
    assert form.first("textarea", name="in.reason").text == "In court all day"  # kept
    assert form.all("p", class_="error")
    page = await manager.fill({"directions": "Officer to arrange a joint visit."})
    assert re.search(
        r"Mo Sergeant \(police safeguarding manager\) \(police\): declined",
        page.card(CASE, within="channel").words,
        re.I,
    )
    (part,) = await rows(playground, Participant, discussion_id=did, role="police_manager")
    assert part.status == "declined" and part.directions == "Officer to arrange a joint visit."
    # Someone else's invitation cannot be answered with a tampered value: the token no longer fits.
    health = await playground.as_("health_professional")
    page = await health.get("/")
    button_form = page.card("invitation", within="direct").first("form", action="/act/button")
    data = [(n, v) for n, v in _fields(button_form) if n != "value"] + [("value", f"{did}:{part.id}")]
    page = await health.post("/act/button", data)
    assert "This page was out of date, so nothing was done" in page.notices()
    (part,) = await rows(playground, Participant, discussion_id=did, role="police_manager")
    assert part.status == "declined"


def _fields(form) -> list[tuple[str, str]]:
    return [(i.attrs["name"], i.attrs.get("value", "")) for i in form.all("input") if i.attrs.get("name")]


# --- the thread ---------------------------------------------------------------------------------------


async def test_replies_in_the_thread_become_contributions_and_others_are_refused_privately(playground):
    did = await quorate(playground)
    dm = await playground.as_("duty_manager")
    await dm.get(f"/discussions/{did}")
    page = await dm.press("Start", dm.page.card(CASE, within="main-post"))
    assert "Stage 2 of 6" in page.section("thread").words

    police = await playground.as_("police_officer")
    page = await police.reply(did, "Known to police:\r\n- a domestic incident in 2025")
    reply = page.section("thread").all("article", class_="reply")[-1]
    assert "Pat Constable (police officer)" in reply.words and "Police" in reply.words
    assert reply.first("li").text == "a domestic incident in 2025"  # the same markdown subset as cards
    (c,) = await rows(playground, Contribution, discussion_id=did)
    assert c.text == "Known to police:\n- a domestic incident in 2025" and c.agency == "police"

    outsider = await playground.as_("social_worker")
    page = await outsider.reply(did, "I heard about this too")
    assert "was not recorded: only people taking part" in page.notices()
    assert not page.cards("I heard about this too", within="thread")
    assert not [r for r in page.section("thread").all("article", class_="reply") if "I heard" in r.words]
    assert page.root.first("textarea", name="text").text == "I heard about this too"  # kept for them
    assert len(await rows(playground, Contribution, discussion_id=did)) == 1

    page = await police.reply(did, "   ")
    assert "Your reply was empty, so nothing was sent." in page.notices()
    page = await police.reply(did, "y" * 3001)
    assert "3001 characters" in page.notices() and "nothing is lost" in page.notices()
    assert page.root.first("textarea", name="text").text == "y" * 3001
    assert len(await rows(playground, Contribution, discussion_id=did)) == 1
    # Other people see the contribution in the thread, and the main post shows the stage.
    page = await (await playground.as_("health_professional")).get(f"/discussions/{did}")
    assert "Known to police" in page.section("thread").words


# --- decision, plan, record ---------------------------------------------------------------------------


async def test_only_the_chair_decides_and_reasons_are_required(playground):
    did = await started(playground)
    police = await playground.as_("police_officer")
    page = await police.get(f"/discussions/{did}")
    page = await police.press("Decide", page.card(CASE, within="main-post"))
    assert f"Only the chair of {CASE} can do that." in page.notices()
    assert not page.section("notices").all("form", action="/act/form")

    dm = await playground.as_("duty_manager")
    await dm.get(f"/discussions/{did}")
    await dm.press("Decide", dm.page.card(CASE, within="main-post"))
    unanswered = {"c_medical_implications", "c_hospital_involvement", "c_inpatient", "c_complex"}
    page = await dm.fill({"outcome": "s47_joint", "reasons": "", "risks": "Injury pattern"})
    form = page.section("notices").first("form", action="/act/form")
    assert form.first("textarea", name="in.risks").text == "Injury pattern"
    for question in unanswered:  # asked again, because they decide who must take part
        assert "has-error" in form.first("select", name=f"in.{question}").up("div").attrs["class"]
    page = await dm.fill({question: "no" for question in unanswered})
    assert "has-error" in form.first("textarea", name="in.reasons").parent.attrs["class"]
    assert await rows(playground, Decision, discussion_id=did) == []
    page = await dm.fill({"reasons": "Unexplained bruising; the threshold is met."})
    assert "Decision recorded. Next: plan the S47 enquiry." in page.notices()
    post = page.card(CASE, within="main-post").words
    assert "Decision S47 enquiry (joint with police, within a Single Assessment)" in post
    assert "Decision recorded by the chair" in page.section("thread").words
    (decision,) = await rows(playground, Decision, discussion_id=did)
    assert decision.outcome == "s47_joint"


async def test_plan_icpc_beyond_15_working_days_needs_a_reason_and_actions_need_a_future_date(playground):
    did = await decided(playground)
    dm = await playground.as_("duty_manager")
    await dm.get(f"/discussions/{did}")
    page = await dm.press("Plan S47", dm.page.card(CASE, within="main-post"))
    assert "by 15 Dec 2026" in page.notices()  # 15 working days from Tuesday 24 November
    page = await dm.fill(plan_answers(icpc_on="2027-01-29"))
    form = page.section("notices").first("form", action="/act/form")
    late = form.first("textarea", name="in.icpc_late_reason").parent
    assert "more than 15 working days" in late.words
    assert form.first("input", name="in.icpc_on").attrs["value"] == "2027-01-29"
    assert form.first("textarea", name="in.item_child_interview").text == "Agreed: child_interview."
    page = await dm.fill({"icpc_on": "2026-12-14"})
    assert "The S47 plan is complete" in page.notices()

    page = await dm.press("Add action", page.card(CASE, within="main-post"))
    form = page.section("notices").first("form", action="/act/form")
    owner = values_for(form, "owner", "Pat Constable")[0]
    page = await dm.fill({"description": "Joint home visit", "owner": owner, "due_on": "2026-11-01"})
    form = page.section("notices").first("form", action="/act/form")
    assert form.first("input", name="in.due_on").parent.all("p", class_="error")
    assert form.first("textarea", name="in.description").text == "Joint home visit"
    page = await dm.fill({"due_on": "2026-11-26"})
    assert "Action added." in page.notices()
    police = await playground.as_("police_officer")
    assert "You own an action" in (await police.get("/")).section("direct").words


async def test_sign_off_circulates_the_record_and_each_acknowledgement_shows_on_the_post(playground):
    did = await planned(playground)
    dm = await playground.as_("duty_manager")
    await dm.get(f"/discussions/{did}")
    page = await dm.press("Review record", dm.page.card(CASE, within="main-post"))
    draft = page.card("Draft record", within="notices")
    assert "Known to police" in draft.words and "Sign off and circulate" in draft.words
    page = await dm.fill({"monitoring": ""})
    assert "Please fill this in." in page.notices()
    page = await dm.fill({"monitoring": "Team manager reviews weekly in supervision."})
    assert "Signed off and circulated to 3 people." in page.notices()

    police = await playground.as_("police_officer")
    page = await police.get("/")
    record = page.card(f"Record of strategy discussion: {CASE}", within="direct")
    assert "Known to police" in record.words
    referrer = await playground.as_("referrer")
    outcome = (await referrer.get("/")).card(f"Outcome of strategy discussion: {CASE}", within="direct")
    assert "Known to police" not in outcome.words  # did not attend: the outcome only

    page = await police.press("Acknowledge receipt", record)
    assert f"Acknowledged: {CASE}. Thank you." in page.notices()
    post = page.card(CASE, within="channel").words
    assert re.search(r"Pat Constable \(police officer\) \(record\): sent .*acknowledged", post)
    assert "Hari Health (health visitor) (record): sent 24 Nov 10:00, not yet acknowledged" in post

    (d,) = await rows(playground, Discussion, id=did)
    (version,) = await rows(playground, RecordVersion, discussion_id=did)
    assert d.state == "signed_off" and d.held_on == date(2026, 11, 24)
    for expected in (
        f"Record of strategy discussion: {CASE}",
        "Quorum: met",
        "Directions given: Officer",
        "Known to police",
        "Team manager reviews weekly",
    ):
        assert expected in version.body, expected


async def test_status_and_due(playground):
    did = await convene(playground)
    await invite(playground, did, "Pat Constable", "Hari Health")
    dm = await playground.as_("duty_manager")
    page = await dm.command("status")
    assert "Your open strategy discussions" in page.notices() and CASE in page.notices()
    page = await dm.press(CASE, page.card("Your open strategy discussions", within="notices"))
    assert "Meeting due by Wed 25 Nov 10:00" in page.card(CASE, within="notices").words
    page = await dm.command("status", "NO-SUCH-CASE")
    assert "I found no open discussion NO-SUCH-CASE that you take part in." in page.notices()
    page = await dm.command("due")
    assert CASE in page.notices()
    outsider = await playground.as_("paediatrician")
    await outsider.get("/")
    page = await outsider.command("status", CASE)
    assert f"I found no open discussion {CASE}" in page.notices()  # not theirs to see
    page = await outsider.command("help")
    assert "Help" in page.notices()


async def test_reconvene_carries_the_case_and_people_into_a_second_discussion(playground):
    did = await circulated(playground)
    dm = await playground.as_("duty_manager")
    await dm.get(f"/discussions/{did}")
    page = await dm.press("Further discussion", dm.page.card(CASE, within="main-post"))
    assert f"Further discussion: {CASE}" in page.notices()
    page = await dm.fill({"proposed_date": "2026-11-25", "proposed_time": "09:00"})
    assert f"Convened {CASE} discussion 2" in page.notices()
    page = await dm.get("/")
    assert f"Strategy discussion {CASE} (second)" in page.section("channel").words
    discussions = await rows(playground, Discussion, case_ref=CASE)
    assert sorted(d.number for d in discussions) == [1, 2]
    second = next(d for d in discussions if d.number == 2)
    assert second.previous_id == did
    people = {p.person_id for p in await rows(playground, Participant, discussion_id=second.id)}
    assert people >= {
        p.person_id for p in await rows(playground, Participant, discussion_id=did, status="accepted")
    }


# --- the clock ----------------------------------------------------------------------------------------


async def test_the_clock_moves_forward_only_and_out_of_hours_convening_reaches_the_out_of_hours_place(
    playground,
):
    dm = await playground.as_("duty_manager")
    page = await dm.get("/")
    assert "Tue 24 Nov 2026, 10:00" in page.root.first(id="now").text and "office hours" in page.text
    page = await dm.press("+1 hour")
    assert page.root.first(id="now").text == "Tue 24 Nov 2026, 11:00"
    page = await dm.press("+1 day")
    assert page.root.first(id="now").text == "Wed 25 Nov 2026, 11:00"
    page = await dm.press("Next 09:00")
    assert page.root.first(id="now").text == "Thu 26 Nov 2026, 09:00"

    custom = page.root.first("input", name="to").up("form")
    page = await dm.submit(custom, {"to": "2026-11-20T09:00"})
    assert "The clock only moves forward: choose a time after Thu 26 Nov 2026, 09:00." in page.notices()
    page = await dm.submit(page.root.first("input", name="to").up("form"), {"to": "2027-03-28T01:30"})
    assert "does not exist in Europe/London" in page.notices()
    page = await dm.submit(page.root.first("input", name="to").up("form"), {"to": "soon"})
    assert "Please give a date and time" in page.notices()
    assert page.root.first(id="now").text == "Thu 26 Nov 2026, 09:00"  # none of those moved it
    page = await dm.submit(page.root.first("input", name="to").up("form"), {"to": "2026-11-26T19:30"})
    assert page.root.first(id="now").text == "Thu 26 Nov 2026, 19:30" and "out of hours" in page.text

    # Out of hours, the out-of-hours manager convenes, and the out-of-hours place hears of it.
    ooh = await playground.as_("ooh_manager")
    await ooh.get("/")
    await ooh.command("convene")
    page = await ooh.fill(
        {
            "case_ref": "OOH-77",
            "category": "physical",
            "concern": CONCERN,
            "immediate_risk": "yes",
            "referring_agency": "police",
        }
    )
    assert "New out-of-hours strategy discussion: OOH-77" in page.section("place-out_of_hours").words
    assert "Meeting at Thu 26 Nov 20:00; due by Fri 27 Nov 19:30." in page.section("place-out_of_hours").words
    assert "OOH-77" not in page.section("place-duty").words


async def test_moving_the_clock_sends_the_reminders_that_fall_due(playground):
    did = await convene(playground)
    await invite(playground, did, "Pat Constable", "Hari Health")
    police = await playground.as_("police_officer")
    assert "Please answer the invitation" not in (await police.get("/")).section("direct").words
    dm = await playground.as_("duty_manager")
    page = await dm.press("+1 hour")  # half an hour before the meeting, the quorum is still not confirmed
    assert "Quorum not confirmed" in page.section("direct").words
    reminder = (await police.get("/")).card("Please answer the invitation", within="direct")
    assert CASE in reminder.words and CONCERN not in reminder.words  # the case reference, no details
    page = await dm.press("+1 day")  # past the 24-hour deadline
    assert "Deadline passed: strategy discussion to be held" in page.section("direct").words
    assert f"{CASE}: strategy discussion to be held" in page.section("place-duty").words  # the handover


# --- double clicks, forged and stale posts ------------------------------------------------------------


async def test_a_double_clicked_button_or_form_acts_once(playground):
    did = await convene(playground)
    await invite(playground, did, "Pat Constable")
    police = await playground.as_("police_officer")
    page = await police.get("/")
    form = page.card("invitation", within="direct").first("button").up("form")
    first = await police.submit(form)
    assert "you have accepted" in first.notices()
    second = await police.submit(form)  # the same rendered button, pressed again
    assert "That was already done" in second.notices()

    dm = await playground.as_("duty_manager")
    await dm.get("/")
    await dm.command("convene")
    form = dm.page.section("notices").first("form", action="/act/form")
    values = {
        "case_ref": "DC-1",
        "category": "physical",
        "concern": CONCERN,
        "immediate_risk": "no",
        "referring_agency": "education",
    }
    await dm.submit(form, values)
    page = await dm.submit(form, values)
    assert "That was already done" in page.notices()
    assert len(await rows(playground, Discussion, case_ref="DC-1")) == 1
    assert len(page.cards("DC-1", within="channel")) == 1


async def test_posts_without_the_session_token_or_with_a_changed_action_do_nothing(playground):
    dm = await playground.as_("duty_manager")
    page = await dm.get("/")
    menu = page.root.first("form", action="/act/command")
    data = [(n, v) for n, v in _fields(menu) if n != "csrf"] + [("csrf", "forged"), ("name", "convene")]
    page = await dm.post("/act/command", data)
    assert "This page was out of date, so nothing was done." in page.notices()
    assert not page.section("notices").all("form", action="/act/form")

    # A token minted for one command menu cannot be reused for a different kind of action.
    data = [(n, v) for n, v in _fields(menu)] + [("action", "start"), ("value", "1")]
    page = await dm.post("/act/button", data)
    assert "This page was out of date" in page.notices()

    # A form whose token does not fit comes back holding what was typed, to send again.
    page = await dm.command("convene")
    form = page.section("notices").first("form", action="/act/form")
    data = [(n, v) for n, v in form_data(form, {"case_ref": "KEEP-1", "concern": "Typed with care."})]
    data = [(n, "stale.token" if n == "token" else v) for n, v in data]  # as after a restart
    page = await dm.post("/act/form", data)
    assert "This page was out of date" in page.notices()
    form = page.section("notices").first("form", action="/act/form")
    assert form.first("input", name="in.case_ref").attrs["value"] == "KEEP-1"
    assert form.first("textarea", name="in.concern").text == "Typed with care."
    assert await rows(playground, Discussion) == []

    # Another browser's tokens are no good in this one.
    police = await playground.as_("police_officer")
    await police.get("/")
    page = await police.post("/act/command", _fields(menu) + [("name", "convene")])
    assert "This page was out of date" in page.notices()

    # A visitor who has not said who they are is sent to the picker.
    from tests.playground.webpage import User

    stranger = User(playground.server, "x")
    try:
        page = await stranger.post("/act/command", [("name", "help")])
        assert "Who are you?" in page.text
    finally:
        await stranger.close()


# --- delivery from elsewhere (the reminders engine) ----------------------------------------------------


async def test_cards_delivered_through_the_router_appear_on_the_page(playground):
    from dialogs.model import Card, Target, TargetKind

    did = await convene(playground)
    police = await playground.as_("police_officer")
    police_id = int(values_for(await _invite_form(playground), "people", "Pat Constable")[0])
    router = playground.services.router
    assert (
        await router.deliver(
            Card(
                Target(TargetKind.DIRECT, person_id=police_id),
                "Reminder: LL-204511",
                "The meeting starts in *one hour*.",
            )
        )
        == "playground"
    )
    await router.deliver(Card(Target(TargetKind.CHANNEL, place="duty"), "Escalation: LL-204511", "Overdue."))
    await router.deliver(Card(Target(TargetKind.THREAD, discussion_id=did), "Reminder in the thread", ""))
    page = await police.get("/")
    reminder = page.card("Reminder: LL-204511", within="direct")
    assert reminder.first("strong").text == "one hour"
    assert "Escalation: LL-204511" in page.section("place-duty").words
    assert "Reminder in the thread" in (await police.get(f"/discussions/{did}")).section("thread").words
    assert "Reminder: LL-204511" not in (await (await playground.as_("health_professional")).get("/")).text


async def _invite_form(playground):
    dm = await playground.as_("duty_manager")
    page = await dm.get("/")
    await dm.press("Invite", page.card(CASE, within="channel"))
    return dm.page.section("notices").first("form", action="/act/form")


async def test_pages_are_not_cached_framed_or_scripted_from_elsewhere(playground):
    dm = await playground.as_("duty_manager")
    async with dm.http.get(playground.server.make_url("/")) as resp:
        assert resp.headers["Cache-Control"] == "no-store"
        csp = resp.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert resp.cookies.get("pg_session") is None  # an existing session is kept
    cookie = next(c for c in dm.http.cookie_jar if c.key == "pg_who")
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    async with dm.http.get(playground.server.make_url("/static/playground.css")) as resp:
        assert resp.status == 200 and "text/css" in resp.headers["Content-Type"]
    async with dm.http.get(playground.server.make_url("/version")) as resp:
        before = (await resp.json())["version"]
    await dm.get("/")
    await dm.command("help")
    async with dm.http.get(playground.server.make_url("/version")) as resp:
        assert (await resp.json())["version"] > before


async def test_a_notice_can_be_closed_and_other_open_forms_stay(playground):
    dm = await playground.as_("duty_manager")
    await dm.get("/")
    page = await dm.command("convene")
    page = await dm.command("help")
    assert "Help" in page.notices() and page.section("notices").all("form", action="/act/form")  # still open
    help_card = page.card("Help", within="notices")
    page = await dm.press("Close", help_card)
    assert "Help" not in page.notices()
    page = await dm.press("Close", page.card("Convene a strategy discussion", within="notices"))
    assert page.root.all(id="notices") == []


async def test_a_second_first_discussion_and_a_stale_second_tab(playground):
    """A second "first discussion" for the case is refused beside its case reference, pointing to the
    open one; a decision form from a second tab, sent after the first tab's, is refused with the
    current values and what was typed."""
    did = await started(playground)
    dm = await playground.as_("duty_manager")
    await dm.get("/")
    await dm.command("convene")
    page = await dm.fill(
        {
            "case_ref": CASE,
            "category": "physical",
            "concern": CONCERN,
            "immediate_risk": "no",
            "referring_agency": "education",
        }
    )
    assert f"{CASE} already has an open series of strategy discussions" in page.notices()
    assert len(await rows(playground, Discussion, case_ref=CASE)) == 1

    await dm.get(f"/discussions/{did}")
    tabs = []
    for _ in range(2):  # the same page open in two tabs: a Decide form in each
        page = await dm.press("Decide", dm.page.card(CASE, within="main-post"))
        tabs.append(page.section("notices").all("form", action="/act/form")[-1])
    answered = {f"c_{c.id}": "no" for c in PROCEDURE.circumstances if c.id != "possible_injury"}
    await dm.submit(
        tabs[1], answered | {"outcome": "no_s47", "reasons": "A", "risks": "B", "alternative": "C"}
    )
    page = await dm.submit(
        tabs[0], answered | {"outcome": "s47_joint", "reasons": "Unexplained bruising", "risks": "Injury"}
    )
    assert (
        "This has changed since you opened it" in page.notices() and "Unexplained bruising" in page.notices()
    )
    (decision,) = await rows(playground, Decision, discussion_id=did)
    assert decision.outcome == "no_s47"


async def test_the_conference_recorded_and_a_discussion_closed_with_a_reason_for_each_open_deadline(
    playground,
):
    did = await circulated(playground)
    dm = await playground.as_("duty_manager")
    await dm.get(f"/discussions/{did}")
    page = await dm.press("Conference", dm.page.card(CASE, within="main-post"))
    page = await dm.fill({"outcome": "held", "held_on": "2026-11-24"})
    assert "Recorded: the conference was held on 24 Nov 2026." in page.notices()
    page = await dm.get(f"/discussions/{did}")
    assert "Initial child protection conference to be held: met" in page.card(CASE, within="main-post").words
    page = await dm.press("Close", dm.page.card(CASE, within="main-post"))
    form = page.section("notices").all("form", action="/act/form")[-1]
    open_ones = [
        n.attrs["name"][3:] for n in form.all("textarea") if n.attrs["name"].startswith("in.reason_")
    ]
    assert open_ones  # the further and final discussions and the action are still to come
    page = await dm.fill(
        {"reason": "The family left the area"} | {name: "Transferred out" for name in open_ones}
    )
    assert "State closed with reason" in page.card(CASE, within="main-post").words
