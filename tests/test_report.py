"""The figures for a period (dialogs.report_query), on SQLite and PostgreSQL, against counts worked
out by hand from a known set of discussions written straight into the real tables.

The set (first quarter of 2026, Europe/London, England's bank holidays):
- D1, held Mon 5 Jan, in hours: siblings LL-1 (S47 joint; conference held Tue 20 Jan, 11 working
  days: band 11-15) and LL-2 (no S47). Police in the thread, health by phone (their words entered by
  the chair), a paediatrician in the meeting, the referrer invited but silent.
- D2, held Wed 7 Jan, out of hours (the chair overrode the worked-out hours): LL-6 (S47 joint;
  conference held Fri 13 Feb, 27 working days: band 21+), decided without the quorum ("Police could
  not join before midnight"). The police safeguarding manager declined; the referrer in the thread.
- D3, held Mon 12 Jan, out of hours (as worked out): LL-3 (S47 single agency; conference not
  required, "Enquiry found no need"), decided without the quorum for the same reason as D2.
- D4, held Tue 3 Feb: LL-4 (S47 joint, conference awaited), and LL-5, removed with a reason (their
  decision is not counted). Police absent; health in the meeting.
- D5, convened, never held. D6, held Tue 31 Mar in another council: LL-9 (no S47). D7, held Mon 2
  Mar: LL-4's further discussion (the same child: counted once among the children).
- Deadlines due in January, February and March with every ending, and ones before/after the period,
  withdrawn ones and the bot's own chases, which are never counted.
"""

from dataclasses import dataclass
from datetime import date, datetime

from dialogs.lifecycle import DueKind
from dialogs.procedure import load_procedure
from dialogs.report_model import NO_SUPPRESSION, Ended, Group, How, Month, Reason, Suppress
from dialogs.report_query import Scope, build
from storage.models import Child, Contribution, Decision, Discussion, DueItem, Participant, Person, Series
from tests.reminder_fixtures import NATION, TZ, discussion, london, person

PROCEDURE = load_procedure()
Q1 = Scope(date(2026, 1, 1), date(2026, 3, 31), TZ, NATION)
MADE = london(2026, 4, 1, 9)
OVERRIDE = "Police could not join before midnight"


@dataclass
class Known:
    ids: dict[str, int]  # discussions by name


async def _child(s, d: Discussion, ref: str, child_id: int, **kw) -> Child:
    series = Series(case_ref=ref, opened_at=d.convened_at, **kw.pop("series", {}))
    s.add(series)
    await s.flush()
    child = Child(id=child_id, discussion_id=d.id, series_id=series.id, case_ref=ref, **kw)
    s.add(child)
    await s.flush()
    return child


async def _decide(s, d: Discussion, child: Child, outcome: str, by: Person, override: str | None = None):
    s.add(
        Decision(
            discussion_id=d.id,
            child_id=child.id,
            outcome=outcome,
            reasons="r",
            risks="r",
            decided_by_id=by.id,
            override_unmet="police" if override else None,
            override_reason=override,
        )
    )


def _due(d: Discussion, kind: DueKind, due: datetime, state: str, reason: str | None = None, **kw) -> DueItem:
    return DueItem(discussion_id=d.id, kind=kind.value, due_at=due, state=state, reason=reason, **kw)


async def _take_part(s, d: Discussion, p: Person, status: str, how: str | None = None) -> None:
    s.add(
        Participant(discussion_id=d.id, person_id=p.id, agency=p.agency, role=p.role, status=status, how=how)
    )


