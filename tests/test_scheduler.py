"""The reminders engine: what goes to whom and when, in London local time, on SQLite and PostgreSQL.

The multi-process proofs (two engines, a killed engine, a flaky receiver) are at the end.
"""

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from sqlalchemy import func, insert, select

from bot.delivery import Router
from bot.scheduler import Scheduler
from dialogs.cards_json import card_from_dict
from dialogs.engine import Dialogs
from dialogs.model import Actor, TargetKind, Turn, TurnKind
from dialogs.reminders import advance_due_items, recipient_key
from storage import claims, migrate, outbox
from storage.models import AuditEvent, Decision, Discussion, DueItem, Outbox, OutcomeTold, RecordVersion
from storage.types import utcnow
from tests.conftest import POSTGRES_URL, REPO, _pg, pg_database
from tests.reminder_fixtures import (
    CHILD,
    CONCERN,
    NATION,
    PROCEDURE,
    TZ,
    RecordingSurface,
    discussion,
    invite,
    items,
    local,
    london,
    person,
    refresh,
    team,
    to,
    with_reminders,
)


def _scheduler(db, surface, procedure=PROCEDURE, **kw) -> Scheduler:
    router = Router()
    router.add(surface)
    return Scheduler(
        db, procedure, router, now=lambda: None, tz=TZ, nation=NATION, interval=30, lease=60, **kw
    )


async def _ticks(
    scheduler: Scheduler, surface: RecordingSurface, start: datetime, end: datetime, every: timedelta
):
    at = start
    while at <= end:
        surface.at = at
        await scheduler.tick(at)
        at += every


async def _held_friday(db, procedure=PROCEDURE, **kw):
    """A day discussion held on Friday 27 March 2026: its record is due by the end of Monday 30th."""
    async with db.session() as s:
        t = await team(s)
        d = await discussion(s, chair=t.chair, convened_at=london(2026, 3, 26, 10, 0), **kw)
        d.held_on, d.state = date(2026, 3, 27), "decided"
        s.add(
            Decision(
                discussion_id=d.id,
                child_id=d.id,
                outcome="no_s47",
                reasons=CONCERN,
                risks=CONCERN,
                decided_by_id=t.chair.id,
            )
        )
        await s.flush()
        await refresh(s, d, london(2026, 3, 27, 15, 0), procedure)
    return t, d


async def _assert_no_case_details(db) -> None:
    async with db.session() as s:
        cards = (await s.execute(select(Outbox.card))).scalars().all()
    assert cards, "nothing was queued"
    dumped = json.dumps(cards)
    assert CHILD not in dumped and "bruises" not in dumped


def _by(surface, title_start: str):
    return [(at, c) for at, c in surface.log if c.title.startswith(title_start)]


async def test_reminders_land_at_the_local_hour_across_the_march_clock_change(db):
    t, d = await _held_friday(db)
    surface = RecordingSurface()
    scheduler = _scheduler(db, surface)
    # Tick every 30 minutes from Saturday to Tuesday morning, across the change to BST on Sunday 29th.
    await _ticks(
        scheduler, surface, london(2026, 3, 28, 0, 0), london(2026, 3, 31, 6, 0), timedelta(minutes=30)
    )

    lead = _by(surface, "Reminder: ")
    assert {to(c) for _, c in lead} == {("direct", t.chair.id)}
    assert [local(at).strftime("%a %H:%M") for at, _ in lead] == [
        "Mon 00:00",
        "Mon 00:00",
    ]  # due 23:59:59 Sun
    morning = _by(surface, "Due today: ")
    assert len(morning) == 2  # the record and the outcome notification
    for at, card in morning:
        # 08:30 BST is 07:30 UTC: a reminder computed in UTC (or GMT) would come an hour late.
        assert local(at).strftime("%a %d %b %H:%M %Z") == "Mon 30 Mar 08:30 BST"
        assert at == datetime.fromisoformat("2026-03-30T07:30:00+00:00")
        assert card.facts == (("Case", "CR-1001"), ("Deadline", "end of Mon 30 Mar 2026"))
        assert [b.action for b in card.buttons] == ["review", "discussion.open", "due.snooze"]
        assert card.buttons[2].value == f"{d.id}:{card.key.split(':')[1]}"
        assert "Sent late" not in card.text
    passed = _by(surface, "Deadline passed: ")
    assert [(local(at).strftime("%a %H:%M"), to(c)) for at, c in passed] == [
        ("Tue 00:00", ("direct", t.chair.id))
    ] * 2
    assert all("due.missed_reason" in {b.action for b in c.buttons} for _, c in passed)
    escalations = _by(surface, "Escalation: ")
    assert [(local(at).strftime("%a %H:%M"), to(c)) for at, c in escalations] == [
        ("Tue 02:00", ("direct", t.manager.id))
    ] * 2
    # Each moment once, nothing else for the chair or the manager (the duty place gets the handover).
    assert len([c for _, c in surface.log if c.target.kind == TargetKind.DIRECT]) == 8
    for _, card in surface.log:
        assert CHILD not in card.preview and "bruises" not in card.text + card.preview
    await _assert_no_case_details(db)


