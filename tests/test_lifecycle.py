"""The lifecycle held exactly, on the engine, SQLite and PostgreSQL: each rule of dialogs/lifecycle.py
walked as the people in a discussion would, from ../shared/PROCEDURE.md ("How a deadline ends")."""

from datetime import UTC, date, datetime

from sqlalchemy import select

from dialogs.lifecycle_doc import render
from dialogs.model import TargetKind
from storage.models import AuditEvent, Decision, Discussion, Series
from tests.conftest import REPO
from tests.engine_helpers import errors, form_of, make_driver, one
from tests.lifecycle_walks import (
    CASE,
    PLAN,
    PROCEDURE,
    accept_all,
    close_with,
    convene,
    decided,
    further,
    give_the_chair_a_manager,
    invite_and_accept,
    items,
    signed_off,
    started,
)


def test_the_lifecycle_page_is_generated_from_the_table():
    page = (REPO / "docs" / "lifecycle.md").read_text()
    assert page == render(PROCEDURE), (
        "docs/lifecycle.md is stale: python -m dialogs.lifecycle_doc > docs/lifecycle.md"
    )


async def test_an_act_outside_the_table_is_refused_with_what_is_possible_now(db):
    drv = await make_driver(db)
    did = await convene(drv)
    refused = one(await drv.press("chair", "plan", did), TargetKind.EPHEMERAL).text
    assert refused.startswith(f"You cannot plan the S47 enquiry now: the discussion about {CASE} is convened")
    assert "What you can do now: answer the questions" in refused and "start the discussion" in refused
    assert not drv.result.changed
    # A participant is told only what a participant can do.
    await invite_and_accept(drv, did, "police")
    refused = one(await drv.press("police", "ack", f"{did}:1"), TargetKind.EPHEMERAL).text
    assert refused.endswith(
        "What you can do now: accept or decline your invitation; reply in the discussion's thread."
    )


# --- series -------------------------------------------------------------------------------------


async def test_a_second_first_discussion_for_a_case_is_refused_and_points_to_the_open_one(db):
    drv = await make_driver(db)
    did = await started(drv)
    cards = await drv.submit("chair", "convene", "", **_rest(case_ref=CASE.lower()))
    assert "already has an open series" in errors(cards)["case_ref"]
    offer = [c for c in cards if c.form is None and c.target.kind == TargetKind.EPHEMERAL][0]
    assert [b.action for b in offer.buttons] == ["discussion.open"]  # not signed off: no further one yet
    async with db.session() as s:
        assert (await s.execute(select(Series))).scalars().all()[0].case_ref == CASE
        assert len((await s.execute(select(Discussion))).scalars().all()) == 1
    await decided(drv, did, "s47_joint")
    await signed_off(drv, did)
    cards = await drv.submit("chair", "convene", "", **_rest())
    offer = [c for c in cards if c.form is None and c.target.kind == TargetKind.EPHEMERAL][0]
    assert [b.action for b in offer.buttons] == ["reconvene", "discussion.open"]  # a further one instead


async def test_a_closed_series_lets_the_case_start_a_new_one(db):
    drv = await make_driver(db)
    did = await convene(drv)
    await close_with(drv, did, "Convened in error")
    again = await convene(drv)
    async with db.session() as s:
        series = {d.id: d.series_id for d in (await s.execute(select(Discussion))).scalars()}
        closed = {x.id: x.closed_at is not None for x in (await s.execute(select(Series))).scalars()}
    assert series[did] != series[again] and closed == {series[did]: True, series[again]: False}


