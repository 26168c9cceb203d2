"""The fictional year bench/report.py reports on: about 5,000 strategy discussions between April 2025 and
March 2026 (the census year 2026), bulk-inserted with SQLAlchemy core, one transaction per `flush`.

Deterministic (one seeded `random.Random`) and shaped like a council's year, so that every query of
dialogs/report_query.py (and the census extract) has rows to count:

- families of 1-3 children (siblings share a discussion; each child has their own series, decision and
  deadlines); S47 enquiries with further discussions and sometimes a final one; Single Assessments
  reconvened; no S47; a few children removed, a few decisions changed (their deadlines withdrawn), a
  few discussions never held, a few children referred again after their first series closed;
- meeting times of which about 30% fall out of hours (worked out by the procedure's office hours and
  bank holidays, as the bot does), a few overridden by the chair with a reason;
- participants: police, health, paediatrician, police safeguarding manager, referrer, social worker,
  with statuses accepted / by_phone / declined / absent / invited and `how` chat / None / phone;
  contributions, a few entered by the chair; decisions taken without the quorum, with reasons;
- due items of every kind, met / late / missed / closed / open / withdrawn with reasons from short
  lists; conferences held (in every census band), not required (with reasons) or awaited.

Case references are fictional ("BN-" and digits) and no row holds case text. Not seeded: records,
circulations, plans, actions' own rows and the audit trail, which neither the report nor the census
extract reads (the actions' and acknowledgements' deadlines are seeded, numbered as subjects).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from bench.report_meetings import Meetings
from bench.report_rows import FICTION, HOUR, LATE, NATION, NOT_REQUIRED, NOW, OVERRIDE, TZ, ZONE
from dialogs.clock import add_working_days, end_of_day, localize
from dialogs.procedure import Procedure
from storage.models import Child, Decision, Discussion, Series

YEAR = (date(2025, 4, 1), date(2026, 3, 31))  # the census year 2026
COUNCIL, ELSEWHERE = "bench", "elsewhere"  # most families in one council, a few in another

OUTCOMES = {"s47_single_agency": 12, "s47_joint": 33, "single_assessment": 28, "no_s47": 27}
RECONVENED = {"s47_joint": 20, "s47_single_agency": 10, "no_s47": 70}  # after a Single Assessment
S47 = ("s47_single_agency", "s47_joint")
CATEGORIES = {"physical": 30, "sexual": 12, "emotional": 18, "neglect": 28, "other": 8, "unexpected_death": 1}
FORMATS = {"meeting": 80, "call": 15, "series_of_calls": 5}
REFERRED_BY = {"education": 35, "police": 20, "health": 20, "other": 15, "social_care": 10}
ICPC_WORKING_DAYS = {(3, 10): 30, (11, 15): 51, (16, 20): 12, (21, 35): 7}


@dataclass
class Kid:
    """One child of a family, through their series of discussions."""

    ref: str
    series: dict[str, Any]  # the Series row (its conference and closing are set at the end)
    row: int | None = None  # their Child row in their latest discussion
    number: int = 0
    last: datetime | None = None  # when their latest discussion started
    awaiting: dict[str, Any] | None = None  # their next-discussion deadline, met by the next one held
    enquiry: tuple[int, int, date, int] | None = None  # child row, discussion, S47 start, chair
    s47: str = ""
    final_planned: bool = False
    final_at: datetime | None = None


@dataclass
class Step:
    """A discussion to hold: when, for which children, and what is left of their enquiry's plan."""

    day: date
    kids: list[Kid]
    further_left: int = 0
    is_final: bool = False
    previous: int | None = None
    ooh: float = 0.12
    reconvened: bool = False
    first: bool = False


@dataclass(frozen=True)
class Place:
    """What a child's place in a discussion takes from the discussion."""

    discussion: dict[str, Any]
    chair: int
    decided_at: datetime
    override: str | None  # the chair's reason for deciding without the quorum
    position: int
    sent_to: int  # how many took part besides the chair: each acknowledges the child's record