async def known_quarter(db) -> Known:
    async with db.session() as s:
        chair = await person(s, "Dana Duty", role="duty_manager")
        police = await person(s, "Pat Police", agency="police", role="police_officer")
        pcsm = await person(s, "Morgan Manager", agency="police", role="police_manager")
        health = await person(s, "Harper Health", agency="health", role="health_professional")
        paed = await person(s, "Pia Paediatrician", agency="health", role="paediatrician")
        referrer = await person(s, "Rory Referrer", agency="education", role="referrer")

        def held(day: date, hh: int = 10) -> dict:
            return dict(started_at=london(day.year, day.month, day.day, hh), held_on=day)

        # D1: two siblings; LL-1's own row is made by the fixture (child id = discussion id).
        d1 = await discussion(
            s, chair=chair, convened_at=london(2026, 1, 5, 9), case_ref="LL-1", **held(date(2026, 1, 5))
        )
        ll1 = await s.get(Child, d1.id)
        s1 = await s.get(Series, d1.series_id)
        s1.icpc_held_on = date(2026, 1, 20)
        ll2 = await _child(s, d1, "LL-2", 1002, position=2)
        await _decide(s, d1, ll1, "s47_joint", chair)
        await _decide(s, d1, ll2, "no_s47", chair)
        await _take_part(s, d1, police, "accepted", "chat")
        await _take_part(s, d1, health, "by_phone", "phone")
        await _take_part(s, d1, paed, "accepted", None)
        await _take_part(s, d1, referrer, "invited")
        s.add(
            Contribution(
                discussion_id=d1.id,
                person_id=health.id,
                agency="health",
                stage="information",
                text="t",
                via="phone_entered_by_chair",
                entered_by_id=chair.id,
            )
        )

        # D2: out of hours by the chair's override, decided without the quorum; band 21+.
        d2 = await discussion(
            s,
            chair=chair,
            convened_at=london(2026, 1, 7, 19),
            case_ref="LL-6",
            out_of_hours=True,
            out_of_hours_detected=False,
            **held(date(2026, 1, 7), 20),
        )
        (await s.get(Series, d2.series_id)).icpc_held_on = date(2026, 2, 13)
        await _decide(s, d2, await s.get(Child, d2.id), "s47_joint", chair, OVERRIDE)
        await _take_part(s, d2, pcsm, "declined")
        await _take_part(s, d2, referrer, "accepted", "chat")

        # D3: out of hours as worked out; conference not required; the same override reason.
        d3 = await discussion(
            s,
            chair=chair,
            convened_at=london(2026, 1, 12, 18),
            case_ref="LL-3",
            out_of_hours=True,
            out_of_hours_detected=True,
            **held(date(2026, 1, 12), 19),
        )
        (await s.get(Series, d3.series_id)).icpc_not_required = True
        await _decide(s, d3, await s.get(Child, d3.id), "s47_single_agency", chair, OVERRIDE)

        # D4: LL-4 awaits the conference; LL-5 was removed (their decision does not count).
        d4 = await discussion(
            s, chair=chair, convened_at=london(2026, 2, 3, 9), case_ref="LL-4", **held(date(2026, 2, 3))
        )
        ll5 = await _child(
            s, d4, "LL-5", 1005, position=2, removed_at=london(2026, 2, 3, 11), removed_reason="x"
        )
        await _decide(s, d4, await s.get(Child, d4.id), "s47_joint", chair)
        await _decide(s, d4, ll5, "no_s47", chair)
        await _take_part(s, d4, police, "absent")
        await _take_part(s, d4, health, "accepted", "meeting")

        # D7: LL-4's further discussion, held in March: one more discussion, the same child.
        d7 = await discussion(
            s,
            chair=chair,
            convened_at=london(2026, 3, 2, 9),
            case_ref="LL-4",
            series_id=d4.series_id,
            number=2,
            previous_id=d4.id,
            **held(date(2026, 3, 2)),
        )
        assert d7.id is not None

        # D5 never held; D6 held in another council.
        d5 = await discussion(s, chair=chair, convened_at=london(2026, 2, 20, 9), case_ref="LL-7")
        await _take_part(s, d5, police, "accepted", "chat")
        d6 = await discussion(
            s, chair=chair, convened_at=london(2026, 3, 31, 9), case_ref="LL-9", **held(date(2026, 3, 31))
        )
        (await s.get(Series, d6.series_id)).council = "elsewhere"
        await _decide(s, d6, await s.get(Child, d6.id), "no_s47", chair)
        await _take_part(s, d6, police, "accepted", "chat")

        s.add_all(
            [
                # The meeting within 24 hours: two met, one late with a reason, one open (D5).
                _due(d1, DueKind.MEETING, london(2026, 1, 6, 9), "met"),
                _due(d2, DueKind.MEETING, london(2026, 1, 8, 19), "met"),
                _due(d3, DueKind.MEETING, london(2026, 1, 13, 18), "late", "Police custody delayed it"),
                _due(d5, DueKind.MEETING, london(2026, 2, 21, 9), "open"),
                # Record circulation: met, late twice for one reason, missed, closed.
                _due(
                    d1,
                    DueKind.RECORD_CIRCULATION,
                    london(2026, 1, 6, 23, 59),
                    "met",
                    subject="a",
                    child_id=d1.id,
                ),
                _due(
                    d1,
                    DueKind.RECORD_CIRCULATION,
                    london(2026, 1, 6, 23, 59),
                    "late",
                    "Chair off sick",
                    subject="b",
                    child_id=1002,
                ),
                _due(
                    d2,
                    DueKind.RECORD_CIRCULATION,
                    london(2026, 1, 8, 23, 59),
                    "late",
                    "Chair off sick",
                    child_id=d2.id,
                ),
                _due(
                    d3,
                    DueKind.RECORD_CIRCULATION,
                    london(2026, 2, 2, 23, 59),
                    "missed",
                    "Lost in handover",
                    child_id=d3.id,
                ),
                _due(
                    d4, DueKind.RECORD_CIRCULATION, london(2026, 3, 3, 23, 59), "closed", None, child_id=d4.id
                ),
                # The conference deadlines (one per enquiry): LL-1 met, LL-6 late; LL-3's ended when the
                # chair recorded it as not required (met, as the engine ends it), so it is no deadline met.
                _due(
                    d1, DueKind.ICPC, london(2026, 1, 26, 23, 59), "met", subject=str(d1.id), child_id=d1.id
                ),
                _due(
                    d2,
                    DueKind.ICPC,
                    london(2026, 1, 28, 23, 59),
                    "late",
                    "No conference slot",
                    subject=str(d2.id),
                    child_id=d2.id,
                ),
                _due(
                    d3,
                    DueKind.ICPC,
                    london(2026, 2, 2, 23, 59),
                    "met",
                    "Enquiry found no need",
                    subject=str(d3.id),
                    child_id=d3.id,
                ),
                # LL-4's conference is due after the period: it is awaited, but not a deadline of Q1.
                _due(
                    d4, DueKind.ICPC, london(2026, 4, 2, 23, 59), "open", subject=str(d4.id), child_id=d4.id
                ),
                # An action open at the end of March; one due before the period.
                _due(d4, DueKind.ACTION, london(2026, 3, 31, 23, 59), "open", subject="1"),
                _due(d1, DueKind.ACTION, london(2025, 12, 31, 23, 59), "met", subject="2"),
                # Never counted: withdrawn, and the bot's own chases.
                _due(d2, DueKind.ACKNOWLEDGEMENT, london(2026, 1, 9, 12), "withdrawn", subject="x"),
                _due(d1, DueKind.INVITATION, london(2026, 1, 5, 10), "missed", "no answer", subject="y"),
                _due(d1, DueKind.QUORUM, london(2026, 1, 5, 10), "met"),
                # LL-5 was removed: their conference deadline was withdrawn.
                _due(
                    d4, DueKind.ICPC, london(2026, 2, 24, 23, 59), "withdrawn", subject="1005", child_id=1005
                ),
                # In the other council, due on the last day of the period.
                _due(d6, DueKind.MEETING, london(2026, 3, 31, 23), "met"),
            ]
        )
        return Known({"d1": d1.id, "d2": d2.id, "d3": d3.id, "d4": d4.id})