async def test_a_further_discussion_that_decides_s47_again_keeps_the_conference_date(db):
    drv = await make_driver(db)
    first = await started(drv)
    await decided(drv, first, "s47_joint")
    await signed_off(drv, first)
    icpc = (await items(drv, first))["icpc", ""]
    assert icpc.due_at == datetime(2026, 12, 15, 23, 59, 59, tzinfo=UTC)  # 15 working days from Tue 24 Nov
    drv.clock.advance(days=7)
    second, cards = await further(drv, first, "2026-12-01", "15:00", format="call")
    assert "(second)" in one(cards, TargetKind.MAIN_POST).title
    for who in ("police", "health"):
        value = next(
            b.value for c in cards if c.target.person_id == drv.actors[who].person_id for b in c.buttons
        )
        await drv.press(who, "accept", value)
    await drv.press("chair", "start", second)
    assert (await items(drv, first))["further_discussion", ""].state == "met"
    await decided(drv, second, "s47_joint")
    later = await items(drv, first)
    assert later["icpc", ""].due_at == icpc.due_at and later["icpc", ""].id == icpc.id
    assert ("icpc", "") not in await items(drv, second)  # one conference per series


async def test_a_further_discussion_inherits_that_the_case_needed_a_meeting(db):
    drv = await make_driver(db)
    did = await started(drv, category="neglect")
    await decided(drv, did, "s47_joint")
    await signed_off(drv, did)
    cards = await drv.fill(
        "chair", "reconvene", did, format="call", proposed_date="2026-12-01", proposed_time="10:00"
    )
    assert "required a meeting" in errors(cards)["format"]


async def test_a_final_discussion_starts_only_with_every_agency_from_the_first_and_nothing_follows_it(db):
    drv = await make_driver(db)
    first = await started(drv)
    await drv.fill(
        "chair", "invite", first, people=[str(drv.actors["referrer"].person_id)], why="The school joined late"
    )
    await drv.reply("referrer", first, "The school saw the bruising.")  # education took part in the first
    await decided(drv, first, "s47_joint")
    await signed_off(drv, first)
    # The second discussion is held without education, then the final one follows it.
    second, cards = await further(drv, first, "2026-11-26", "10:00")
    async with db.session() as s:
        from storage.models import Participant

        ref = (
            await s.execute(
                select(Participant).where(
                    Participant.discussion_id == second,
                    Participant.person_id == drv.actors["referrer"].person_id,
                )
            )
        ).scalar_one()
        await s.delete(ref)  # (as if they had not been invited to the second one)
    await accept_all(drv, cards)
    await drv.press("chair", "start", second)
    await decided(drv, second, "s47_joint")
    await signed_off(drv, second)
    final, cards = await further(drv, second, "2026-11-27", "10:00", is_final="yes")
    await accept_all(drv, cards)
    note = one(cards, TargetKind.EPHEMERAL).text
    assert "Before it can start, invite someone from: Education and early years" in note
    refused = one(await drv.press("chair", "start", final), TargetKind.EPHEMERAL).text
    assert "first invite someone from Education and early years" in refused
    await drv.fill("chair", "invite", final, people=[str(drv.actors["referrer"].person_id)])
    assert one(await drv.press("chair", "start", final), TargetKind.THREAD)
    assert (await items(drv, first))["final_discussion", ""].state == "met"
    refused = one(await drv.press("chair", "reconvene", first), TargetKind.EPHEMERAL).text
    assert "no further discussion follows it" in refused


# --- deadlines end by doing -----------------------------------------------------------------------


async def test_the_meeting_is_met_by_starting_and_late_with_the_reason_given_at_convening(db):
    drv = await make_driver(db)
    on_time = await started(drv)
    assert (await items(drv, on_time))["meeting", ""].state == "met"
    late = await convene(
        drv,
        case_ref="LL-300002",
        proposed_date="2026-11-25",
        proposed_time="16:00",
        late_reason="The paediatrician is free then",
    )
    drv.clock.advance(hours=30)
    cards = await drv.press("chair", "start", late)
    meeting = (await items(drv, late))["meeting", ""]
    assert (meeting.state, meeting.reason) == ("late", "The paediatrician is free then")
    assert not [c for c in cards if c.title.startswith("Done late")]  # the reason was given already


