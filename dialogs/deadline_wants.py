"""What deadlines a discussion has now, and the act that ended each (dialogs/deadlines.py keeps the
due items in step with these).

The meeting's own (held in time, invitations answered, the quorum, each action, each record
acknowledged), each child's own (their record circulated and outcome told, the next discussion of their
series, the manager's review of an override) and each series' (the conference and the final
discussion), each a `Want` with its `End` if its act has happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dialogs.clock import add_working_days, end_of_day, localize
from dialogs.lifecycle import DueKind, DueState, State
from dialogs.procedure import Procedure
from dialogs.quorum import agencies_to_tell, quorum_met
from storage.models import (
    Action,
    Child,
    Circulation,
    Decision,
    Discussion,
    OutcomeTold,
    Participant,
    Person,
    Plan,
    RecordVersion,
    Series,
)

# Each child's own deadlines; the rest are the meeting's.
CHILD_KINDS = frozenset(
    {
        DueKind.RECORD_CIRCULATION,
        DueKind.OUTCOME_NOTIFICATION,
        DueKind.FURTHER_DISCUSSION,
        DueKind.RECONVENE,
        DueKind.ICPC,
        DueKind.FINAL_DISCUSSION,
        DueKind.OVERRIDE_REVIEW,
    }
)


@dataclass(frozen=True)
class End:
    """The act that ended a deadline: when (compared with the due time), and what it was."""

    at: datetime
    by: str
    state: DueState | None = None  # None: MET, or LATE if `at` is after the due time
    reason: str | None = None  # a reason already given (a late meeting's, at convening)


@dataclass(frozen=True)
class Want:
    """A deadline a discussion has now, and its end if its act has happened."""

    kind: DueKind
    subject: str
    due_at: datetime
    recipient_id: int | None
    end: End | None = None
    child_id: int | None = None  # a child's own deadline


def own_deadline(
    kind: DueKind, child: Child, due_at: datetime, recipient_id: int | None, end: End | None
) -> Want:
    """A child's own deadline: the child's id is its subject, so each sibling has their own."""
    return Want(kind, str(child.id), due_at, recipient_id, end, child.id)


@dataclass(frozen=True)
class Place:
    """A child in one discussion of their series."""

    child: Child
    discussion: Discussion


@dataclass(frozen=True)
class Env:
    procedure: Procedure
    nation: str
    tz: str
    now: datetime

    def by_end_of(self, day: date) -> datetime:
        return end_of_day(day, self.tz).astimezone(UTC)

    def start_of(self, day: date) -> datetime:
        return localize(datetime.combine(day, time(0, 0)), self.tz).astimezone(UTC)

    def working_days_after(self, day: date, n: int) -> datetime:
        return self.by_end_of(add_working_days(day, n, self.nation))

    def local_date(self, at: datetime) -> date:
        return at.astimezone(ZoneInfo(self.tz)).date()


@dataclass(frozen=True)
class Held:
    """A discussion with who was there and what was sent from it, read once for all its children."""

    discussion: Discussion
    participants: list[Participant]
    circulations: list[tuple[Circulation, int]]  # with the child whose record it is


async def read_held(session: AsyncSession, d: Discussion) -> Held:
    participants = await all_of(session, select(Participant).where(col(Participant.discussion_id) == d.id))
    # Before the decision there is no record yet: the query waits until then.
    return Held(d, participants, await _circulations(session, d) if _decided(d) else [])


async def wanted(session: AsyncSession, env: Env, held: Held) -> list[Want]:
    """The meeting's own deadlines, with the end of each whose act has happened: held in time, the
    invitations answered, the quorum there; each agreed action; each circulated record acknowledged."""
    r, now = env.procedure.reminders, env.now
    d, participants = held.discussion, held.participants
    chair = d.chair_id
    started = _started(env, d)
    out: list[Want] = []

    out.append(
        Want(
            DueKind.MEETING,
            "",
            d.meeting_due_at,
            chair,
            End(started, "the discussion started", reason=d.late_reason) if started else None,
        )
    )
    for p in participants:
        if p.is_chair or (started is not None and p.invited_at >= started):
            continue  # nobody chases an invitation to a discussion already under way
        due = p.invited_at + timedelta(minutes=r.invitation_unanswered_after_minutes)
        end = None
        if p.status != "invited":
            end = End(p.responded_at or now, f"answered: {p.status.replace('_', ' ')}")
        elif started is not None:
            end = End(started, "not answered before the discussion started", DueState.MISSED)
        out.append(Want(DueKind.INVITATION, str(p.id), due, p.person_id, end))
    quorum_end = None
    if started is not None:
        quorum_end = End(started, "the discussion started without the quorum", DueState.MISSED)
    if quorum_met(env.procedure, d, participants):
        quorum_end = End(now, "the quorum accepted")
    due = d.proposed_at - timedelta(minutes=r.quorum_check_before_minutes)
    out.append(Want(DueKind.QUORUM, "", due, chair, quorum_end))

    # Before the decision there is no record and no action yet: the queries wait until then.
    if not _decided(d):
        return out
    actions = await all_of(session, select(Action).where(col(Action.discussion_id) == d.id))
    for a in actions:
        if a.status != "cancelled":
            end = End(a.done_at or now, "marked done") if a.status == "done" else None
            out.append(Want(DueKind.ACTION, str(a.id), env.by_end_of(a.due_on), a.owner_id, end))
    t = env.procedure.timescales
    for c, child_id in held.circulations:
        n = (
            t.outcome_notification_working_days
            if c.kind == "outcome_notification"
            else t.record_circulation_working_days
        )
        due = env.working_days_after(env.local_date(c.sent_at), n)
        end = End(c.acknowledged_at, "acknowledged") if c.acknowledged_at else None
        # Each child's record is acknowledged on its own: its reminders name that child's reference.
        out.append(Want(DueKind.ACKNOWLEDGEMENT, str(c.id), due, c.person_id, end, child_id))
    return out


async def child_wanted(
    session: AsyncSession,
    env: Env,
    held: Held,
    child: Child,
    series: Sequence[Place],
    decision: Decision | None,
) -> list[Want]:
    """One child's own deadlines from the discussion held: the child's record circulated and outcome
    told, the next discussion of the child's series, the manager's review of a decision taken
    without all."""
    d = held.discussion
    t, chair = env.procedure.timescales, d.chair_id
    out: list[Want] = []
    if d.held_on is not None:
        records: list[RecordVersion] = []
        circulations = [c for c, child_id in held.circulations if child_id == child.id]
        if _decided(d):  # before the decision there is no record yet
            records = await all_of(
                session,
                select(RecordVersion)
                .where(col(RecordVersion.child_id) == child.id)
                .order_by(col(RecordVersion.version)),
            )
        signed = next((x for x in records if x.signed_off_at is not None), None)
        end = None
        if signed is not None and signed.signed_off_at is not None:
            sent = sum(1 for c in circulations if c.kind == "record" and c.record_id == signed.id)
            end = End(
                signed.signed_off_at, f"the signed-off record was sent to everyone who took part ({sent})"
            )
        due = env.working_days_after(d.held_on, t.record_circulation_working_days)
        out.append(own_deadline(DueKind.RECORD_CIRCULATION, child, due, chair, end))
        due = env.working_days_after(d.held_on, t.outcome_notification_working_days)
        end = await _outcome_told(session, env, d, held.participants, circulations, signed)
        out.append(own_deadline(DueKind.OUTCOME_NOTIFICATION, child, due, chair, end))

    # The next discussion: a further one after S47, or the one the chair set after a Single Assessment.
    successor = next(
        (p for p in series if p.child.previous_id == child.id and p.discussion.started_at is not None), None
    )
    held_next = None
    if successor is not None and successor.discussion.started_at is not None:
        held_next = End(successor.discussion.started_at, f"discussion {successor.child.number} was held")
    s47 = decision is not None and _starts_s47(env.procedure, decision.outcome)
    if s47 and d.held_on is not None and not d.is_final:
        due = env.working_days_after(d.held_on, t.further_discussion_working_days)
        out.append(own_deadline(DueKind.FURTHER_DISCUSSION, child, due, chair, held_next))
    if decision is not None and decision.reconvene_on is not None:
        out.append(
            own_deadline(DueKind.RECONVENE, child, env.by_end_of(decision.reconvene_on), chair, held_next)
        )
    if decision is not None and decision.override_reason:
        out.append(await _override_review(session, env, d, child, decision))
    return out


def _started(env: Env, d: Discussion) -> datetime | None:
    """When it was held: from when it started (a discussion recorded from before: from its day)."""
    return d.started_at or (env.start_of(d.held_on) if d.held_on is not None else None)


def _decided(d: Discussion) -> bool:
    return d.state not in (State.CONVENED, State.IN_PROGRESS)


async def _circulations(session: AsyncSession, d: Discussion) -> list[tuple[Circulation, int]]:
    """Every record and outcome notification sent from discussion `d`, with the child it is about."""
    query = (
        select(Circulation, col(RecordVersion.child_id))
        .join(RecordVersion, col(RecordVersion.id) == col(Circulation.record_id))
        .where(col(RecordVersion.discussion_id) == d.id)
        .order_by(col(Circulation.id))
    )
    return [(c, child_id) for c, child_id in (await session.execute(query)).all()]


async def _outcome_told(
    session: AsyncSession,
    env: Env,
    d: Discussion,
    participants: list[Participant],
    circulations: list[Circulation],
    signed: RecordVersion | None,
) -> End | None:
    """Met once every agency that had to be told has been: by the bot, or as the chair recorded."""
    if signed is None or signed.signed_off_at is None:
        return None
    to_tell = set(agencies_to_tell(env.procedure, d, participants))
    told = await outcome_told(session, d, participants, circulations)
    if not to_tell:
        return End(signed.signed_off_at, "nobody else needed telling")
    if not to_tell <= set(told):
        return None
    names = {a.id: a.label for a in env.procedure.agencies}
    return End(max(told[a] for a in to_tell), "told: " + ", ".join(names.get(a, a) for a in sorted(to_tell)))


async def outcome_told(
    session: AsyncSession,
    d: Discussion,
    participants: list[Participant],
    circulations: list[Circulation] | None = None,
) -> dict[str, datetime]:
    """The agencies told the outcome, and when: by the bot (its notification to an invitee of theirs)
    or, as the chair recorded, another way. `circulations`: those of one child's records, if given;
    otherwise every record of the discussion's."""
    if circulations is None:
        circulations = await all_of(
            session,
            select(Circulation)
            .join(RecordVersion, col(RecordVersion.id) == col(Circulation.record_id))
            .where(col(RecordVersion.discussion_id) == d.id),
        )
    agency_of = {p.person_id: p.agency for p in participants}
    told: dict[str, datetime] = {}
    for c in circulations:
        if c.kind == "outcome_notification" and c.person_id in agency_of:
            told.setdefault(agency_of[c.person_id], c.sent_at)
    for t in await all_of(session, select(OutcomeTold).where(col(OutcomeTold.discussion_id) == d.id)):
        told.setdefault(t.agency, t.told_at)
    return told


