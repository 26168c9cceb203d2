"""The figures for a period, counted by the database (dialogs.report_model says what each one means).

Each section is one aggregate query (GROUP BY, COUNT(DISTINCT ...)), so a year of discussions costs a
handful of queries whatever its size; Python only turns the grouped rows into the model. The one
calendar sum the database cannot do (working days between an S47 start and its conference, which
needs the bank holidays) is done once per distinct pair of dates, not per enquiry.

What counts where:
- deadlines: every deadline due in the period (local dates), by kind, except the bot's own chases
  (invitation, quorum) and what was withdrawn;
- discussions, outcomes, attendance and overrides: the discussions held (started) in the period;
- conferences: the S47 enquiries whose start (the discussion that first decided S47 in the child's
  series) is in the period, the same ones the census extract lists.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, and_, case, distinct, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from dialogs import clock
from dialogs.enquiries import enquiries as started
from dialogs.lifecycle import DueKind, DueState
from dialogs.procedure import Procedure
from dialogs.quorum import PRESENT
from dialogs.report_model import (
    BANDS,
    WITH_REASON,
    Attendance,
    Conferences,
    Ended,
    Group,
    How,
    KindFigures,
    Month,
    OutcomeCount,
    Reason,
    Report,
    census_band,
)
from storage.models import Child, Contribution, Decision, Discussion, DueItem, Participant, Series

CHASES = (DueKind.INVITATION.value, DueKind.QUORUM.value)  # the bot's own prompts, not the procedure's
MAX_DAYS = 5 * 366  # a longer period is a mistake, and would make the months' CASE absurdly long
NO_REASON = "no reason given"


@dataclass(frozen=True)
class Scope:
    """What a report covers: the period (local dates, both included), the council and its calendar."""

    start: date
    end: date
    tz: str
    nation: str
    council: str | None = None  # None: every council in the database

    def __post_init__(self) -> None:
        check_period(self.start, self.end)

    def instant(self, day: date) -> datetime:
        """Local midnight at the start of `day`, in UTC."""
        return clock.localize(datetime.combine(day, time()), self.tz).astimezone(UTC)


def check_period(start: date, end: date) -> None:
    """Refuse (ValueError, with words for the person) a period a report cannot cover."""
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    if (end - start).days > MAX_DAYS or end >= date.max:
        raise ValueError("a report covers at most five years: ask for a shorter period")


async def build(session: AsyncSession, procedure: Procedure, scope: Scope, made_at: datetime) -> Report:
    held = await _held(session, scope)
    overrides, override_reasons = await _overrides(session, scope)
    return Report(
        start=scope.start,
        end=scope.end,
        council=scope.council or "",
        made_at=made_at,
        discussions=held[0],
        children=await _children(session, scope),
        out_of_hours=held[1],
        out_of_hours_overridden=held[2],
        timeliness=await _timeliness(session, procedure, scope),
        months=await _months(session, scope),
        conferences=await _conferences(session, scope),
        outcomes=await _outcomes(session, procedure, scope),
        attendance=await _attendance(session, scope),
        overrides=overrides,
        override_reasons=override_reasons,
    )


# --- where each section's rows come from ------------------------------------------------------------


def _in_council[*Ts](query: Select[*Ts], scope: Scope, series_id: Any) -> Select[*Ts]:
    if scope.council is None:
        return query
    return query.join(Series, col(Series.id) == series_id).where(col(Series.council) == scope.council)


def _held_in[*Ts](query: Select[*Ts], scope: Scope) -> Select[*Ts]:
    """Only discussions held in the period (`Discussion` must be in the query)."""
    query = query.where(col(Discussion.held_on) >= scope.start, col(Discussion.held_on) <= scope.end)
    return _in_council(query, scope, col(Discussion.series_id))


def _due_in[*Ts](query: Select[*Ts], scope: Scope) -> Select[*Ts]:
    """Only the procedure's deadlines due in the period (joined to their discussion). A conference
    recorded as not required ended its deadline, but no conference was held, in time or late: those
    enquiries are counted under the conferences, not as deadlines met."""
    whose = aliased(Child)
    series = aliased(Series)
    query = (
        query.join(Discussion, col(Discussion.id) == col(DueItem.discussion_id))
        .outerjoin(whose, col(whose.id) == col(DueItem.child_id))
        .outerjoin(series, col(series.id) == col(whose.series_id))
        .where(
            col(DueItem.due_at) >= scope.instant(scope.start),
            col(DueItem.due_at) < scope.instant(_next_day(scope.end)),
            col(DueItem.state) != DueState.WITHDRAWN.value,
            col(DueItem.kind).not_in(CHASES),
            or_(col(DueItem.kind) != DueKind.ICPC.value, col(series.icpc_not_required).is_not(True)),
        )
    )
    return _in_council(query, scope, col(Discussion.series_id))


async def _rows[*Ts](session: AsyncSession, query: Select[*Ts]) -> Sequence[Row[*Ts]]:
    return (await session.execute(query)).all()


# --- the sections ---------------------------------------------------------------------------------


async def _held(session: AsyncSession, scope: Scope) -> tuple[int, int, int]:
    overridden = col(Discussion.out_of_hours) != col(Discussion.out_of_hours_detected)
    query = _held_in(
        select(
            func.count(),
            func.coalesce(func.sum(case((col(Discussion.out_of_hours), 1), else_=0)), 0),
            func.coalesce(func.sum(case((overridden, 1), else_=0)), 0),
        ).select_from(Discussion),
        scope,
    )
    row = (await session.execute(query)).one()
    return int(row[0]), int(row[1]), int(row[2])


async def _children(session: AsyncSession, scope: Scope) -> int:
    """Children, not places: a child in a first and a further discussion of the period is one child
    (their own series; a removed child is not counted)."""
    query = _held_in(
        select(func.count(distinct(col(Child.series_id))))
        .select_from(Child)
        .join(Discussion, col(Discussion.id) == col(Child.discussion_id))
        .where(col(Child.removed_at).is_(None)),
        scope,
    )
    return int((await session.execute(query)).scalar_one())


async def _timeliness(session: AsyncSession, procedure: Procedure, scope: Scope) -> tuple[KindFigures, ...]:
    counted = _due_in(
        select(col(DueItem.kind), col(DueItem.state), func.count())
        .select_from(DueItem)
        .group_by(col(DueItem.kind), col(DueItem.state)),
        scope,
    )
    counts: dict[str, dict[Ended, int]] = {}
    for kind, state, n in await _rows(session, counted):
        counts.setdefault(kind, {})[Ended(state)] = int(n)
    reasoned = _due_in(
        select(
            col(DueItem.kind),
            col(DueItem.state),
            col(DueItem.reason),
            func.count(),
            func.count(distinct(col(DueItem.discussion_id))),
        )
        .select_from(DueItem)
        .where(col(DueItem.state).in_([e.value for e in WITH_REASON]))
        .group_by(col(DueItem.kind), col(DueItem.state), col(DueItem.reason)),
        scope,
    )
    reasons: dict[str, dict[Ended, list[Reason]]] = {}
    for kind, state, text, n, places in await _rows(session, reasoned):
        reason = Reason(text or NO_REASON, int(n), int(places))
        reasons.setdefault(kind, {}).setdefault(Ended(state), []).append(reason)
    order = [k.value for k in procedure.deadlines if k.value not in CHASES]
    return tuple(
        KindFigures(
            kind=kind,
            label=procedure.deadline_label(kind),
            counts=counts.get(kind, {}),
            reasons={e: _ranked(rs) for e, rs in reasons.get(kind, {}).items()},
        )
        for kind in order
    )


async def _months(session: AsyncSession, scope: Scope) -> tuple[Month, ...]:
    firsts = _month_starts(scope.start, scope.end)
    # Which month a deadline is due in, by its local date: the bounds are local midnights in UTC.
    bounds = [scope.instant(first) for first in firsts[1:]]
    whens = [(col(DueItem.due_at) < b, i) for i, b in enumerate(bounds)]
    month = case(*whens, else_=len(bounds)) if whens else literal(0)
    query = _due_in(
        select(month, col(DueItem.state), func.count())
        .select_from(DueItem)
        .group_by(month, col(DueItem.state)),
        scope,
    )
    counts: dict[int, dict[Ended, int]] = {}
    for index, state, n in await _rows(session, query):
        counts.setdefault(int(index), {})[Ended(state)] = int(n)
    return tuple(Month(first, counts.get(i, {})) for i, first in enumerate(firsts))


async def _conferences(session: AsyncSession, scope: Scope) -> Conferences:
    """The series' conference deadlines (one per enquiry, on the child in the discussion that first
    decided S47), grouped by that discussion's date and how the conference stands."""
    enquiries = started(scope.start, scope.end, scope.council)
    grouped = enquiries.with_only_columns(
        col(Discussion.held_on), col(Series.icpc_held_on), col(Series.icpc_not_required), func.count()
    ).group_by(col(Discussion.held_on), col(Series.icpc_held_on), col(Series.icpc_not_required))
    bands = dict.fromkeys(BANDS, 0)
    total = not_required = awaited = 0
    for start, held, unneeded, n in await _rows(session, grouped):
        total += n
        if held is not None:
            bands[census_band(_working_days(start, held, scope.nation))] += n
        elif unneeded:
            not_required += n
        else:
            awaited += n
    why = (
        enquiries.with_only_columns(
            col(DueItem.reason), func.count(), func.count(distinct(col(Discussion.id)))
        )
        .where(col(Series.icpc_not_required), col(Series.icpc_held_on).is_(None))
        .group_by(col(DueItem.reason))
    )
    reasons = [Reason(text or NO_REASON, int(n), int(d)) for text, n, d in await _rows(session, why)]
    return Conferences(total, bands, not_required, _ranked(reasons), awaited)