async def test_an_action_done_late_asks_the_chair_why_and_the_reason_joins_the_record(db):
    drv = await make_driver(db)
    did = await started(drv)
    await decided(drv, did, "s47_joint")
    await drv.fill("chair", "plan", did, **PLAN)
    owner = str(drv.actors["police"].person_id)
    cards = await drv.fill(
        "chair", "add_action", did, description="Joint visit", owner=owner, due_on="2026-11-25"
    )
    done_value = next(b.value for c in cards for b in c.buttons if b.action == "action_done")
    await signed_off(drv, did, plan=False)
    drv.clock.advance(days=3)
    cards = await drv.press("police", "action_done", done_value)
    ask = one([c for c in cards if c.title.startswith("Done late")], TargetKind.DIRECT)
    assert ask.target.person_id == drv.actors["chair"].person_id and "LL-300001" in ask.text
    action = next(i for (k, _), i in (await items(drv, did)).items() if k == "action")
    assert (action.state, action.reason) == ("late", None)
    chair_due = one(await drv.command("chair", "due"), TargetKind.EPHEMERAL).text
    assert "agreed action to be completed" in chair_due and "your reason is needed" in chair_due
    await drv.fill("chair", ask.buttons[0].action, ask.buttons[0].value, reason="The family was away")
    action = next(i for (k, _), i in (await items(drv, did)).items() if k == "action")
    assert (action.state, action.reason) == ("late", "The family was away")
    async with db.session() as s:
        from storage.models import RecordVersion

        latest = (
            (await s.execute(select(RecordVersion).order_by(RecordVersion.version.desc()))).scalars().first()
        )
    assert latest.version == 2 and "The family was away" in latest.body  # a new, signed version


async def test_the_conference_is_met_by_recording_it_held_or_not_required(db):
    drv = await make_driver(db)
    did = await started(drv)
    await decided(drv, did, "s47_joint")
    await signed_off(drv, did)
    drv.clock.advance(days=30)
    cards = await drv.fill("chair", "icpc", did, outcome="held", held_on="2026-12-18")
    assert "reason" in errors(cards)  # after its due date (15 Dec): late, so the reason is asked here
    await drv.fill(
        "chair", "icpc", did, outcome="held", held_on="2026-12-18", reason="The family asked to delay"
    )
    icpc = (await items(drv, did))["icpc", ""]
    assert (icpc.state, icpc.reason, icpc.ended_at.date()) == (
        "late",
        "The family asked to delay",
        date(2026, 12, 18),
    )
    async with db.session() as s:
        series = (await s.execute(select(Series))).scalar_one()
    assert series.icpc_held_on == date(2026, 12, 18) and not series.icpc_not_required
    refused = one(await drv.press("chair", "icpc", did), TargetKind.EPHEMERAL).text
    assert "already held on 18 Dec 2026" in refused

    other = await started(drv, case_ref="LL-300009", proposed_date="2026-12-24", proposed_time="10:00")
    await decided(drv, other, "s47_single_agency")
    await signed_off(drv, other, icpc_on="2027-01-08")
    await drv.fill(
        "chair", "icpc", other, outcome="not_required", reason="Enquiries found no risk of significant harm"
    )
    icpc = (await items(drv, other))["icpc", ""]
    assert (icpc.state, icpc.reason) == ("met", "Enquiries found no risk of significant harm")
    async with db.session() as s:
        other_series = await s.get(Series, (await s.get(Discussion, other)).series_id)
    assert other_series.icpc_not_required and other_series.icpc_held_on is None  # for the census


