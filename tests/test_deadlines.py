"""Due items computed from a discussion's state, on SQLite and PostgreSQL, in London local time."""

from datetime import date, datetime, timedelta

from dialogs import moments
from storage.models import (
    Action,
    Circulation,
    Decision,
    Discussion,
    DueItem,
    OutcomeTold,
    Plan,
    RecordVersion,
    Series,
)
from tests.reminder_fixtures import PROCEDURE, discussion, invite, items, london, one_child, refresh, team


async def test_convened_discussion_gets_meeting_invitation_and_quorum_items(db):
    now = london(2026, 3, 10, 10, 0)  # a Tuesday, GMT
    async with db.session() as s:
        t = await team(s)
        d = await discussion(s, chair=t.chair, convened_at=now, proposed_at=london(2026, 3, 10, 14, 0))
        police = await invite(s, d, t.police, invited_at=now)
        health = await invite(s, d, t.health, invited_at=now)
        await refresh(s, d, now)
    async with db.session() as s:
        got = await items(s, d)
    assert set(got) == {
        ("meeting", ""),
        ("quorum", ""),
        ("invitation", str(police.id)),
        ("invitation", str(health.id)),
    }
    meeting = got["meeting", ""]
    assert (meeting.due_at, meeting.recipient_id, meeting.state, meeting.stage) == (
        london(2026, 3, 11, 10, 0),
        t.chair.id,
        "open",
        "pending",
    )
    assert meeting.remind_at is None  # 24 hours before the meeting deadline is now: not in the future
    assert meeting.morning_at == london(2026, 3, 11, 8, 30)
    assert meeting.escalate_at == london(2026, 3, 11, 12, 0)
    assert meeting.next_at == meeting.morning_at
    chase = got["invitation", str(police.id)]
    assert (chase.due_at, chase.recipient_id, chase.next_at) == (
        now + timedelta(minutes=60),
        t.police.id,
        chase.due_at,
    )
    assert chase.escalate_at == chase.due_at + timedelta(hours=2)
    quorum = got["quorum", ""]
    assert (quorum.due_at, quorum.recipient_id, quorum.escalate_at) == (
        london(2026, 3, 10, 13, 30),
        t.chair.id,
        None,
    )


async def test_answers_end_invitations_and_quorum_and_a_decline_reopens_it(db):
    now = london(2026, 3, 10, 10, 0)
    async with db.session() as s:
        t = await team(s)
        d = await discussion(s, chair=t.chair, convened_at=now, proposed_at=london(2026, 3, 10, 14, 0))
        police = await invite(s, d, t.police, invited_at=now)
        health = await invite(s, d, t.health, invited_at=now)
        await refresh(s, d, now)
    later = now + timedelta(minutes=20)
    async with db.session() as s:
        police, health, d = (
            await s.get(type(police), police.id),
            await s.get(type(health), health.id),
            await s.get(Discussion, d.id),
        )
        police.status, health.status = "accepted", "by_phone"
        await refresh(s, d, later)
        got = await items(s, d)
        assert got["quorum", ""].state == "met" and got["quorum", ""].next_at is None
        assert got["invitation", str(police.id)].state == "met"
        assert got["invitation", str(health.id)].state == "met"
        assert got["meeting", ""].state == "open"
    async with db.session() as s:
        health, d = await s.get(type(health), health.id), await s.get(Discussion, d.id)
        health.status = "declined"
        await refresh(s, d, later + timedelta(minutes=5))
        got = await items(s, d)
        assert got["quorum", ""].state == "open"  # health is needed for the in-hours quorum
        assert got["quorum", ""].next_at == london(2026, 3, 10, 13, 30)
        assert got["invitation", str(health.id)].state == "met"  # declining is an answer