async def test_morning_reminder_at_the_local_hour_across_the_october_clock_change(db):
    async with db.session() as s:
        t = await team(s)
        d = await discussion(s, chair=t.chair, convened_at=london(2026, 10, 20, 10, 0))
        d.held_on, d.state = date(2026, 10, 20), "decided"
        from storage.models import Action

        s.add(
            Action(
                discussion_id=d.id,
                description=CONCERN,
                owner_id=t.police.id,
                owner_agency="police",
                due_on=date(2026, 10, 26),
            )
        )
        await s.flush()
        await refresh(s, d, london(2026, 10, 21, 12, 0))
        for item in (await items(s, d)).values():  # only the action matters here
            if item.kind != "action":
                item.state, item.next_at = "met", None
    surface = RecordingSurface()
    await _ticks(
        _scheduler(db, surface),
        surface,
        london(2026, 10, 24, 12, 0),
        london(2026, 10, 26, 12, 0),
        timedelta(minutes=30),
    )
    ((at, card),) = _by(surface, "Due today: ")
    assert to(card) == ("direct", t.police.id)
    # Monday 26 October is GMT again: 08:30 local is 08:30 UTC, not 07:30.
    assert local(at).strftime("%a %d %b %H:%M %Z") == "Mon 26 Oct 08:30 GMT"
    assert at == datetime.fromisoformat("2026-10-26T08:30:00+00:00")
    ((lead_at, _),) = _by(surface, "Reminder: ")
    assert local(lead_at).strftime("%a %H:%M %Z") == "Mon 00:00 GMT"  # 24 local hours before 23:59:59 Monday


async def test_a_process_that_was_down_catches_up_once_and_marks_it_late(db):
    t, d = await _held_friday(db)
    surface = RecordingSurface()
    scheduler = _scheduler(db, surface)
    surface.at = london(2026, 3, 31, 10, 0)  # nothing ran from Friday afternoon until Tuesday 10:00
    report = await scheduler.tick(surface.at)
    assert (report.claimed, report.queued, report.handover, report.sent) == (2, 4, True, 5)
    assert _by(surface, "Reminder") == [] and _by(surface, "Due today") == []  # stale by now
    passed, escalations = _by(surface, "Deadline passed: "), _by(surface, "Escalation: ")
    assert len(passed) == 2 and len(escalations) == 2
    for _, card in passed + escalations:
        assert "_Sent late: this was due at " in card.text
    async with db.session() as s:
        rows = (await s.execute(select(Outbox).where(Outbox.kind == "reminder"))).scalars().all()
        assert len(rows) == 4 and all(r.late and r.status == "sent" for r in rows)
        query = select(AuditEvent).where(AuditEvent.actor == "system", AuditEvent.action != "audit.anchor")
        audit = (await s.execute(query)).scalars().all()
        assert sorted(e.action for e in audit) == ["due.escalated", "due.overdue"]
        assert all(e.discussion_id == d.id and len(e.detail["items"]) == 2 for e in audit)
    again = await scheduler.tick(london(2026, 3, 31, 10, 30))
    assert (again.claimed, again.queued) == (0, 0)


async def test_escalation_goes_to_duty_when_configured_or_when_there_is_no_manager(db):
    procedure = with_reminders(escalate_to="duty_channel")
    t, d = await _held_friday(db, procedure)
    surface = RecordingSurface()
    scheduler = _scheduler(db, surface, procedure)
    surface.at = london(2026, 3, 31, 10, 0)  # in office hours
    await scheduler.tick(surface.at)
    assert {to(c) for _, c in _by(surface, "Escalation: ")} == {("channel", "duty")}


async def test_escalation_at_night_without_a_manager_goes_to_the_out_of_hours_place(db):
    t, d = await _held_friday(db)
    async with db.session() as s:
        chair = await s.get(type(t.chair), t.chair.id)
        chair.manager_id = None
    surface = RecordingSurface()
    scheduler = _scheduler(db, surface)
    surface.at = london(2026, 3, 31, 2, 0)  # 02:00: the duty place is closed
    await scheduler.tick(surface.at)
    assert {to(c) for _, c in _by(surface, "Escalation: ")} == {("channel", "out_of_hours")}