async def test_the_outcome_told_another_way_meets_the_notification(db):
    drv = await make_driver(db)
    did = await started(drv, referring_agency="education")  # the school referred; nobody invited it
    await decided(drv, did, "no_s47")
    cards = await signed_off(drv, did, plan=False)
    assert (
        "The outcome still has to reach: Education and early years" in one(cards, TargetKind.EPHEMERAL).text
    )
    assert (await items(drv, did))["outcome_notification", ""].state == "open"
    fields = dict(
        agency="education", told_by="Dana Duty", how="phone", told_date="2026-11-24", told_time="10:00"
    )
    await drv.fill("chair", "tell_outcome", did, **fields)
    notice = (await items(drv, did))["outcome_notification", ""]
    assert (notice.state, notice.ended_by) == ("met", "told: Education and early years")
    async with db.session() as s:
        d = await s.get(Discussion, did)
    assert d.state == "closed"  # no S47 and every deadline ended: the discussion closed by itself


async def test_closing_with_deadlines_open_asks_a_reason_for_each_and_ends_closed_with_reason(db):
    drv = await make_driver(db)
    did = await started(drv)
    await decided(drv, did, "s47_joint")
    await signed_off(drv, did)
    form = form_of(await drv.press("chair", "close", did))
    open_ones = [i for i in form.inputs if i.id.startswith("reason_")]
    labels = " ".join(i.label for i in open_ones)
    assert "Initial child protection conference" in labels and "Further strategy discussion" in labels
    answers = {i.id: f"Reason {n}" for n, i in enumerate(open_ones)}
    cards = await drv.submit(
        "chair", "close", form.context, reason="The family moved to another area", **answers
    )
    assert dict(one(cards, TargetKind.MAIN_POST).facts)["State"] == "closed with reason"
    ended = await items(drv, did)
    assert {i.state for (k, _), i in ended.items() if k in ("icpc", "further_discussion")} == {"closed"}
    assert all(i.reason for (k, _), i in ended.items() if k in ("icpc", "further_discussion"))


async def test_a_snooze_moves_the_reminder_never_the_deadline(db):
    drv = await make_driver(db)
    did = await started(drv)
    await decided(drv, did, "s47_joint")
    await signed_off(drv, did)
    icpc = (await items(drv, did))["icpc", ""]
    await drv.fill("chair", "due.snooze", f"{did}:{icpc.id}", until="240", reason="In a meeting")
    after = (await items(drv, did))["icpc", ""]
    assert (after.state, after.due_at) == ("open", icpc.due_at) and after.snoozed_until is not None


# --- out of hours follows the meeting ---------------------------------------------------------------


async def test_out_of_hours_follows_the_meeting_across_a_bank_holiday_and_a_clock_change(db):
    # Convened on Thursday 24 December 2026 at 16:00 (office hours) for Christmas Day (a bank holiday).
    drv = await make_driver(db, at=datetime(2026, 12, 24, 16, 0, tzinfo=UTC))
    did = await convene(drv, proposed_date="2026-12-25", proposed_time="10:00", late_reason="Christmas")
    async with db.session() as s:
        d = await s.get(Discussion, did)
    assert d.out_of_hours and d.out_of_hours_detected and d.out_of_hours_reason is None
    # Convened at 23:00 on Sunday 28 March 2027, the clocks gone forward and Easter Monday (a bank
    # holiday) next, for Tuesday 30th at 16:30 BST (15:30 UTC: office hours by the London clock)
    # and at 17:30 BST (16:30 UTC: out of hours, though a UTC clock would say otherwise).
    drv.clock.at = datetime(2027, 3, 28, 22, 0, tzinfo=UTC)
    day = await convene(
        drv, case_ref="LL-300003", proposed_date="2027-03-30", proposed_time="16:30", late_reason="x"
    )
    evening = await convene(
        drv, case_ref="LL-300004", proposed_date="2027-03-30", proposed_time="17:30", late_reason="x"
    )
    async with db.session() as s:
        got = {x.id: x.out_of_hours for x in (await s.execute(select(Discussion))).scalars()}
    holiday = await convene(
        drv, case_ref="LL-300006", proposed_date="2027-03-29", proposed_time="11:00", late_reason="x"
    )
    async with db.session() as s:
        easter = (await s.get(Discussion, holiday)).out_of_hours
    assert (easter, got[day], got[evening]) == (True, False, True)
    # The chair may override it only with a reason, which is kept.
    cards = await drv.submit(
        "chair",
        "convene",
        "",
        **_rest(
            case_ref="LL-300005",
            proposed_date="2027-03-30",
            proposed_time="16:30",
            late_reason="x",
            out_of_hours="yes",
        ),
    )
    assert "please say why you override" in errors(cards)["hours_reason"]