async def test_out_of_hours_quorum_counts_the_referring_agency(db):
    now = london(2026, 3, 14, 22, 0)  # Saturday night
    async with db.session() as s:
        t = await team(s)
        d = await discussion(s, chair=t.chair, convened_at=now, out_of_hours=True, referring_agency="health")
        await invite(s, d, t.police, invited_at=now, status="accepted")
        await refresh(s, d, now)
        assert (await items(s, d))["quorum", ""].state == "open"  # referring agency (health) not there yet
        await invite(s, d, t.health, invited_at=now, status="by_phone")
        await refresh(s, d, now)
        assert (await items(s, d))["quorum", ""].state == "met"


async def test_held_discussion_record_due_end_of_next_working_day_in_local_time(db):
    convened = london(2026, 3, 26, 10, 0)
    async with db.session() as s:
        t = await team(s)
        d = await discussion(s, chair=t.chair, convened_at=convened)
        police = await invite(s, d, t.police, invited_at=convened)
        await refresh(s, d, convened)
        d.state, d.started_at = "in_progress", london(2026, 3, 27, 9, 30)  # Friday, GMT
        d.held_on = date(2026, 3, 27)
        now = london(2026, 3, 27, 15, 0)
        await refresh(s, d, now)
        got = await items(s, d)
    meeting = got["meeting", ""]
    assert (meeting.state, meeting.ended_at, meeting.ended_by) == (
        "met",
        london(2026, 3, 27, 9, 30),
        "the discussion started",
    )
    # The chases end with the bot's reason: the meeting went ahead without them.
    assert (got["quorum", ""].state, got["quorum", ""].ended_by) == (
        "missed",
        "the discussion started without the quorum",
    )
    invitation = got["invitation", str(police.id)]
    assert (invitation.state, invitation.ended_by) == ("missed", "not answered before the discussion started")
    record = got["record_circulation", ""]
    # Monday 30 March, the first working day after; British Summer Time began on Sunday 29th.
    assert (
        record.due_at
        == london(2026, 3, 30, 23, 59, 59)
        == datetime.fromisoformat("2026-03-30T22:59:59+00:00")
    )
    assert record.remind_at == london(2026, 3, 29, 23, 59, 59)
    assert (
        record.morning_at == london(2026, 3, 30, 8, 30) == datetime.fromisoformat("2026-03-30T07:30:00+00:00")
    )
    assert record.escalate_at == record.due_at + timedelta(hours=2)
    assert (record.next_at, record.recipient_id) == (record.remind_at, t.chair.id)
    assert got["outcome_notification", ""].due_at == record.due_at


async def test_easter_bank_holidays_are_not_working_days(db):
    async with db.session() as s:
        t = await team(s)
        d = await discussion(s, chair=t.chair, convened_at=london(2026, 4, 1, 10, 0))
        d.held_on, d.state = date(2026, 4, 2), "decided"  # Maundy Thursday
        await refresh(s, d, london(2026, 4, 2, 12, 0))
        got = await items(s, d)
    # Good Friday 3 April and Easter Monday 6 April are bank holidays in England and Wales.
    assert got["record_circulation", ""].due_at == london(2026, 4, 7, 23, 59, 59)