async def _outcomes(session: AsyncSession, procedure: Procedure, scope: Scope) -> tuple[OutcomeCount, ...]:
    query = _held_in(
        select(col(Decision.outcome), func.count())
        .select_from(Decision)
        .join(Child, col(Child.id) == col(Decision.child_id))
        .join(Discussion, col(Discussion.id) == col(Decision.discussion_id))
        .where(col(Child.removed_at).is_(None))
        .group_by(col(Decision.outcome)),
        scope,
    )
    found = {outcome: int(n) for outcome, n in await _rows(session, query)}
    known = [OutcomeCount(o.id, o.label, found.pop(o.id, 0)) for o in procedure.outcomes]
    # An outcome a later procedure dropped still counts, under its id.
    return tuple(known + [OutcomeCount(o, o, n) for o, n in sorted(found.items())])


def _group(group: Group) -> ColumnElement[bool]:
    if group == Group.POLICE:
        return col(Participant.agency) == "police"
    if group == Group.HEALTH:
        return col(Participant.agency) == "health"
    return col(Participant.role) == group.value  # the procedure's role ids


async def _attendance(session: AsyncSession, scope: Scope) -> tuple[Attendance, ...]:
    """For each group, in how many discussions someone of it was invited, took part, and each way."""
    entered = (
        select(col(Contribution.discussion_id), col(Contribution.person_id))
        .where(col(Contribution.entered_by_id).is_not(None))
        .distinct()
        .subquery()
    )
    present = col(Participant.status).in_(sorted(PRESENT))
    ways: dict[How, ColumnElement[bool]] = {
        How.MEETING: and_(
            col(Participant.status) == "accepted", func.coalesce(col(Participant.how), "") != "chat"
        ),
        How.THREAD: and_(col(Participant.status) == "accepted", col(Participant.how) == "chat"),
        How.PHONE: col(Participant.status) == "by_phone",
        How.ENTERED_BY_CHAIR: and_(present, entered.c.person_id.is_not(None)),
    }
    did = col(Participant.discussion_id)

    def discussions(where: ColumnElement[bool]) -> Any:
        return func.count(distinct(case((where, did))))

    columns = []
    for group in Group:
        g = _group(group)
        columns += [discussions(g), discussions(and_(g, present))]
        columns += [discussions(and_(g, way)) for way in ways.values()]
    query = _held_in(
        select(*columns)
        .select_from(Participant)
        .join(Discussion, col(Discussion.id) == did)
        .outerjoin(
            entered,
            and_(entered.c.discussion_id == did, entered.c.person_id == col(Participant.person_id)),
        )
        .where(col(Participant.is_chair).is_(False)),
        scope,
    )
    row = [int(n) for n in (await session.execute(query)).one()]
    width = 2 + len(ways)
    out = []
    for i, group in enumerate(Group):
        invited, took_part, *by = row[i * width : (i + 1) * width]
        out.append(Attendance(group, invited, took_part, dict(zip(ways, by, strict=True))))
    return tuple(out)