async def _report(db, scope: Scope = Q1):
    async with db.read() as s:
        return await build(s, PROCEDURE, scope, MADE)


async def test_discussions_children_out_of_hours_and_overrides(db):
    await known_quarter(db)
    r = await _report(db)
    assert (r.discussions, r.children) == (6, 6)  # D1-D4, D6 and D7 (LL-4 again); LL-5 was removed
    assert (r.out_of_hours, r.out_of_hours_overridden) == (2, 1)
    assert r.overrides == 2
    assert r.override_reasons == (Reason(OVERRIDE, 2, 2),)


async def test_outcomes_are_counted_per_child(db):
    await known_quarter(db)
    r = await _report(db)
    assert {o.outcome: o.children for o in r.outcomes} == {
        "s47_single_agency": 1,  # LL-3
        "s47_joint": 3,  # LL-1, LL-6, LL-4
        "single_assessment": 0,
        "no_s47": 2,  # LL-2, LL-9 (LL-5 removed)
    }
    assert [o.outcome for o in r.outcomes] == [o.id for o in PROCEDURE.outcomes]


async def test_every_deadline_kind_with_its_endings_and_reasons(db):
    await known_quarter(db)
    r = await _report(db)
    kinds = {k.kind: k for k in r.timeliness}
    assert DueKind.INVITATION.value not in kinds and DueKind.QUORUM.value not in kinds
    meeting = kinds[DueKind.MEETING.value]
    assert meeting.counts == {Ended.MET: 3, Ended.LATE: 1, Ended.OPEN: 1}  # D6 counts: no council asked
    assert meeting.reasons == {Ended.LATE: (Reason("Police custody delayed it", 1, 1),)}
    record = kinds[DueKind.RECORD_CIRCULATION.value]
    assert record.counts == {Ended.MET: 1, Ended.LATE: 2, Ended.MISSED: 1, Ended.CLOSED: 1}
    assert record.reasons == {
        Ended.LATE: (Reason("Chair off sick", 2, 2),),
        Ended.MISSED: (Reason("Lost in handover", 1, 1),),
        Ended.CLOSED: (Reason("no reason given", 1, 1),),
    }
    icpc = kinds[DueKind.ICPC.value]
    assert icpc.counts == {Ended.MET: 1, Ended.LATE: 1}  # LL-3 needed no conference
    assert kinds[DueKind.ACTION.value].counts == {Ended.OPEN: 1}
    assert kinds[DueKind.ACKNOWLEDGEMENT.value].counts == {}  # withdrawn: not counted
    assert meeting.label == PROCEDURE.deadline_label("meeting")