async def test_out_of_hours_roles_chair_only_out_of_hours_meetings(db):
    drv = await make_driver(db)
    async with db.session() as s:
        from storage.models import Person

        person = Person(display_name="Olu Out-of-hours", agency="social_care", role="ooh_manager")
        s.add(person)
        await s.flush()
    from dialogs.model import Actor

    drv.actors["ooh"] = Actor(person.id, person.display_name, "social_care", "ooh_manager")
    cards = await drv.submit("ooh", "convene", "", **_rest(proposed_time="14:00"))
    assert "the day duty team chairs it" in errors(cards)["proposed_time"]
    cards = await drv.submit("ooh", "convene", "", **_rest(proposed_time="19:00"))
    assert one(cards, TargetKind.MAIN_POST)


# --- the quorum gate ------------------------------------------------------------------------------


async def test_the_decision_waits_for_the_quorum_or_the_chairs_override_which_the_manager_reviews(db):
    drv = await make_driver(db)
    manager = await give_the_chair_a_manager(drv)
    did = await convene(drv)
    await invite_and_accept(drv, did, "police")  # no health
    await drv.press("chair", "start", did)
    cards = await decided(drv, did, "s47_joint")
    assert "Quorum: Health" in errors(cards)["override_reason"]
    async with db.session() as s:
        assert (await s.execute(select(Decision))).first() is None
    cards = await decided(drv, did, "s47_joint", override_reason="The GP could not be reached tonight")
    notice = one(cards, TargetKind.DIRECT)
    assert notice.target.person_id == manager and "LL-300001" in notice.text and "GP" not in notice.text
    (review,) = await _reviews(drv, did)
    assert (review.state, review.recipient_id) == ("open", manager)
    refused = one(await drv.press("police", "review_override", did), TargetKind.EPHEMERAL).text
    assert refused == f"Only the chair's team manager can review the decision on {CASE}."
    await drv.press("manager", "review_override", did)
    assert [r.state for r in await _reviews(drv, did)] == ["met"]
    async with db.session() as s:
        decision = (await s.execute(select(Decision))).scalar_one()
        overridden = (
            await s.execute(select(AuditEvent.detail).where(AuditEvent.action == "quorum.overridden"))
        ).scalar_one()
        audited = (await s.execute(select(AuditEvent.action))).scalars().all()
    assert decision.override_unmet == "Quorum: Health" and decision.override_reviewed_by_id == manager
    assert overridden["reason"] == "The GP could not be reached tonight"  # kept, whatever follows
    assert "quorum.override_reviewed" in audited
    # Decided again without health, after the review: a new override, reviewed afresh.
    drv.clock.advance(minutes=5)
    await decided(drv, did, "s47_single_agency", override_reason="Still no GP")
    assert [r.state for r in await _reviews(drv, did)] == ["met", "open"]


async def test_closing_does_not_end_the_managers_review_of_an_override(db):
    drv = await make_driver(db)
    await give_the_chair_a_manager(drv)
    did = await convene(drv)
    await invite_and_accept(drv, did, "police")
    await drv.press("chair", "start", did)
    await decided(drv, did, "no_s47", override_reason="Health unreachable")
    form = form_of(await drv.press("chair", "close", did))
    assert not any("reviewed" in i.label for i in form.inputs)  # not the chair's to close away
    await drv.submit("chair", "close", form.context, **{i.id: "Closed" for i in form.inputs})
    assert [r.state for r in await _reviews(drv, did)] == ["open"]
    await drv.press("manager", "review_override", did)  # still possible once closed
    assert [r.state for r in await _reviews(drv, did)] == ["met"]


