"""Due items: the deadlines a series of discussions has, and how each one ends by its act.

`refresh_series` runs in the engine's transaction after every change. For every discussion of the
series of each child the discussion is about it works out the deadlines it has now (PROCEDURE.md,
"Deadlines") and how far each has got. The meeting's own (held in time, invitations, quorum,
actions, acknowledgements) are the discussion's; the rest are each child's (`DueItem.child_id`, the
child's id as subject), so siblings who part ways keep their own:
- a deadline whose act has happened ends MET, or LATE when the act came after the due time (the
  chair is then asked why, unless the reason was already given);
- a chase (an unanswered invitation, the quorum before the start) whose context ended without its
  act ends MISSED with the bot's reason;
- a deadline that no longer applies (the decision changed before sign-off, a child removed) is
  WITHDRAWN, and opens again if it applies again;
- an ended item never reopens otherwise, except the quorum chase before the start (someone declined
  again).
Then a signed-off discussion with no open deadline closes (CLOSED), and a series whose discussions
are all closed closes too. Snoozing moves reminders only: see dialogs/moments.py for the moments.

Series-wide deadlines (the initial conference and the final discussion) live on the child's place in
the first discussion of their series that decided S47; the conference is counted from that
discussion or, if the procedure says `icpc_counted_from: last`, from the last one that decided S47.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dialogs.deadline_wants import (
    End,
    Env,
    Place,
    Want,
    all_of,
    child_wanted,
    read_held,
    series_wants_of,
    wanted,
)
from dialogs.lifecycle import CLOSED_STATES, DEADLINE, DueKind, DueState, State
from dialogs.moments import plan
from dialogs.procedure import Procedure
from storage.models import Child, Decision, Discussion, DueItem, Series

REOPENABLE = frozenset({DueKind.QUORUM})  # lost again before the start: chase again


@dataclass
class Refreshed:
    late: list[DueItem] = field(default_factory=list)  # ended late just now, the chair's reason needed
    closed: list[Discussion] = field(default_factory=list)  # closed just now: every deadline ended


async def refresh_series(
    session: AsyncSession,
    procedure: Procedure,
    discussion: Discussion,
    *,
    nation: str,
    tz: str,
    now: datetime,
) -> Refreshed:
    """Bring the due items of the series of `discussion`'s children up to date (of their open
    discussions, and its own); close what has ended."""
    env = Env(procedure, nation, tz, now)
    assert discussion.id is not None
    # The series the discussion's children are (or were, if removed) in; every discussion of those
    # series; and the series of those discussions' other children, for their own deadlines.
    its_children = await all_of(session, select(Child).where(col(Child.discussion_id) == discussion.id))
    touched = await _lock_series(session, {c.series_id for c in its_children})
    places = await _places(session, touched)
    discussions = {p.discussion.id: p.discussion for p in places} | {discussion.id: discussion}
    present = await all_of(
        session,
        select(Child)
        .where(col(Child.discussion_id).in_(list(discussions)), col(Child.removed_at).is_(None))
        .order_by(col(Child.position), col(Child.id)),
    )
    siblings_series = await _lock_series(session, {c.series_id for c in present} - touched)
    places += await _places(session, siblings_series)
    by_series: dict[int, list[Place]] = {}
    for place in places:
        by_series.setdefault(place.child.series_id, []).append(place)
    child_ids = {c.id for c in present} | {p.child.id for p in places}
    decisions = {
        x.child_id: x
        for x in await all_of(session, select(Decision).where(col(Decision.child_id).in_(child_ids)))
    }
    out = Refreshed()
    series_wants: dict[int, list[Want]] = {}  # by child id: the conference and the final discussion
    for series_id, rows in by_series.items():
        series = await session.get(Series, series_id)
        assert series is not None
        for child_id, wants in (await series_wants_of(session, env, series, rows, decisions)).items():
            series_wants.setdefault(child_id, []).extend(wants)
    for d in sorted(discussions.values(), key=lambda x: x.id or 0):
        if d.state in CLOSED_STATES and d.id != discussion.id:
            continue  # nothing new starts there; what it still has open ends by acts on it
        held = await read_held(session, d)
        wants = await wanted(session, env, held)
        for child in (c for c in present if c.discussion_id == d.id):
            assert child.id is not None
            rows = by_series.get(child.series_id, [])
            wants += await child_wanted(session, env, held, child, rows, decisions.get(child.id))
            wants += series_wants.get(child.id, [])
        await _sync(session, env, d, wants, out)
    for d in discussions.values():
        if d.state == State.SIGNED_OFF and not await _open_deadlines(session, d):
            d.state, d.closed_at, d.updated_at = State.CLOSED, now, now
            out.closed.append(d)
    for series_id in touched | siblings_series:
        series = await session.get(Series, series_id)
        assert series is not None
        if series.closed_at is None and all(
            p.discussion.state in CLOSED_STATES for p in by_series.get(series_id, [])
        ):
            series.closed_at = now  # every discussion it had is closed (or the child was removed from all)
    await session.flush()
    return out


async def _lock_series(session: AsyncSession, ids: set[int]) -> set[int]:
    """Locks the series rows, in id order, for the rest of the turn: two turns on discussions that
    share a child's series (siblings' further discussions) refresh its deadlines one after the other.
    (SQLite has one writer at a time anyway.)"""
    if ids:
        await session.execute(
            select(col(Series.id)).where(col(Series.id).in_(ids)).order_by(col(Series.id)).with_for_update()
        )
    return ids


async def _places(session: AsyncSession, series_ids: set[int]) -> list[Place]:
    """Each child of these series in each discussion of it (not where removed), in order."""
    query = (
        select(Child, Discussion)
        .join(Discussion, col(Discussion.id) == col(Child.discussion_id))
        .where(col(Child.series_id).in_(series_ids), col(Child.removed_at).is_(None))
        .order_by(col(Child.series_id), col(Child.number), col(Child.id))
    )
    return [Place(c, d) for c, d in (await session.execute(query)).all()]


async def _sync(session: AsyncSession, env: Env, d: Discussion, wants: list[Want], out: Refreshed) -> None:
    assert d.id is not None  # a stored discussion
    rows = await session.execute(select(DueItem).where(col(DueItem.discussion_id) == d.id))
    existing = {(item.kind, item.subject): item for item in rows.scalars()}
    closed = d.state in CLOSED_STATES
    seen: set[tuple[str, str]] = set()
    for want in wants:
        key = (want.kind.value, want.subject)
        seen.add(key)
        item = existing.get(key)
        if item is None:
            if closed or (want.end is not None and want.end.state == DueState.MISSED):
                continue  # nothing new starts on a closed discussion; a chase never needed is not made
            item = DueItem(
                discussion_id=d.id,
                kind=want.kind.value,
                subject=want.subject,
                child_id=want.child_id,
                due_at=want.due_at,
            )
            session.add(item)
            plan(item, want.due_at, env.procedure.reminders, tz=env.tz, now=env.now)
        elif item.state == DueState.WITHDRAWN and not closed:
            # It applies again (a decision changed back, a child removed by mistake and added again):
            # open again, then ended below if its act has happened meanwhile.
            item.state, item.ended_at, item.ended_by = DueState.OPEN, None, None
            plan(item, want.due_at, env.procedure.reminders, tz=env.tz, now=env.now)
        elif item.state != DueState.OPEN:
            if want.end is None and want.kind in REOPENABLE and not closed:
                item.state, item.ended_at, item.ended_by = DueState.OPEN, None, None
                plan(item, want.due_at, env.procedure.reminders, tz=env.tz, now=env.now)
            continue
        elif item.due_at != want.due_at:
            plan(item, want.due_at, env.procedure.reminders, tz=env.tz, now=env.now)
        if item.recipient_id != want.recipient_id:
            item.recipient_id, item.updated_at = want.recipient_id, env.now
        if want.end is not None:
            state = end_item(item, want.end, env.now)
            if state == DueState.LATE and DEADLINE[want.kind].statutory and not item.reason:
                out.late.append(item)
    for key, item in existing.items():
        if key not in seen and item.state == DueState.OPEN and not closed:
            end_item(item, End(env.now, "no longer applies", DueState.WITHDRAWN), env.now)


def end_item(item: DueItem, end: End, now: datetime) -> DueState:
    """End an open item by its act (or a reason); returns the state it ended in."""
    state = end.state or (DueState.MET if end.at <= item.due_at else DueState.LATE)
    item.state, item.ended_at, item.ended_by = state.value, end.at, end.by[:200]
    if end.reason:
        item.reason = end.reason
    item.next_at, item.snoozed_until, item.claimed_by, item.claim_expires_at = None, None, None, None
    item.updated_at = now
    return state


async def _open_deadlines(session: AsyncSession, d: Discussion) -> bool:
    """Whether `d` still has an open obligation (chases such as acknowledgements do not hold it open)."""
    kinds = [k.value for k, dl in DEADLINE.items() if not dl.chase]
    query = select(col(DueItem.id)).where(
        col(DueItem.discussion_id) == d.id,
        col(DueItem.state) == DueState.OPEN.value,
        col(DueItem.kind).in_(kinds),
    )
    return (await session.execute(query.limit(1))).first() is not None


async def series_icpc(session: AsyncSession, series_id: int) -> DueItem | None:
    """A child's series' conference deadline: the one that applies (a withdrawn one, whose S47
    decision was changed, does not), the newest if the first S47 discussion of the series changed."""
    query = (
        select(DueItem)
        .join(Child, col(Child.id) == col(DueItem.child_id))
        .where(
            col(Child.series_id) == series_id,
            col(DueItem.kind) == DueKind.ICPC.value,
            col(DueItem.state) != DueState.WITHDRAWN.value,
        )
        .order_by(col(DueItem.id).desc())
    )
    return (await session.execute(query)).scalars().first()