async def test_out_of_hours_copies_go_to_the_out_of_hours_team_for_urgent_deadlines(db):
    convened = london(2026, 3, 12, 16, 0)  # Thursday 16:00
    async with db.session() as s:
        t = await team(s)
        d = await discussion(s, chair=t.chair, convened_at=convened, proposed_at=london(2026, 3, 12, 18, 0))
        await invite(s, d, t.police, invited_at=convened)
        await refresh(s, d, convened)
    surface = RecordingSurface()
    scheduler = _scheduler(db, surface)
    await _ticks(scheduler, surface, convened, london(2026, 3, 12, 17, 30), timedelta(minutes=30))
    sent = sorted(
        (local(at).strftime("%H:%M"), c.title, to(c)) for at, c in surface.log if c.target.place != "duty"
    )
    assert sent == sorted(
        [
            # 17:00 is out of hours (office hours end at 17:00, exclusive): the invitee and the OOH team.
            ("17:00", "Please answer the invitation", ("direct", t.police.id)),
            ("17:00", "Out of hours: please answer the invitation", ("channel", "out_of_hours")),
            ("17:30", "Quorum not confirmed", ("direct", t.chair.id)),
            ("17:30", "Out of hours: quorum not confirmed", ("channel", "out_of_hours")),
        ]
    )


def test_bank_holidays_and_weekends_are_out_of_hours():
    assert PROCEDURE.out_of_hours_at(london(2026, 4, 6, 11, 0), tz=TZ, nation=NATION)  # Easter Monday
    assert not PROCEDURE.out_of_hours_at(london(2026, 4, 7, 11, 0), tz=TZ, nation=NATION)
    assert PROCEDURE.out_of_hours_at(london(2026, 4, 11, 11, 0), tz=TZ, nation=NATION)  # Saturday
    assert PROCEDURE.out_of_hours_at(london(2026, 4, 7, 8, 59), tz=TZ, nation=NATION)


async def test_handover_to_duty_at_the_start_of_the_working_day(db):
    t, day = await _held_friday(db, case_ref="CR-DAY")
    async with db.session() as s:
        ooh_chair = await s.get(type(t.chair), t.chair.id)
        night = await discussion(
            s, chair=ooh_chair, convened_at=london(2026, 3, 28, 22, 0), case_ref="CR-NIGHT", out_of_hours=True
        )
        night.held_on, night.state = date(2026, 3, 28), "decided"
        s.add(
            Decision(
                discussion_id=night.id,
                child_id=night.id,
                outcome="s47_joint",
                reasons=CONCERN,
                risks=CONCERN,
                decided_by_id=t.chair.id,
            )
        )
        await s.flush()
        await refresh(s, night, london(2026, 3, 28, 23, 0))
    surface = RecordingSurface()
    scheduler = _scheduler(db, surface)
    await _ticks(
        scheduler, surface, london(2026, 3, 30, 8, 0), london(2026, 3, 30, 11, 0), timedelta(minutes=15)
    )
    handovers = [(at, c) for at, c in surface.log if c.title.startswith("Out-of-hours handover")]
    assert len(handovers) == 1
    at, card = handovers[0]
    assert (local(at).strftime("%a %H:%M %Z"), to(card)) == ("Mon 09:00 BST", ("channel", "duty"))
    assert "- CR-NIGHT (discussion 1): decided: S47 enquiry (joint with police" in card.text
    assert "CR-DAY" not in card.text.split("*Due today:*")[0]  # held in office hours
    due_today = card.text.split("*Due today:*")[1]
    assert "- CR-DAY: record to be circulated, by end of Mon 30 Mar 2026" in due_today
    assert "- CR-NIGHT: record to be circulated" in due_today
    assert card.facts == (("Held out of hours", "1"), ("Due today", "4"), ("Overdue", "0"))
    assert card.preview == "Out-of-hours handover: 1 held, 4 due today"
    assert CHILD not in card.text and "bruises" not in card.text

    await _ticks(
        scheduler, surface, london(2026, 3, 31, 9, 0), london(2026, 3, 31, 9, 0), timedelta(minutes=15)
    )
    tuesday = [c for _, c in surface.log if c.title.startswith("Out-of-hours handover")][1]
    assert "CR-NIGHT (discussion" not in tuesday.text  # handed over on Monday already
    assert tuesday.facts[2] == ("Overdue", "4")


async def _sign_off_and_tell_everyone(db, t, d, now) -> None:
    """The acts that end the record and outcome deadlines of the Friday discussion."""
    async with db.session() as s:
        circulated = await s.get(Discussion, d.id)
        circulated.state = "signed_off"
        s.add(
            RecordVersion(
                discussion_id=d.id,
                child_id=d.id,
                version=1,
                body="-",
                signed_off_by_id=t.chair.id,
                signed_off_at=now,
            )
        )
        for agency in ("education", "police", "health"):
            s.add(
                OutcomeTold(
                    discussion_id=d.id,
                    agency=agency,
                    told_by="x",
                    how="phone",
                    told_at=now,
                    recorded_by_id=t.chair.id,
                )
            )
        await s.flush()
        await refresh(s, circulated, now)