async def _reviews(drv, did):
    return sorted(
        (i for (k, _), i in (await items(drv, did)).items() if k == "override_review"), key=lambda i: i.id
    )


async def test_the_circumstances_are_answered_before_deciding_and_a_declining_paediatrician_is_not_enough(db):
    drv = await make_driver(db)
    unknown = {f"c_{c.id}": "unknown" for c in PROCEDURE.circumstances}
    did = await convene(drv, **unknown)
    await invite_and_accept(drv, did, "police", "health")
    await _declines(drv, did, "paediatrician", reason="On call in theatre")
    await drv.press("chair", "start", did)
    cards = await decided(drv, did, "s47_joint")
    assert {f"c_{c.id}" for c in PROCEDURE.circumstances} <= set(errors(cards))
    answers = {f"c_{c.id}": "no" for c in PROCEDURE.circumstances} | {"c_medical_implications": "yes"}
    cards = await decided(drv, did, "s47_joint", **answers)
    assert "A senior paediatrician must be included" in errors(cards)["override_reason"]


async def test_the_police_manager_with_directions_and_a_reason_meets_the_rule(db):
    drv = await make_driver(db)
    did = await convene(drv, c_possible_injury="yes")
    await invite_and_accept(drv, did, "police", "health")
    await _declines(drv, did, "police_manager", reason="In court", directions="Joint visit today.")
    await drv.press("chair", "start", did)
    cards = await decided(drv, did, "s47_joint")
    assert "Decision recorded" in one(cards, TargetKind.EPHEMERAL).text


async def _declines(drv, did: int, who: str, **fields: str) -> None:
    cards = await drv.fill("chair", "invite", did, people=[str(drv.actors[who].person_id)])
    value = next(b.value for c in cards for b in c.buttons if b.action == "decline")
    await drv.fill(who, "decline", value, **fields)


# --- nothing overwrites newer data ----------------------------------------------------------------


async def test_a_stale_form_from_a_second_tab_is_refused_with_nothing_lost(db):
    drv = await make_driver(db)
    did = await started(drv)
    first_tab = form_of(await drv.press("chair", "decide", did))
    second_tab = form_of(await drv.press("chair", "decide", did))
    await drv.submit(
        "chair", "decide", second_tab.context, outcome="no_s47", reasons="A", risks="B", alternative="C"
    )
    mine = dict(outcome="s47_joint", reasons="Unexplained bruising", risks="Injury")
    stale = one(await drv.submit("chair", "decide", first_tab.context, **mine), TargetKind.EPHEMERAL)
    assert not drv.result.changed
    assert stale.title == "This has changed since you opened it"
    assert "Unexplained bruising" in stale.text  # what they typed comes back to them
    current = {i.id: i.value for i in stale.form.inputs}
    assert (current["outcome"], current["reasons"]) == ("no_s47", "A")  # the form shows what is stored now
    async with db.session() as s:
        assert (await s.execute(select(Decision.outcome))).scalar_one() == "no_s47"
    # Sent again from the refreshed form, it is taken.
    await drv.submit("chair", "decide", stale.form.context, **mine)
    async with db.session() as s:
        assert (await s.execute(select(Decision.outcome))).scalar_one() == "s47_joint"


async def test_sign_off_signs_what_the_chair_reviewed(db):
    drv = await make_driver(db)
    did = await started(drv)
    await decided(drv, did, "no_s47")
    review = form_of(await drv.press("chair", "review", did))
    await drv.reply("police", did, "One more thing: a sibling attends the same school.")
    stale = one(
        await drv.submit("chair", "signoff", review.context, monitoring="Weekly"), TargetKind.EPHEMERAL
    )
    assert stale.title == "This has changed since you opened it" and "a sibling attends" in stale.text
    async with db.session() as s:
        assert (await s.get(Discussion, did)).state == "decided"