async def _override_review(
    session: AsyncSession, env: Env, d: Discussion, child: Child, decision: Decision
) -> Want:
    chair = await session.get(Person, d.chair_id)
    reviewer = chair.manager_id if chair is not None else None
    days = env.procedure.timescales.override_review_working_days
    due = env.working_days_after(env.local_date(decision.decided_at), days)
    end = None
    if decision.override_reviewed_at is not None:
        end = End(decision.override_reviewed_at, "reviewed by the team manager")
    # One review per decision taken without everyone: a later override is reviewed afresh.
    subject = f"{child.id}:{decision.decided_at.astimezone(UTC):%Y%m%dT%H%M%S}"
    return Want(DueKind.OVERRIDE_REVIEW, subject, due, reviewer, end, child.id)


async def series_wants_of(
    session: AsyncSession,
    env: Env,
    series: Series,
    rows: Sequence[Place],
    decisions: dict[int, Decision],
) -> dict[int, list[Want]]:
    """The conference and the final discussion: one each per series, on the child's place in the
    first discussion of the series that decided S47 (by child id)."""

    def decided_s47(p: Place) -> bool:
        decision = decisions.get(p.child.id or 0)
        return decision is not None and _starts_s47(env.procedure, decision.outcome)

    s47 = [p for p in rows if p.discussion.held_on is not None and decided_s47(p)]
    if not s47:
        return {}
    home = s47[0]
    anchor = s47[-1] if env.procedure.timescales.icpc_counted_from == "last" else s47[0]
    assert home.child.id is not None and anchor.discussion.held_on is not None
    chair = rows[-1].discussion.chair_id  # the chair of the latest discussion runs the case now
    due = env.working_days_after(anchor.discussion.held_on, env.procedure.timescales.icpc_working_days)
    end = None
    if series.icpc_held_on is not None:
        end = End(env.start_of(series.icpc_held_on), f"held on {series.icpc_held_on:%d %b %Y}")
    elif series.icpc_not_required:
        end = End(series.icpc_recorded_at or env.now, "not required", DueState.MISSED)
    wants = [own_deadline(DueKind.ICPC, home.child, due, chair, end)]
    planned = await _first(session, select(Plan).where(col(Plan.child_id) == home.child.id))
    if planned is not None and planned.icpc_on is not None and not home.discussion.is_final:
        # The final discussion agrees the outcomes the conference acts on: due by the conference date.
        final = next((p.discussion for p in rows if p.discussion.is_final and p.discussion.started_at), None)
        end = End(final.started_at, "the final discussion was held") if final and final.started_at else None
        wants.append(
            own_deadline(DueKind.FINAL_DISCUSSION, home.child, env.by_end_of(planned.icpc_on), chair, end)
        )
    return {home.child.id: wants}


def _starts_s47(procedure: Procedure, outcome: str) -> bool:
    try:
        return procedure.outcome(outcome).starts_s47
    except KeyError:  # an outcome a later procedure version dropped: no S47 deadlines from it
        return False


async def all_of[T](session: AsyncSession, query: Select[T]) -> list[T]:
    return list((await session.execute(query)).scalars())


async def _first[T](session: AsyncSession, query: Select[T]) -> T | None:
    return (await session.execute(query)).scalars().first()