async def test_a_queued_reminder_whose_deadline_ends_before_it_is_sent_is_dropped(db):
    """Reminders stop the moment a deadline ends, even one already queued (waiting behind a busy platform)."""
    t, d = await _held_friday(db)
    now, real = london(2026, 3, 30, 8, 30), utcnow()
    async with db.session() as s:
        ids = await claims.claim_due_items(
            s, worker="w1", now=now, real_now=real, lease_until=real + timedelta(minutes=1), limit=10
        )
        queued = await advance_due_items(
            s, PROCEDURE, ids, worker="w1", now=now, tz=TZ, nation=NATION, late_after=timedelta(minutes=5)
        )
    assert queued == 2  # "Due today" for the record and for the outcome, not sent yet
    await _sign_off_and_tell_everyone(db, t, d, now)
    surface = RecordingSurface()
    report = await _scheduler(db, surface).drain()
    assert (report.sent, report.dropped, surface.cards) == (0, 2, [])
    async with db.session() as s:
        assert set((await s.execute(select(Outbox.status))).scalars()) == {"dropped"}


async def test_an_item_closed_after_it_was_claimed_is_let_go_unsent(db):
    t, d = await _held_friday(db)
    now, real = london(2026, 3, 30, 8, 30), utcnow()
    async with db.session() as s:
        ids = await claims.claim_due_items(
            s, worker="w1", now=now, real_now=real, lease_until=real + timedelta(minutes=1), limit=10
        )
    assert len(ids) == 2
    await _sign_off_and_tell_everyone(db, t, d, now)  # meanwhile
    async with db.session() as s:
        queued = await advance_due_items(
            s, PROCEDURE, ids, worker="w1", now=now, tz=TZ, nation=NATION, late_after=timedelta(minutes=5)
        )
    assert queued == 0
    async with db.session() as s:
        rows = (await s.execute(select(DueItem).where(DueItem.id.in_(ids)))).scalars().all()
        assert {(r.state, r.claimed_by) for r in rows} == {("met", None)}
        assert (await s.execute(select(Outbox))).first() is None


# --- the turns: snooze and the missed-deadline reason ---------------------------------------------


def _engine(db, now):
    return Dialogs(db, PROCEDURE, nation=NATION, tz=TZ, now=lambda: now)


def _turn(person, kind, name, item=None, **fields):
    value = f"{item.discussion_id}:{item.id}" if item is not None else ""
    actor = Actor(person_id=person.id, name=person.display_name, agency=person.agency, role=person.role)
    return Turn(actor=actor, kind=kind, name=name, value=value, fields=fields, channel="playground")


async def _answer(engine, turn):
    """The one card only the person acting sees."""
    (card,) = (await engine.handle(turn)).answers
    return card


async def test_snooze_asks_a_reason_holds_reminders_back_and_is_audited(db):
    t, d = await _held_friday(db)
    async with db.session() as s:
        record = (await items(s, d))["record_circulation", ""]
    now = london(2026, 3, 30, 8, 45)
    engine = _engine(db, now)

    refused = await _answer(engine, _turn(t.police, TurnKind.BUTTON, "due.snooze", record))
    assert refused.text.startswith("This reminder is for someone else") and refused.form is None

    form_card = await _answer(engine, _turn(t.chair, TurnKind.BUTTON, "due.snooze", record))
    assert form_card.target.kind == TargetKind.EPHEMERAL and form_card.form.id == "due.snooze"
    assert form_card.form.context == f"{d.id}:{record.id}"
    assert [o.label for o in form_card.form.inputs[0].options] == [
        "In 15 minutes",
        "In 1 hour",
        "In 4 hours",
        "Tomorrow 09:00",
    ]

    again = await _answer(engine, _turn(t.chair, TurnKind.FORM, "due.snooze", record, until="60", reason=" "))
    assert again.form.inputs[1].error and again.form.inputs[0].value == "60"  # nothing entered is lost

    done = await _answer(
        engine,
        _turn(t.chair, TurnKind.FORM, "due.snooze", record, until="60", reason="in a strategy meeting"),
    )
    assert done.title == "Case CR-1001: reminder snoozed"
    async with db.session() as s:
        item = await s.get(DueItem, record.id)
        assert item.snoozed_until == now + timedelta(hours=1) and item.state == "open"  # never an end
        entry = (await s.execute(select(AuditEvent).where(AuditEvent.action == "due.snoozed"))).scalar_one()
        assert entry.actor == f"person:{t.chair.id}" and entry.detail["reason"] == "in a strategy meeting"

    surface = RecordingSurface()
    scheduler = _scheduler(db, surface)
    surface.at = now
    await scheduler.tick(now)  # the 08:30 reminder falls inside the snooze: held back
    assert [c.title for c in surface.cards if c.key and c.key.startswith(f"due:{record.id}:")] == []
    assert _by(surface, "Due today: ")  # the outcome notification, not snoozed, did come
    surface.at = now + timedelta(hours=1)
    await scheduler.tick(surface.at)
    mine = [c for c in surface.cards if c.key and c.key.startswith(f"due:{record.id}:")]
    assert [c.title for c in mine] == ["Reminder again: record to be circulated"]