async def test_months_follow_the_local_due_date(db):
    await known_quarter(db)
    r = await _report(db)
    assert [m.month for m in r.months] == [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]
    jan, feb, mar = r.months
    assert jan == Month(date(2026, 1, 1), {Ended.MET: 4, Ended.LATE: 4})
    assert feb == Month(date(2026, 2, 1), {Ended.OPEN: 1, Ended.MISSED: 1})
    assert mar == Month(date(2026, 3, 1), {Ended.CLOSED: 1, Ended.OPEN: 1, Ended.MET: 1})
    assert jan.ended == 8 and feb.ended == 1


async def test_conferences_in_census_bands_for_enquiries_started_in_the_period(db):
    await known_quarter(db)
    c = (await _report(db)).conferences
    assert c.enquiries == 4  # LL-1, LL-6, LL-3, LL-4 (LL-5's was withdrawn)
    assert c.bands == {"0-10": 0, "11-15": 1, "16-20": 0, "21+": 1}
    assert (c.held, c.within_15, c.not_required, c.awaited) == (2, 1, 1, 1)
    assert c.not_required_reasons == (Reason("Enquiry found no need", 1, 1),)
    # Only January's starts: LL-4 (February) is not an enquiry of January.
    jan = (await _report(db, Scope(date(2026, 1, 1), date(2026, 1, 31), TZ, NATION))).conferences
    assert (jan.enquiries, jan.awaited) == (3, 0)