async def test_attendance_is_frozen_after_sign_off(db):
    drv = await make_driver(db)
    did = await started(drv)
    await decided(drv, did, "s47_joint")
    await signed_off(drv, did)
    refused = one(await drv.press("chair", "phone", did), TargetKind.EPHEMERAL).text
    assert refused.startswith("You cannot record someone taking part by phone now")
    refused = one(await drv.press("chair", "invite", did), TargetKind.EPHEMERAL).text
    assert refused.startswith("You cannot invite people now")


def _rest(**overrides: str) -> dict:
    from tests.lifecycle_walks import CONVENE

    return {k: v for k, v in CONVENE.items() if k != "case_ref"} | {"case_ref": CASE} | overrides


# --- every rule's words come from the procedure file ------------------------------------------------


async def test_a_councils_own_words_and_options_are_what_the_bot_uses(db, tmp_path):
    from dialogs.procedure import DEFAULT_PROCEDURE_FILE, load_procedure

    text = DEFAULT_PROCEDURE_FILE.read_text()
    text = text.replace("icpc: Initial child protection conference to be held", "icpc: ICPC to be convened")
    text = text.replace("label: No S47 enquiry\n", "label: No Section 47 - step down to early help\n")
    text = text.replace("requires: [reasons, risks, alternative]", "requires: [reasons, alternative]")
    text = text.replace("{id: call, label: Phone call}", "{id: call, label: Telephone conference}")
    own = tmp_path / "council.yaml"
    own.write_text(text)
    drv = await make_driver(db, procedure=load_procedure(own))
    did = await started(drv, format="call")
    post = one(await drv.press("chair", "status", did), TargetKind.EPHEMERAL)
    assert "(Telephone conference)" in dict(post.facts)["When"]
    # The council's no-S47 outcome does not ask for the risks, so none is required.
    cards = await decided(drv, did, "no_s47", risks="")
    assert (
        dict(one(cards, TargetKind.MAIN_POST).facts)["Decision"] == "No Section 47 - step down to early help"
    )
    other = await started(drv, case_ref="LL-300007")
    await decided(drv, other, "s47_joint")
    await signed_off(drv, other)
    due = one(await drv.command("chair", "due"), TargetKind.EPHEMERAL).text
    assert "ICPC to be convened" in due and "conference to be held" not in due


def test_an_older_council_file_gets_the_shipped_words_for_what_it_lacks(tmp_path):
    from dialogs.procedure import DEFAULT_PROCEDURE_FILE, load_procedure
    from tests.test_procedure import MINIMAL

    older = tmp_path / "older.yaml"
    older.write_text(MINIMAL)
    procedure = load_procedure(older)
    shipped = load_procedure(DEFAULT_PROCEDURE_FILE)
    assert procedure.deadlines == shipped.deadlines and procedure.circumstances == shipped.circumstances
    assert procedure.timescales.icpc_counted_from == "first"
    assert procedure.timescales.meeting_within_hours == 12  # its own values stay its own


async def test_out_of_hours_the_day_quorums_agencies_that_did_not_take_part_are_told_the_outcome(db):
    # Saturday 28 November 2026, 22:00: out of hours. The school referred; police and the school took part.
    drv = await make_driver(db, at=datetime(2026, 11, 28, 22, 0, tzinfo=UTC))
    did = await convene(drv, referring_agency="education", proposed_date="2026-11-28", proposed_time="23:00")
    await invite_and_accept(drv, did, "police", "referrer")
    cards = await drv.press("chair", "start", did)
    assert (
        dict(one(cards, TargetKind.MAIN_POST).facts)["Quorum"] == "met"
    )  # out of hours: referrer and police
    await decided(drv, did, "no_s47")
    cards = await signed_off(drv, did, plan=False)
    # Health, of the day quorum, did not take part: the day team must hear the outcome too.
    assert "The outcome still has to reach: Health" in one(cards, TargetKind.EPHEMERAL).text
    assert (await items(drv, did))["outcome_notification", ""].state == "open"