async def test_snooze_until_tomorrow_morning_local_time(db):
    t, d = await _held_friday(db)
    async with db.session() as s:
        record = (await items(s, d))["record_circulation", ""]
    engine = _engine(db, london(2026, 3, 28, 20, 0))  # Saturday evening, GMT; Sunday is BST
    await engine.handle(
        _turn(t.chair, TurnKind.FORM, "due.snooze", record, until="tomorrow", reason="weekend")
    )
    async with db.session() as s:
        assert (await s.get(DueItem, record.id)).snoozed_until == london(2026, 3, 29, 9, 0)


async def test_the_chair_says_why_a_deadline_is_late_and_it_stays_open_until_done(db):
    t, d = await _held_friday(db)
    async with db.session() as s:
        record = (await items(s, d))["record_circulation", ""]
    engine = _engine(db, london(2026, 3, 31, 10, 0))
    form_card = await _answer(engine, _turn(t.chair, TurnKind.BUTTON, "due.missed_reason", record))
    assert form_card.form.id == "due.missed_reason"
    assert [(i.id, i.required) for i in form_card.form.inputs] == [("will", True), ("reason", True)]
    again = await _answer(engine, _turn(t.chair, TurnKind.FORM, "due.missed_reason", record, will="still"))
    assert again.form is not None and again.form.inputs[1].error and again.form.inputs[0].value == "still"
    refused = await _answer(engine, _turn(t.manager, TurnKind.FORM, "due.missed_reason", record, reason="x"))
    assert refused.text == "Only the chair of CR-1001 can do that."
    reason = "the police minutes came late"
    ok = await _answer(
        engine, _turn(t.chair, TurnKind.FORM, "due.missed_reason", record, will="still", reason=reason)
    )
    assert ok.text.startswith("Recorded. The deadline stays open")
    async with db.session() as s:
        item = await s.get(DueItem, record.id)
        assert (item.state, item.reason) == ("open", reason)
        assert (await s.execute(select(AuditEvent.action))).scalars().all() == ["due.reason"]


async def test_the_chair_says_a_deadline_will_not_be_met_and_it_ends_missed(db):
    t, d = await _held_friday(db)
    async with db.session() as s:
        record = (await items(s, d))["record_circulation", ""]
    engine = _engine(db, london(2026, 3, 31, 10, 0))
    await engine.handle(
        _turn(t.chair, TurnKind.FORM, "due.missed_reason", record, will="not", reason="convened in error")
    )
    async with db.session() as s:
        item = await s.get(DueItem, record.id)
    assert (item.state, item.reason, item.next_at) == ("missed", "convened in error", None)
    surface = RecordingSurface()
    await _scheduler(db, surface).tick(london(2026, 3, 31, 13, 0))  # its escalation was due at 02:00
    assert [c for c in surface.cards if c.key and c.key.startswith(f"due:{record.id}:")] == []


async def test_the_due_command_lists_what_the_person_must_do(db):
    t, d = await _held_friday(db)
    engine = _engine(db, london(2026, 3, 31, 10, 0))
    card = await _answer(engine, _turn(t.chair, TurnKind.COMMAND, "due"))
    assert "- CR-1001: record to be circulated, by end of Mon 30 Mar 2026 *(overdue)*" in card.text
    none = await _answer(engine, _turn(t.health, TurnKind.COMMAND, "due"))
    assert none.text == "Nothing is due for you."


# --- the operators' commands ---------------------------------------------------------------------


def _cli(*args, db_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db_path}", "SCHEDULER_ENABLED": "false"}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=REPO, env=env, capture_output=True, text=True
    )