async def _overrides(session: AsyncSession, scope: Scope) -> tuple[int, tuple[Reason, ...]]:
    """Discussions with a decision taken without the quorum, and the chairs' reasons (a reason given
    once for several siblings counts once)."""
    overridden = _held_in(
        select(col(Decision.override_reason), func.count(distinct(col(Decision.discussion_id))))
        .select_from(Decision)
        .join(Discussion, col(Discussion.id) == col(Decision.discussion_id))
        .where(col(Decision.override_reason).is_not(None))
        .group_by(col(Decision.override_reason)),
        scope,
    )
    reasons = [Reason(text or NO_REASON, int(n), int(n)) for text, n in await _rows(session, overridden)]
    total = _held_in(
        select(func.count(distinct(col(Decision.discussion_id))))
        .select_from(Decision)
        .join(Discussion, col(Discussion.id) == col(Decision.discussion_id))
        .where(col(Decision.override_reason).is_not(None)),
        scope,
    )
    return int((await session.execute(total)).scalar_one()), _ranked(reasons)


# --- small helpers ----------------------------------------------------------------------------------


def _ranked(reasons: list[Reason]) -> tuple[Reason, ...]:
    return tuple(sorted(reasons, key=lambda r: (-r.count, r.text)))


def _next_day(day: date) -> date:
    return date.fromordinal(day.toordinal() + 1)


def _month_starts(start: date, end: date) -> list[date]:
    firsts, month = [], start.replace(day=1)
    while month <= end:
        firsts.append(month)
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return firsts


@functools.lru_cache(maxsize=4096)
def _working_days(start: date, end: date, nation: str) -> int:
    return clock.working_days_between(start, end, nation)