async def test_s47_brings_conference_further_and_final_discussions(db):
    async with db.session() as s:
        t = await team(s)
        d = await discussion(s, chair=t.chair, convened_at=london(2026, 3, 1, 10, 0))
        d.held_on, d.state = date(2026, 3, 2), "decided"
        s.add(
            Decision(
                discussion_id=d.id,
                child_id=d.id,
                outcome="s47_joint",
                reasons="r",
                risks="k",
                decided_by_id=t.chair.id,
            )
        )
        await s.flush()
        await refresh(s, d, london(2026, 3, 2, 12, 0))
        got = await items(s, d)
        # 15 working days after Monday 2 March: Monday 23 March.
        assert got["icpc", ""].due_at == london(2026, 3, 23, 23, 59, 59)
        assert got["further_discussion", ""].due_at == london(2026, 3, 23, 23, 59, 59)
        assert ("final_discussion", "") not in got  # not before the conference date is known
        assert ("reconvene", "") not in got

        s.add(Plan(discussion_id=d.id, child_id=d.id, icpc_on=date(2026, 3, 20)))
        await s.flush()
        await refresh(s, d, london(2026, 3, 5, 12, 0))
        got = await items(s, d)
        assert got["icpc", ""].state == "open"  # planning the conference is not holding it
        final = got["final_discussion", ""]
        assert (final.state, final.due_at) == ("open", london(2026, 3, 20, 23, 59, 59))

        further = Discussion(**_copy(d), number=2, previous_id=d.id, convened_at=london(2026, 3, 10, 9, 0))
        s.add(further)
        await s.flush()
        await one_child(s, further)
        await refresh(s, further, london(2026, 3, 10, 9, 0))  # the engine refreshes the whole series
        assert (await items(s, d))["further_discussion", ""].state == "open"  # convened is not held
        further.started_at, further.held_on, further.state = (
            london(2026, 3, 11, 10, 0),
            date(2026, 3, 11),
            "in_progress",
        )
        await refresh(s, further, london(2026, 3, 11, 10, 0))
        got = await items(s, d)
        assert (got["further_discussion", ""].state, got["further_discussion", ""].ended_by) == (
            "met",
            "discussion 2 was held",
        )
        assert got["final_discussion", ""].state == "open"  # the second is not the final one

        final_d = Discussion(
            **_copy(d), number=3, previous_id=further.id, is_final=True, convened_at=london(2026, 3, 18, 9, 0)
        )
        final_d.started_at, final_d.held_on = london(2026, 3, 18, 10, 0), date(2026, 3, 18)
        s.add(final_d)
        await s.flush()
        await one_child(s, final_d)
        await refresh(s, final_d, london(2026, 3, 18, 10, 0))
        assert (await items(s, d))["final_discussion", ""].state == "met"
        assert (await items(s, final_d)).keys() >= {("meeting", ""), ("record_circulation", "")}

        # Held on its due date: met; the series' conference lives on its first S47 discussion.
        series = await s.get(Series, d.series_id)
        series.icpc_held_on = date(2026, 3, 23)
        await refresh(s, final_d, london(2026, 3, 24, 10, 0))
        icpc = (await items(s, d))["icpc", ""]
        assert (icpc.state, icpc.ended_at) == ("met", london(2026, 3, 23))


def _copy(d: Discussion) -> dict:
    keep = ("series_id", "case_ref", "category", "concern", "convened_by_id", "chair_id", "referring_agency")
    return {k: getattr(d, k) for k in keep} | {
        "proposed_at": d.proposed_at,
        "meeting_due_at": d.meeting_due_at,
    }


async def test_single_assessment_reconvene_date(db):
    async with db.session() as s:
        t = await team(s)
        d = await discussion(s, chair=t.chair, convened_at=london(2026, 4, 13, 10, 0))
        d.held_on, d.state = date(2026, 4, 14), "decided"
        s.add(
            Decision(
                discussion_id=d.id,
                child_id=d.id,
                outcome="single_assessment",
                reasons="r",
                risks="k",
                reconvene_on=date(2026, 5, 20),
                decided_by_id=t.chair.id,
            )
        )
        await s.flush()
        await refresh(s, d, london(2026, 4, 14, 12, 0))
        got = await items(s, d)
        assert got["reconvene", ""].due_at == london(2026, 5, 20, 23, 59, 59)
        assert ("icpc", "") not in got and ("further_discussion", "") not in got
        again = Discussion(**_copy(d), number=2, previous_id=d.id, convened_at=london(2026, 5, 19, 9, 0))
        again.started_at, again.held_on = london(2026, 5, 21, 10, 0), date(2026, 5, 21)
        s.add(again)
        await s.flush()
        await one_child(s, again)
        await refresh(s, again, london(2026, 5, 21, 10, 0))
        reconvene = (await items(s, d))["reconvene", ""]
        # Held the day after the date the chair set: late, and a statutory deadline needs the reason.
        assert (reconvene.state, reconvene.ended_at) == ("late", london(2026, 5, 21, 10, 0))