async def test_cli_due_lists_due_and_overdue_items_without_case_details(sqlite_db):
    t, d = await _held_friday(sqlite_db)
    path = sqlite_db.url.removeprefix("sqlite:///")
    out = _cli("due", "--at", "2026-03-30T10:00", "--json", db_path=path)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [(r["case_ref"], r["kind"], r["due_at"], r["status"], r["recipient_id"]) for r in rows] == [
        ("CR-1001", "record_circulation", "2026-03-30T23:59:59+01:00", "due today", t.chair.id),
        ("CR-1001", "outcome_notification", "2026-03-30T23:59:59+01:00", "due today", t.chair.id),
    ]
    table = _cli("due", "--at", "2026-03-31T10:00", db_path=path)
    assert table.returncode == 0
    assert "CR-1001  Record to be circulated" in table.stdout and "overdue" in table.stdout
    assert CHILD not in out.stdout + table.stdout and "bruises" not in out.stdout + table.stdout
    assert "Nothing due" in _cli("due", "--at", "2026-03-27T16:00", db_path=path).stdout
    gap = _cli("due", "--at", "2026-03-29T01:30", db_path=path)  # never happened: the clocks went forward
    assert gap.returncode == 2 and "does not exist" in gap.stderr


async def test_cli_scheduler_tick_runs_one_sweep_at_the_given_time(sqlite_db):
    await _held_friday(sqlite_db)
    path = sqlite_db.url.removeprefix("sqlite:///")
    early = _cli("scheduler", "tick", "--at", "2026-03-30T08:29", db_path=path)
    assert early.returncode == 0, early.stderr
    assert "claimed 2 due item(s), queued 2 message(s)" in early.stdout  # the lead reminders, late
    tick = _cli("scheduler", "tick", "--at", "2026-03-30T08:30", db_path=path)
    assert tick.returncode == 0, tick.stderr
    assert "claimed 2 due item(s), queued 2 message(s)" in tick.stdout  # the 08:30 reminders
    # Only the playground is configured: its messages live in the serving process, which sends them.
    assert "the serving process sends" in tick.stdout
    async with sqlite_db.session() as s:
        rows = (await s.execute(select(Outbox).order_by(Outbox.id))).scalars().all()
    assert [r.card["title"] for r in rows] == [
        "Reminder: record to be circulated",
        "Reminder: referrer and absent agencies to be told the outcome",
    ] + [
        "Due today: record to be circulated",
        "Due today: referrer and absent agencies to be told the outcome",
    ]
    assert [r.late for r in rows] == [True, True, False, False] and {r.status for r in rows} == {"pending"}


# --- several engines, each in its own process, on one PostgreSQL database ------------------------

WORKER = Path(__file__).with_name("scheduler_worker.py")
N_ITEMS = 1000  # each an overdue acknowledgement: one card to the person who has not acknowledged


@pytest.fixture
async def shared_pg():
    """A migrated schema of its own in the `test` database, shared by the worker processes."""
    schema = f"t_sched_{uuid.uuid4().hex[:10]}"
    await _pg(f"CREATE SCHEMA {schema}")
    database = pg_database(schema)
    await migrate.upgrade(database)
    yield schema, database
    await database.dispose()
    await _pg(f"DROP SCHEMA {schema} CASCADE")


async def _seed(db, n: int = N_ITEMS) -> None:
    """`n` acknowledgements overdue by about an hour, across 10 discussions and 100 people."""
    async with db.session() as s:
        chairs = [await person(s, f"Chair {i}") for i in range(10)]
        people = [await person(s, f"Person {i}", agency="police", role="police_officer") for i in range(100)]
        ds = [
            await discussion(s, chair=c, convened_at=utcnow() - timedelta(days=3), case_ref=f"CR-{i:03}")
            for i, c in enumerate(chairs)
        ]
        base = utcnow() - timedelta(hours=1)
        rows = []
        for i in range(n):
            due = base + timedelta(seconds=i)
            rows.append(
                {
                    "discussion_id": ds[i % 10].id,
                    "kind": "acknowledgement",
                    "subject": str(i),
                    "recipient_id": people[i % 100].id,
                    "due_at": due,
                    "escalate_at": due + timedelta(hours=2),
                    "next_at": due,
                    "state": "open",
                    "stage": "pending",
                    "updated_at": base,
                }
            )
        await s.execute(insert(DueItem), rows)
        # Today's handover counts as sent already, so that in office hours the workers send reminders only.
        today = utcnow().astimezone(ZoneInfo(TZ)).date().isoformat()
        handover = {"kind": "handover", "recipient_key": "place:duty", "card": {}, "status": "sent"}
        await s.execute(insert(Outbox), [{**handover, "dedupe_key": f"handover:{today}"}])