class Year(Meetings):
    """The fictional year, grown family by family (`grow`) and inserted by `flush`."""

    def __init__(self, procedure: Procedure, seed: int) -> None:
        super().__init__(procedure, seed)
        self.discussions = self.refs = self.subjects = 0

    def grow(self, discussions: int) -> None:
        """Add families until about `discussions` discussions exist."""
        while self.discussions < discussions:
            refs = [self.new_ref() for _ in range(self.pick({1: 72, 2: 19, 3: 9}))]
            first = YEAR[0] - timedelta(days=30) + timedelta(days=self.rng.randrange(396))
            self.family(refs, ELSEWHERE if self.rng.random() < 0.05 else COUNCIL, first)

    def new_ref(self) -> str:
        self.refs += 1
        return f"BN-{200_000 + self.refs}"

    def family(self, refs: list[str], council: str, first: date) -> None:
        kids = [Kid(ref, self.add(Series, council=council, case_ref=ref)) for ref in refs]
        steps = [Step(first, kids, ooh=0.4, first=True)]
        while steps:
            steps.sort(key=lambda s: s.day)
            step = steps.pop(0)
            steps += self.hold(step)
        for kid in kids:
            self.conclude(kid)
        if all(k.series["closed_at"] for k in kids) and self.rng.random() < 0.04:
            last = max(k.last or NOW for k in kids).date() + timedelta(days=self.rng.randrange(60, 150))
            if last < YEAR[1]:  # referred again: a new series, a second enquiry for the census
                self.family(refs[:1], council, last)

    def hold(self, step: Step) -> list[Step]:
        """One discussion of `step.kids`; returns the discussions it leads to."""
        rng, p = self.rng, self.procedure
        proposed = self.meeting_time(step.day, step.ooh)
        if proposed > NOW:
            return []  # not held yet: the children's next-discussion deadlines stay open
        self.discussions += 1
        late = rng.random() < 0.08
        ahead = rng.randrange(25, 60) * 60 if late else rng.randrange(30, 1200)
        convened = proposed - timedelta(minutes=ahead)
        detected = p.out_of_hours_at(proposed, tz=TZ, nation=NATION)
        overridden = rng.random() < 0.025
        never = step.first and rng.random() < 0.015  # convened, then not needed
        started = None if never else proposed + timedelta(minutes=rng.randrange(0, 10))
        category = self.pick(CATEGORIES)
        injury = rng.random() < {"physical": 0.8, "sexual": 0.5}.get(category, 0.2)
        medical = rng.random() < (0.45 if category == "physical" else 0.15)
        ooh = detected != overridden
        chair = rng.choice(self.pool["ooh_manager" if ooh else rng.choice(("team_manager", "duty_manager"))])
        kids = step.kids
        d = self.add(Discussion, series_id=kids[0].series["id"], case_ref=", ".join(k.ref for k in kids))
        d.update(number=max(k.number for k in kids) + 1, is_final=step.is_final, previous_id=step.previous)
        d.update(category=category, concern=FICTION, referring_agency=self.pick(REFERRED_BY))
        d.update(
            possible_injury=injury, medical_implications=medical, hospital_involvement=rng.random() < 0.1
        )
        d.update(inpatient=rng.random() < 0.03, complex_case=rng.random() < 0.1)
        d.update(out_of_hours=ooh, out_of_hours_detected=detected, out_of_hours_reason=None)
        if overridden:
            d["out_of_hours_reason"] = FICTION
        d.update(format=self.pick(FORMATS), convened_by_id=chair, chair_id=chair, convened_at=convened)
        d.update(
            proposed_at=proposed, meeting_due_at=convened + 24 * HOUR, started_at=started, updated_at=NOW
        )
        d.update(late_reason=rng.choice(LATE) if late else None, held_on=None)
        if started is not None:
            d["held_on"] = started.astimezone(ZONE).date()
        else:
            d.update(state="closed_with_reason", closed_reason=FICTION, closed_at=convened + 12 * HOUR)
        did = d["id"]
        for kid in step.kids:
            if kid.number == 0:
                kid.series["opened_at"] = convened
        meeting = self.due(did, "meeting", d["meeting_due_at"], chair, done=started, reason=d["late_reason"])
        present = self.participants(d, chair, injury, medical)
        quorum = {"police", d["referring_agency"]} if ooh else {"police", "health"}
        quorum_met = quorum - {"social_care"} <= {agency for agency, _, _ in present}
        quorum_row = self.due(did, "quorum", proposed - timedelta(minutes=30), chair)
        if quorum_met:
            self.act(quorum_row, proposed - timedelta(minutes=45))
        else:
            quorum_row.update(
                state="missed", reason="started without the quorum", ended_at=started, next_at=None
            )
        if started is None:
            self.unmet(meeting)
            for kid in step.kids:
                kid.series["closed_at"] = d["closed_at"]
            return []
        if started + timedelta(days=30) < NOW:
            d.update(state="closed", closed_at=started + timedelta(days=21), monitoring=FICTION)
        else:
            d["state"] = "signed_off" if started + timedelta(days=2) < NOW else "decided"
        self.contributions(did, chair, started, present)
        override = None if quorum_met and rng.random() > 0.02 else rng.choice(OVERRIDE)
        decided_at = started + timedelta(minutes=rng.randrange(40, 100))
        same = rng.random() < 0.75  # siblings mostly share the outcome
        decided: dict[int, str] = {}
        outcome = ""
        for i, kid in enumerate(step.kids):
            if i == 0 or not same:
                outcome = self.outcome(kid, step)
            place = Place(d, chair, decided_at, override, i + 1, len(present))
            if self.child(kid, place, outcome) and kid.row is not None:
                decided[kid.row] = outcome
            if step.is_final:
                kid.final_at = started
        self.actions(did, d["held_on"], [person for _, person, _ in present] or [chair])
        return self.next_steps(step, did, d["held_on"], decided)

    def actions(self, did: int, held_on: date, owners: list[int]) -> None:
        """The actions agreed (their deadlines: the report reads no action row), a few cancelled."""
        rng = self.rng
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            self.subjects += 1
            due = end_of_day(held_on + timedelta(days=rng.randrange(3, 21)), TZ).astimezone(UTC)
            row = self.due(did, "action", due, rng.choice(owners), subject=str(self.subjects))
            if rng.random() < 0.03:
                row.update(state="withdrawn", next_at=None, stage="pending")
            else:
                self.around(row, late=0.15, missed=0.05)

    def outcome(self, kid: Kid, step: Step) -> str:
        if kid.enquiry is not None:  # a further discussion of the enquiry: it goes on, or concludes
            return kid.s47 if self.rng.random() < 0.85 else "no_s47"
        return self.pick(RECONVENED if step.reconvened else OUTCOMES)

    def child(self, kid: Kid, at: Place, outcome: str) -> bool:
        """The child's place in a discussion: their row, decision and own deadlines (False: removed)."""
        rng, d, chair = self.rng, at.discussion, at.chair
        did, held_on, started = d["id"], d["held_on"], d["started_at"]
        kid.number += 1
        row = self.add(
            Child,
            discussion_id=did,
            series_id=kid.series["id"],
            case_ref=kid.ref,
            position=at.position,
            number=kid.number,
            previous_id=kid.row,
            added_at=d["convened_at"],
        )
        cid = row["id"]
        if kid.awaiting is not None:  # this discussion is the one the last asked for
            self.act(kid.awaiting, started)
            kid.awaiting = None
        kid.row, kid.last = cid, started
        if kid.number == 1 and d["case_ref"] != kid.ref and rng.random() < 0.02:
            row.update(removed_at=started - HOUR, removed_by_id=chair, removed_reason=FICTION)
            kid.series["closed_at"] = started
            return False
        reconvene_on = (
            held_on + timedelta(days=rng.randrange(35, 46)) if outcome == "single_assessment" else None
        )
        decision = self.add(
            Decision,
            discussion_id=did,
            child_id=cid,
            outcome=outcome,
            reasons=FICTION,
            risks=FICTION,
            reconvene_on=reconvene_on,
            alternative=FICTION if outcome == "no_s47" else None,
            decided_by_id=chair,
            decided_at=at.decided_at,
            override_unmet="health" if at.override else None,
            override_reason=at.override,
            override_reviewed_by_id=self.manager.get(chair) if at.override else None,
        )
        by_end = end_of_day(add_working_days(held_on, 1, NATION), TZ).astimezone(UTC)
        for kind in ("record_circulation", "outcome_notification"):
            self.around(self.due(did, kind, by_end, chair, child=cid), late=0.1, missed=0.01)
        for _ in range(at.sent_to):  # each who took part acknowledges the child's record
            self.subjects += 1
            ack = self.due(
                did, "acknowledgement", by_end + 24 * HOUR, None, subject=str(self.subjects), child=cid
            )
            self.around(ack, late=0.12, missed=0.04)
        if at.override:
            subject = f"{cid}:{at.decided_at:%Y%m%dT%H%M%S}"
            review = self.due(did, "override_review", by_end, self.manager[chair], child=cid, subject=subject)
            self.around(review, late=0.2, missed=0.0)
            decision["override_reviewed_at"] = review["ended_at"]
        if outcome in S47:
            kid.s47 = outcome
            if kid.enquiry is None:  # the enquiry starts here: its conference counts from this day
                kid.enquiry = (cid, did, held_on, chair)
            if not d["is_final"]:
                due = end_of_day(add_working_days(held_on, 15, NATION), TZ).astimezone(UTC)
                kid.awaiting = self.due(did, "further_discussion", due, chair, child=cid)
        elif reconvene_on is not None:
            due = end_of_day(reconvene_on, TZ).astimezone(UTC)
            kid.awaiting = self.due(did, "reconvene", due, chair, child=cid)
        if kid.number == 1 and outcome not in S47 and rng.random() < 0.03:  # was S47, then changed
            self.due(did, "icpc", by_end, chair, child=cid, state="withdrawn")
            self.due(did, "further_discussion", by_end, chair, child=cid, state="withdrawn")
        return True

    def next_steps(self, step: Step, did: int, held_on: date, decided: dict[int, str]) -> list[Step]:
        rng = self.rng
        going = [k for k in step.kids if decided.get(k.row or 0) in S47 and not step.is_final]
        steps = []
        starts = step.first or step.reconvened  # an enquiry may start here: plan its further discussions
        left = self.pick({0: 35, 1: 45, 2: 20}) if starts else step.further_left - 1
        if starts:
            for k in going:
                k.final_planned = left > 0 and rng.random() < 0.5
        if going and left > 0:
            day = held_on + timedelta(days=rng.randrange(7, 28))
            steps.append(Step(day, going, left, left == 1 and going[0].final_planned, did))
        for k in step.kids:
            if decided.get(k.row or 0) == "single_assessment" and rng.random() < 0.55:
                day = held_on + timedelta(days=rng.randrange(33, 50))
                steps.append(Step(day, [k], previous=did, reconvened=True))
        return steps

    def conclude(self, kid: Kid) -> None:
        """The end of the child's series: what never happened, the conference, the series closed."""
        rng = self.rng
        if kid.awaiting is not None:
            self.unmet(kid.awaiting)
        if kid.last is not None and kid.last + timedelta(days=30) < NOW and kid.series["closed_at"] is None:
            kid.series["closed_at"] = kid.last + timedelta(days=21)
        if kid.enquiry is None:
            return
        row, did, start, chair = kid.enquiry
        target = end_of_day(add_working_days(start, 15, NATION), TZ).astimezone(UTC)
        icpc = self.due(did, "icpc", target, chair, child=row)
        low, high = self.pick(ICPC_WORKING_DAYS)
        held = add_working_days(start, rng.randint(low, high), NATION)
        recorded = localize(datetime.combine(held, time(17)), TZ).astimezone(UTC)
        r = rng.random()
        if r < 0.76 and recorded < NOW:
            kid.series.update(icpc_held_on=held, icpc_recorded_by_id=chair, icpc_recorded_at=recorded)
            self.act(icpc, localize(datetime.combine(held, time()), TZ).astimezone(UTC))
        elif r < 0.88 and recorded < NOW:
            kid.series.update(icpc_not_required=True, icpc_recorded_by_id=chair, icpc_recorded_at=recorded)
            icpc.update(state="missed", reason=rng.choice(NOT_REQUIRED), ended_at=recorded, next_at=None)
        if kid.final_planned:
            final = self.due(did, "final_discussion", target, chair, child=row)
            if kid.final_at is not None:
                self.act(final, kid.final_at)
            else:
                self.unmet(final)