async def test_actions_follow_their_due_date_owner_and_status(db):
    now = london(2026, 3, 20, 12, 0)
    async with db.session() as s:
        t = await team(s)
        d = await discussion(s, chair=t.chair, convened_at=london(2026, 3, 19, 10, 0))
        d.held_on, d.state = date(2026, 3, 19), "decided"
        a = Action(
            discussion_id=d.id,
            description="visit",
            owner_id=t.police.id,
            owner_agency="police",
            due_on=date(2026, 3, 29),
        )
        b = Action(
            discussion_id=d.id,
            description="call",
            owner_id=t.health.id,
            owner_agency="health",
            due_on=date(2026, 3, 25),
        )
        s.add_all([a, b])
        await s.flush()
        await refresh(s, d, now)
        item = (await items(s, d))["action", str(a.id)]
        # Due Sunday 29 March, the day the clocks go forward: end of day is 23:59:59 BST.
        assert (item.due_at, item.recipient_id) == (london(2026, 3, 29, 23, 59, 59), t.police.id)
        # 24 hours before on the local clock: 23:59:59 GMT on Saturday, 23 elapsed hours before.
        assert item.remind_at == london(2026, 3, 28, 23, 59, 59)
        assert item.due_at - item.remind_at == timedelta(hours=23)
        assert (
            item.morning_at
            == london(2026, 3, 29, 8, 30)
            == datetime.fromisoformat("2026-03-29T07:30:00+00:00")
        )

        item.stage, item.next_at = "reminded", item.morning_at  # as if the first reminder had gone
        a.due_on = date(2026, 4, 1)
        b.status = "cancelled"
        await refresh(s, d, now)
        got = await items(s, d)
        moved = got["action", str(a.id)]
        assert (moved.due_at, moved.stage, moved.next_at) == (
            london(2026, 4, 1, 23, 59, 59),
            "pending",
            moved.remind_at,
        )
        assert got["action", str(b.id)].state == "withdrawn"  # cancelled before it mattered
        a.status, a.done_at = "done", now
        await refresh(s, d, now)
        done = (await items(s, d))["action", str(a.id)]
        assert (done.state, done.ended_at, done.ended_by) == ("met", now, "marked done")


async def test_october_clock_change_morning_and_lead_reminders(db):
    async with db.session() as s:
        t = await team(s)
        d = await discussion(s, chair=t.chair, convened_at=london(2026, 10, 20, 10, 0))
        d.held_on, d.state = date(2026, 10, 20), "decided"
        sunday = Action(
            discussion_id=d.id,
            description="x",
            owner_id=t.police.id,
            owner_agency="police",
            due_on=date(2026, 10, 25),
        )
        monday = Action(
            discussion_id=d.id,
            description="y",
            owner_id=t.police.id,
            owner_agency="police",
            due_on=date(2026, 10, 26),
        )
        s.add_all([sunday, monday])
        await s.flush()
        await refresh(s, d, london(2026, 10, 21, 12, 0))
        got = await items(s, d)
    sun, mon = got["action", str(sunday.id)], got["action", str(monday.id)]
    # Sunday 25 October: the clocks go back at 02:00 BST; the day is 25 hours long.
    assert sun.due_at == datetime.fromisoformat("2026-10-25T23:59:59+00:00")
    assert sun.remind_at == datetime.fromisoformat("2026-10-24T22:59:59+00:00")  # 23:59:59 BST on Saturday
    assert sun.morning_at == datetime.fromisoformat("2026-10-25T08:30:00+00:00")  # 08:30 GMT
    assert mon.morning_at == datetime.fromisoformat("2026-10-26T08:30:00+00:00")
    assert mon.remind_at == datetime.fromisoformat("2026-10-25T23:59:59+00:00")