class Receiver:
    """The stand-in delivery target: records each card it accepts (answers 200), in order.

    `flaky`: answer the first so many requests 429 (Retry-After: 1) and 500 in turn.
    `hold_worker`/`hold_after`: never answer that worker's request after it has had so many accepted.
    """

    def __init__(self, *, flaky: int = 0, hold_worker: str | None = None, hold_after: int = 0) -> None:
        self.accepted: list[dict] = []
        self.refused = Counter()
        self.flaky, self.hold_worker, self.hold_after = flaky, hold_worker, hold_after
        self.held = asyncio.Event()
        self.release = asyncio.Event()
        self.held_key: str | None = None
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        if self.flaky > 0:
            self.flaky -= 1
            if self.flaky % 2:
                self.refused[429] += 1
                return web.json_response({"ok": False}, status=429, headers={"Retry-After": "1"})
            self.refused[500] += 1
            return web.json_response({"ok": False}, status=500)
        mine = sum(1 for a in self.accepted if a["worker"] == body["worker"])
        if body["worker"] == self.hold_worker and mine >= self.hold_after and not self.held.is_set():
            self.held_key = body["key"]
            self.held.set()
            await self.release.wait()  # the sender is killed meanwhile: it never learns of an answer
            return web.json_response({"ok": False}, status=503)
        card = card_from_dict(body["card"])
        self.accepted.append({"worker": body["worker"], "key": body["key"], "to": recipient_key(card.target)})
        return web.json_response({"ok": True})

    async def __aenter__(self):
        app = web.Application()
        app.router.add_post("/deliver", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/deliver"
        return self

    async def __aexit__(self, *exc):
        self.release.set()
        await self.runner.cleanup()


class Workers:
    """Scheduler processes (tests/scheduler_worker.py), started together when `go()` is called."""

    def __init__(self, schema: str, receiver: Receiver) -> None:
        self.schema, self.receiver = schema, receiver
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, *extra: str) -> subprocess.Popen:
        cmd = [sys.executable, str(WORKER), "--url", POSTGRES_URL, "--schema", self.schema]
        cmd += ["--receiver", self.receiver.url, "--worker", name, *extra]
        proc = subprocess.Popen(
            cmd, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        self.procs[name] = proc
        return proc

    async def ready(self, *names: str) -> None:
        for name in names:
            line = await asyncio.to_thread(self.procs[name].stdout.readline)
            assert line.strip() == "ready", f"worker {name} did not start"

    def go(self, *names: str) -> None:
        for name in names:
            self.procs[name].stdin.write("go\n")
            self.procs[name].stdin.flush()

    async def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            await asyncio.to_thread(proc.wait, 30)


async def _wait_until_all_sent(db, receiver: Receiver, expected: int, limit: float = 120.0) -> None:
    """Poll until every due item has moved on and every queued card was accepted and marked sent."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while loop.time() < deadline:
        async with db.session() as s:
            waiting = (
                await s.execute(select(func.count()).select_from(DueItem).where(DueItem.stage == "pending"))
            ).scalar_one()
            counts = await outbox.counts(s)
        if waiting == 0 and counts.get("sent", 0) >= expected and not counts.get("pending"):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"not everything was sent: {waiting} items waiting, outbox {counts}")


async def _assert_each_card_accepted_exactly_once(db, receiver: Receiver) -> list[Outbox]:
    async with db.session() as s:
        # The reminders only: in office hours the day's handover is queued (and sent) too.
        query = select(Outbox).where(Outbox.kind == "reminder").order_by(Outbox.id)
        rows = (await s.execute(query)).scalars().all()
        items_left = (await s.execute(select(DueItem).where(DueItem.claimed_by.is_not(None)))).scalars().all()
    assert len(rows) == N_ITEMS and {r.status for r in rows} == {"sent"}
    assert items_left == []
    got = Counter(a["key"] for a in receiver.accepted if a["to"] != "place:duty")
    doubled = [k for k, n in got.items() if n > 1]
    assert doubled == []
    assert set(got) == {r.dedupe_key for r in rows}  # nothing lost
    return rows


async def test_two_engines_deliver_every_reminder_exactly_once(shared_pg):
    schema, db = shared_pg
    await _seed(db)
    async with Receiver() as receiver:
        workers = Workers(schema, receiver)
        for name in ("engine-a", "engine-b"):
            workers.start(name)
        await workers.ready("engine-a", "engine-b")
        workers.go("engine-a", "engine-b")
        try:
            await _wait_until_all_sent(db, receiver, N_ITEMS)
        finally:
            await workers.stop_all()
        await _assert_each_card_accepted_exactly_once(db, receiver)
        # Both took part: the work was shared, not done by one while the other idled.
        assert {a["worker"] for a in receiver.accepted} == {"engine-a", "engine-b"}


async def test_an_engine_killed_mid_batch_loses_and_doubles_nothing(shared_pg):
    schema, db = shared_pg
    await _seed(db)
    async with Receiver() as receiver:
        workers = Workers(schema, receiver)
        # Engine A kills itself (SIGKILL) after claiming its 3rd batch of 100 due items, before handling them.
        a = workers.start("engine-a", "--crash-at-batch", "3", "--lease", "2")
        await workers.ready("engine-a")
        workers.go("engine-a")
        assert await asyncio.to_thread(a.wait, 60) == -signal.SIGKILL
        async with db.session() as s:
            held = (await s.execute(select(DueItem).where(DueItem.claimed_by == "engine-a"))).scalars().all()
            advanced = (await s.execute(select(func.count()).where(DueItem.stage != "pending"))).scalar_one()
        assert len(held) == 100 and advanced == 200  # two batches done, the third claimed and abandoned
        assert receiver.accepted == []
        workers.start("engine-b", "--lease", "2")
        await workers.ready("engine-b")
        workers.go("engine-b")
        try:
            await _wait_until_all_sent(db, receiver, N_ITEMS)
        finally:
            await workers.stop_all()
        await _assert_each_card_accepted_exactly_once(db, receiver)
        assert {a["worker"] for a in receiver.accepted} == {"engine-b"}


async def test_an_engine_killed_while_sending_leaves_the_rest_to_the_other(shared_pg):
    """Engine A sends one lane at a time; the receiver keeps A's 30th request unanswered and the test
    kills A while it waits. The message was never accepted, A's claimed rows come back after the lease,
    and engine B sends them. (A kill in the milliseconds after a platform accepted a message and
    before the row is marked sent would send that one message twice: see bot/scheduler.py.)"""
    schema, db = shared_pg
    await _seed(db)
    async with Receiver(hold_worker="engine-a", hold_after=30) as receiver:
        workers = Workers(schema, receiver)
        a = workers.start("engine-a", "--lanes", "1", "--lease", "3")
        await workers.ready("engine-a")
        workers.go("engine-a")
        await asyncio.wait_for(receiver.held.wait(), 60)
        a.send_signal(signal.SIGKILL)
        await asyncio.to_thread(a.wait, 30)
        async with db.session() as s:
            claimed = (await s.execute(select(Outbox).where(Outbox.claimed_by == "engine-a"))).scalars().all()
        assert [r.dedupe_key for r in claimed] == [receiver.held_key]  # A died holding the message in flight
        workers.start("engine-b", "--lease", "3")
        await workers.ready("engine-b")
        workers.go("engine-b")
        try:
            await _wait_until_all_sent(db, receiver, N_ITEMS)
        finally:
            await workers.stop_all()
        await _assert_each_card_accepted_exactly_once(db, receiver)
        by = Counter(a["worker"] for a in receiver.accepted)
        assert by["engine-a"] == 30 and by["engine-b"] == N_ITEMS - 30
        assert next(a["worker"] for a in receiver.accepted if a["key"] == receiver.held_key) == "engine-b"


async def test_after_429s_and_500s_everything_arrives_in_order_per_recipient(shared_pg):
    schema, db = shared_pg
    await _seed(db)
    async with Receiver(flaky=80) as receiver:
        workers = Workers(schema, receiver)
        for name in ("engine-a", "engine-b"):
            # A lease of 9 s gives each send 3 s (a third of it) before it counts as timed out: with
            # 1 s, a loaded machine's slow answer was taken for a failure after the receiver had
            # accepted it, and sent again (the known window; this test is about 429s and 500s).
            workers.start(name, "--lease", "9")
        await workers.ready("engine-a", "engine-b")
        workers.go("engine-a", "engine-b")
        try:
            await _wait_until_all_sent(db, receiver, N_ITEMS)
        finally:
            await workers.stop_all()
        rows = await _assert_each_card_accepted_exactly_once(db, receiver)
        assert receiver.refused == {429: 40, 500: 40}
        assert sum(r.attempts for r in rows) == 80  # each refusal was retried
        # Per recipient, the order of arrival is the order in which the cards were queued.
        queued, arrived = defaultdict(list), defaultdict(list)
        for r in rows:
            queued[r.recipient_key].append(r.dedupe_key)
        for a in receiver.accepted:
            arrived[a["to"]].append(a["key"])
        assert arrived == queued
        assert len(queued) == 100


async def test_a_place_no_surface_reaches_falls_back_to_the_discussions_thread(db):
    """An escalation to a duty channel nobody configured is posted in the thread, not lost."""
    from dialogs.cards_json import card_to_dict
    from dialogs.model import Card, Target
    from storage import outbox

    t, d = await _held_friday(db)
    surface = RecordingSurface(reach=(TargetKind.DIRECT, TargetKind.THREAD, TargetKind.MAIN_POST))
    escalation = Card(Target(TargetKind.CHANNEL, place="duty", discussion_id=d.id), "Escalation: CR-1001")
    async with db.session() as s:
        await outbox.add(s, [outbox.Message(card_to_dict(escalation), "place:duty", discussion_id=d.id)])
    await _scheduler(db, surface).drain()
    assert [(c.target.kind, c.target.discussion_id, c.title) for c in surface.cards] == [
        (TargetKind.THREAD, d.id, "Escalation: CR-1001")
    ]