async def test_attendance_by_group_and_by_how(db):
    await known_quarter(db)
    a = {x.group: x for x in (await _report(db)).attendance}
    none = dict.fromkeys(How, 0)
    # Police (the safeguarding manager is police too): D1 (thread), D2 (the manager declined),
    # D4 (absent), D6 (thread); D5 was never held.
    assert (a[Group.POLICE].invited, a[Group.POLICE].took_part) == (4, 2)
    assert a[Group.POLICE].by_how == none | {How.THREAD: 2}
    # Health: D1 by phone (entered by the chair) and the paediatrician in the meeting; D4 in the meeting.
    assert (a[Group.HEALTH].invited, a[Group.HEALTH].took_part) == (2, 2)
    assert a[Group.HEALTH].by_how == none | {How.MEETING: 2, How.PHONE: 1, How.ENTERED_BY_CHAIR: 1}
    assert (a[Group.PAEDIATRICIAN].took_part, a[Group.PAEDIATRICIAN].by_how) == (1, none | {How.MEETING: 1})
    assert (a[Group.POLICE_MANAGER].invited, a[Group.POLICE_MANAGER].took_part) == (1, 0)
    assert (a[Group.REFERRER].invited, a[Group.REFERRER].took_part) == (2, 1)
    assert a[Group.REFERRER].by_how == none | {How.THREAD: 1}


async def test_one_council_only(db):
    await known_quarter(db)
    r = await _report(db, Scope(Q1.start, Q1.end, TZ, NATION, council=""))
    assert (r.discussions, r.children) == (5, 5)  # D6 is the other council's
    assert {o.outcome: o.children for o in r.outcomes}["no_s47"] == 1
    kinds = {k.kind: k for k in r.timeliness}
    assert kinds[DueKind.MEETING.value].counts == {Ended.MET: 2, Ended.LATE: 1, Ended.OPEN: 1}
    assert {x.group: x.invited for x in r.attendance}[Group.POLICE] == 3
    other = await _report(db, Scope(Q1.start, Q1.end, TZ, NATION, council="elsewhere"))
    assert (other.discussions, other.children, other.conferences.enquiries) == (1, 1, 0)


async def test_an_empty_period_counts_nothing(db):
    await known_quarter(db)
    r = await _report(db, Scope(date(2027, 1, 1), date(2027, 1, 31), TZ, NATION))
    assert (r.discussions, r.children, r.overrides, r.conferences.enquiries) == (0, 0, 0, 0)
    assert all(k.total == 0 for k in r.timeliness)
    assert r.months == (Month(date(2027, 1, 1), {}),)


def test_a_period_that_ends_before_it_starts_or_runs_for_years_is_refused():
    import pytest

    with pytest.raises(ValueError, match="ends"):
        Scope(date(2026, 2, 1), date(2026, 1, 31), TZ, NATION)
    with pytest.raises(ValueError, match="at most five years"):
        Scope(date(2020, 1, 1), date(2026, 1, 31), TZ, NATION)
    with pytest.raises(ValueError, match="at most five years"):
        Scope(date(9999, 1, 1), date.max, TZ, NATION)


def test_small_numbers_are_hidden_and_other_counts_rounded():
    hide = Suppress(6)  # round_to 5, as shipped
    shown = [hide.count(n) for n in (0, 1, 5, 6, 7, 12, 13, 17, 18, 42, 43)]
    # 6 and 7 show as 10, not 5: a shown 5 would say "6 or 7", and with it, 7 - 6 = 1.
    assert shown == ["0", "fewer than 6", "fewer than 6", "10", "10", "10", "15", "15", "20", "40", "45"]
    assert [Suppress(11).count(n) for n in (10, 11, 18)] == ["fewer than 11", "15", "20"]
    assert [Suppress(6, 10).count(n) for n in (6, 14, 15)] == ["10", "10", "20"]
    assert [Suppress(6, 0).count(n) for n in (5, 6, 7)] == ["fewer than 6", "6", "7"]  # 0: exact
    assert [NO_SUPPRESSION.count(n) for n in (1, 6, 7)] == ["1", "6", "7"]
    # A reason given in fewer than 6 discussions is folded, however many times it was given: typed
    # for three siblings in one meeting, it is one family. Its count shows as any count does.
    reasons = (
        Reason("Chair off sick", 9, 9),
        Reason("Named a case", 1),
        Reason("Another", 2, 2),
        Reason("Siblings' school closed", 6, 2),
    )
    assert hide.reasons(reasons) == (
        ("Chair off sick", "10"),
        ("other reasons, each given fewer times than the rule allows", "10"),  # 1 + 2 + 6
    )
    assert hide.reasons(reasons[1:3]) == (
        ("other reasons, each given fewer times than the rule allows", "fewer than 6"),
    )
    assert hide.reasons((Reason("Police late", 7),))[0] == ("Police late", "10")  # discussions unknown
    assert NO_SUPPRESSION.reasons(reasons)[1] == ("Named a case", "1")