async def test_circulation_ends_record_items_and_asks_for_acknowledgements(db):
    async with db.session() as s:
        t = await team(s)
        d = await discussion(s, chair=t.chair, convened_at=london(2026, 3, 30, 10, 0))
        d.held_on, d.state = date(2026, 3, 30), "decided"
        await invite(s, d, t.police, invited_at=london(2026, 3, 30, 9, 0), status="accepted")
        await invite(s, d, t.health, invited_at=london(2026, 3, 30, 9, 0))  # never came
        await refresh(s, d, london(2026, 3, 30, 15, 0))
        sent = london(2026, 3, 31, 10, 0)
        record = RecordVersion(
            discussion_id=d.id,
            child_id=d.id,
            version=1,
            body="...",
            signed_off_by_id=t.chair.id,
            signed_off_at=sent,
        )
        s.add(record)
        await s.flush()
        to_police = Circulation(record_id=record.id, person_id=t.police.id, kind="record", sent_at=sent)
        to_health = Circulation(
            record_id=record.id, person_id=t.health.id, kind="outcome_notification", sent_at=sent
        )
        s.add_all([to_police, to_health])
        d.state = "signed_off"
        await s.flush()
        await refresh(s, d, sent)
        got = await items(s, d)
        assert got["record_circulation", ""].state == "met"
        # Health was sent the outcome; the referring school, which nobody invited, is still to be told.
        assert got["outcome_notification", ""].state == "open"
        told = london(2026, 3, 31, 11, 0)
        s.add(
            OutcomeTold(
                discussion_id=d.id,
                agency="education",
                told_by="The chair",
                how="phone",
                told_at=told,
                recorded_by_id=t.chair.id,
            )
        )
        await s.flush()
        await refresh(s, d, told)
        got = await items(s, d)
        assert (got["outcome_notification", ""].state, got["outcome_notification", ""].ended_at) == (
            "met",
            told,
        )
        ack = got["acknowledgement", str(to_police.id)]
        assert (ack.state, ack.recipient_id, ack.due_at) == (
            "open",
            t.police.id,
            london(2026, 4, 1, 23, 59, 59),
        )
        to_police.acknowledged_at = sent + timedelta(hours=1)
        await refresh(s, d, sent + timedelta(hours=1))
        got = await items(s, d)
        assert got["acknowledgement", str(to_police.id)].state == "met"
        assert got["acknowledgement", str(to_health.id)].state == "open"


async def test_a_closed_discussion_starts_no_deadline(db):
    now = london(2026, 3, 10, 10, 0)
    async with db.session() as s:
        t = await team(s)
        d = await discussion(s, chair=t.chair, convened_at=now)
        d.state, d.held_on = "closed_with_reason", date(2026, 3, 10)
        await refresh(s, d, now + timedelta(hours=1))
        assert await items(s, d) == {}  # held, yet closed: no record or outcome deadline starts


async def test_refreshing_again_changes_nothing(db):
    now = london(2026, 3, 10, 10, 0)
    async with db.session() as s:
        t = await team(s)
        d = await discussion(s, chair=t.chair, convened_at=now)
        await invite(s, d, t.police, invited_at=now)
        d.held_on, d.state = date(2026, 3, 10), "decided"
        s.add(
            Decision(
                discussion_id=d.id,
                child_id=d.id,
                outcome="s47_single_agency",
                reasons="r",
                risks="k",
                decided_by_id=t.chair.id,
            )
        )
        await s.flush()
        await refresh(s, d, now)
        before = {k: _row(i) for k, i in (await items(s, d)).items()}
    async with db.session() as s:
        await refresh(s, await s.get(Discussion, d.id), now + timedelta(hours=3))
        after = {k: _row(i) for k, i in (await items(s, d)).items()}
    # Held already when first seen: the meeting met, the record, outcome, ICPC and further discussion.
    assert after == before and len(before) == 5


def _row(item: DueItem) -> tuple:
    return (
        item.id,
        item.state,
        item.stage,
        item.due_at,
        item.remind_at,
        item.morning_at,
        item.next_at,
        item.updated_at,
    )


# --- stepping an item through its moments (no database needed) ------------------------------------