async def test_a_day_time_meeting_convened_out_of_hours_needs_the_day_quorum(db):
    drv = await make_driver(db, at=datetime(2026, 11, 23, 22, 0, tzinfo=UTC))  # Monday night
    did = await convene(drv, proposed_date="2026-11-24", proposed_time="09:30", late_reason="First thing")
    await invite_and_accept(drv, did, "police")
    post = one(await drv.press("chair", "status", did), TargetKind.EPHEMERAL)
    assert dict(post.facts)["Out of hours"] == "no"
    assert "[ ] Quorum: Health" in post.text


async def test_a_conference_deadline_withdrawn_by_a_changed_decision_does_not_block_the_real_one(db):
    drv = await make_driver(db)
    first = await started(drv)
    await decided(drv, first, "s47_joint")
    await decided(drv, first, "single_assessment")  # changed before sign-off: no S47 after all
    assert (await items(drv, first))["icpc", ""].state == "withdrawn"
    await signed_off(drv, first, plan=False)
    second, cards = await further(drv, first, "2026-11-25", "10:00")
    await accept_all(drv, cards)
    await drv.press("chair", "start", second)
    await decided(drv, second, "s47_joint")
    await signed_off(drv, second)
    await drv.fill("chair", "icpc", second, outcome="held", held_on="2026-11-24")
    assert (await items(drv, second))["icpc", ""].state == "met"


async def test_a_decision_form_does_not_overwrite_circumstances_answered_meanwhile(db):
    drv = await make_driver(db)
    did = await started(drv)
    first_tab = form_of(await drv.press("chair", "decide", did))
    await drv.fill("chair", "circumstances", did, c_possible_injury="yes")  # in another tab
    stale = one(
        await drv.submit("chair", "decide", first_tab.context, outcome="no_s47", reasons="A", risks="B"),
        TargetKind.EPHEMERAL,
    )
    assert stale.title == "This has changed since you opened it"
    async with db.session() as s:
        assert (await s.get(Discussion, did)).possible_injury is True
        assert (await s.execute(select(Decision))).first() is None


async def test_an_invitation_cannot_be_answered_once_the_discussion_has_started(db):
    drv = await make_driver(db)
    did = await convene(drv)
    await invite_and_accept(drv, did, "police")
    cards = await drv.fill("chair", "invite", did, people=[str(drv.actors["health"].person_id)])
    value = next(b.value for c in cards for b in c.buttons if b.action == "decline")
    await drv.press("chair", "start", did)
    refused = one(await drv.press("health", "decline", value), TargetKind.EPHEMERAL).text
    assert refused.startswith("You cannot accept or decline your invitation now")
    assert refused.endswith("What you can do now: reply in the discussion's thread.")


async def test_a_final_discussion_closed_unheld_does_not_end_the_series(db):
    drv = await make_driver(db)
    first = await started(drv)
    await decided(drv, first, "s47_joint")
    await signed_off(drv, first)
    final, cards = await further(drv, first, "2026-11-25", "10:00", is_final="yes")
    await close_with(drv, final, "Convened as final in error")
    post = one(await drv.press("chair", "status", first), TargetKind.EPHEMERAL)
    assert "reconvene" in [b.action for b in post.buttons]
    cards = await drv.fill(
        "chair", "reconvene", first, format="meeting", proposed_date="2026-11-25", proposed_time="11:00"
    )
    assert "(third)" in one(cards, TargetKind.MAIN_POST).title