async def test_the_figures_of_a_sibling_discussion_run_through_the_engine(db):
    """Three siblings (tests/records.py): one meeting, three children with three outcomes, a record per
    child circulated in time, and LL-3001's outcome notification missed with the chair's reason."""
    from tests.records import AMENDMENT, three_siblings

    walk = await three_siblings(db)
    november = Scope(date(2026, 11, 1), date(2026, 11, 30), TZ, NATION)
    async with db.read() as s:
        r = await build(s, PROCEDURE, november, walk.drv.clock.now())
    assert (r.discussions, r.children, r.out_of_hours, r.overrides) == (1, 3, 0, 0)
    assert {o.outcome: o.children for o in r.outcomes} == {
        "s47_single_agency": 0,
        "s47_joint": 1,
        "single_assessment": 1,
        "no_s47": 1,
    }
    kinds = {k.kind: k for k in r.timeliness}
    assert kinds["meeting"].counts == {Ended.MET: 1}
    assert kinds["record_circulation"].counts == {Ended.MET: 3}  # one record per child
    assert kinds["outcome_notification"].counts == {Ended.MISSED: 1, Ended.OPEN: 2}
    assert kinds["outcome_notification"].reasons == {Ended.MISSED: (Reason(AMENDMENT, 1, 1),)}
    assert kinds["acknowledgement"].counts == {Ended.OPEN: 9}  # three people, three records
    # LL-3001's conference is due in December: the enquiry started in November and is awaited.
    assert kinds["icpc"].counts == {}
    assert (r.conferences.enquiries, r.conferences.awaited) == (1, 1)
    police = next(a for a in r.attendance if a.group == Group.POLICE)
    assert (police.invited, police.took_part, police.by_how[How.THREAD]) == (1, 1, 1)


def test_totals_and_shares_are_worked_out_from_the_rounded_parts():
    """88 conferences held, 41, 31, 13 and 3 in the bands: shown as 40, 30, 15 and "fewer than 6", the
    total is 40 + 30 + 15 + 5 (the hidden part standing for 5), so 90 minus the other bands gives 5
    back whatever the hidden band is; the shares are of those numbers too."""
    hide = Suppress(6)
    bands = [41, 31, 13, 3]
    assert [hide.count(n) for n in bands] == ["40", "30", "15", "fewer than 6"]
    assert hide.total(bands) == "90"  # 88 rounded would be 90 too; with 1 in 21+ (86) it is 90 still
    assert hide.total([41, 31, 13, 1]) == "90"
    assert [hide.share([n], bands) for n in bands] == ["44%", "33%", "17%", "not shown"]
    assert hide.share(bands[:2], bands) == "78%"  # 70 of 90 (72 of 88 in truth)
    assert hide.total([2, 2, 2]) == "15" and hide.total([1, 5]) == "10"  # never below 10
    assert hide.total([2, 2]) == "fewer than 6" and hide.total([0, 0]) == "0"  # a small total is hidden
    assert hide.share([0], [2, 2]) == "not shown" and hide.share([0], [0]) == "none"
    assert hide.share([3], [3, 37]) == "not shown"  # the count is hidden
    assert hide.share([37], [37, 3]) == "88%"  # 35 of 40: the 3 stands for 5 whatever it is
    # Every count shown: totals and shares are exact.
    assert NO_SUPPRESSION.total(bands) == "88" and NO_SUPPRESSION.share([3], bands) == "3%"
    assert NO_SUPPRESSION.share([1], [7, 1]) == "13%"  # 12.5: a half rounds up