def _item(**kw) -> DueItem:
    due = london(2026, 3, 30, 23, 59, 59)
    item = DueItem(discussion_id=1, kind="record_circulation", due_at=due)
    moments.plan(item, due, PROCEDURE.reminders, tz="Europe/London", now=london(2026, 3, 27, 12, 0))
    for k, v in kw.items():
        setattr(item, k, v)
    return item


def test_step_sends_each_moment_once_in_order():
    item = _item()
    sent = []
    for hour in range(0, 24 * 5):
        now = london(2026, 3, 28, 0, 0) + timedelta(hours=hour)
        if item.next_at is not None and item.next_at <= now:
            step = moments.step(item, now)
            sent += [stage for _, stage in step.send]
            item.stage, item.next_at, item.snoozed_until = step.stage, step.next_at, step.snoozed_until
    assert sent == ["reminded", "due_day", "overdue", "escalated"]
    assert item.next_at is None


def test_step_after_a_long_pause_sends_the_deadline_and_escalation_not_stale_reminders():
    item = _item()
    step = moments.step(item, london(2026, 3, 31, 9, 0))
    assert [stage for _, stage in step.send] == ["overdue", "escalated"]
    assert [at for at, _ in step.send] == [item.due_at, item.escalate_at]
    assert (step.stage, step.next_at) == ("escalated", None)


def test_step_holds_reminders_back_while_snoozed_then_reminds_once():
    item = _item(stage="reminded", snoozed_until=london(2026, 3, 30, 10, 0))
    item.next_at = moments.next_moment(item)
    assert item.next_at == item.morning_at  # the morning moment still comes round...
    step = moments.step(item, item.morning_at)
    assert step.send == () and step.repeat_at is None  # ...but sends nothing while snoozed
    assert (step.stage, step.next_at) == ("due_day", london(2026, 3, 30, 10, 0))
    item.stage, item.next_at, item.snoozed_until = step.stage, step.next_at, step.snoozed_until
    step = moments.step(item, london(2026, 3, 30, 10, 0))
    assert step.send == () and step.repeat_at == london(2026, 3, 30, 10, 0)
    assert (step.snoozed_until, step.next_at) == (None, item.due_at)


async def _s47_twice(s, procedure) -> tuple[Discussion, Discussion]:
    """Discussion 1 decides S47 on Mon 2 March; discussion 2 decides it again on Mon 9 March."""
    t = await team(s)
    first = await discussion(s, chair=t.chair, convened_at=london(2026, 3, 1, 10, 0))
    first.held_on, first.state = date(2026, 3, 2), "signed_off"
    second = Discussion(**_copy(first), number=2, previous_id=first.id, convened_at=london(2026, 3, 6, 9, 0))
    second.held_on, second.state = date(2026, 3, 9), "decided"
    s.add(second)
    await s.flush()
    await one_child(s, second)
    for d in (first, second):
        s.add(
            Decision(
                discussion_id=d.id,
                child_id=d.id,
                outcome="s47_joint",
                reasons="r",
                risks="k",
                decided_by_id=t.chair.id,
            )
        )
    await s.flush()
    await refresh(s, second, london(2026, 3, 9, 12, 0), procedure)
    return first, second


async def test_a_further_discussion_that_decides_s47_again_does_not_restart_the_conference_clock(db):
    async with db.session() as s:
        first, second = await _s47_twice(s, PROCEDURE)
        # One conference per series, counted from the first discussion that decided S47 (2 March).
        assert (await items(s, first))["icpc", ""].due_at == london(2026, 3, 23, 23, 59, 59)
        assert ("icpc", "") not in await items(s, second)


async def test_a_council_can_count_the_conference_from_the_last_discussion_that_decided_s47(db):
    last = PROCEDURE.model_copy(
        update={"timescales": PROCEDURE.timescales.model_copy(update={"icpc_counted_from": "last"})}
    )
    async with db.session() as s:
        first, _ = await _s47_twice(s, last)
        # 15 working days from Monday 9 March: Monday 30 March.
        assert (await items(s, first))["icpc", ""].due_at == london(2026, 3, 30, 23, 59, 59)
