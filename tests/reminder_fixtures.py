"""Rows for the reminder tests, written straight through storage (the real tables, no engine needed)."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dialogs.deadline_wants import CHILD_KINDS
from dialogs.deadlines import refresh_series
from dialogs.model import Card, Target, TargetKind
from dialogs.procedure import Procedure, load_procedure
from storage.models import Child, Discussion, DueItem, Participant, Person, Series

TZ = "Europe/London"
NATION = "england-and-wales"
PROCEDURE = load_procedure()
# Words that must never leave the database in a reminder, a preview or an outbox row.
CHILD = "Jayden Whitlock-Smyth"
CONCERN = f"{CHILD} came to school with bruises on both arms"


def london(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    """A London wall-clock time as an aware UTC datetime."""
    return datetime(y, m, d, hh, mm, ss, tzinfo=ZoneInfo(TZ)).astimezone(UTC)


def local(at: datetime) -> datetime:
    return at.astimezone(ZoneInfo(TZ))


def with_reminders(procedure: Procedure = PROCEDURE, **changes) -> Procedure:
    return procedure.model_copy(update={"reminders": procedure.reminders.model_copy(update=changes)})


async def person(session, name: str, *, agency="social_care", role="team_manager", manager_id=None) -> Person:
    p = Person(display_name=name, agency=agency, role=role, manager_id=manager_id)
    session.add(p)
    await session.flush()
    return p


async def discussion(
    session,
    *,
    chair: Person,
    convened_at: datetime,
    proposed_at: datetime | None = None,
    case_ref: str = "CR-1001",
    out_of_hours: bool = False,
    series_id: int | None = None,
    **kw,
) -> Discussion:
    if series_id is None:
        series = Series(case_ref=case_ref, opened_at=convened_at)
        session.add(series)
        await session.flush()
        series_id = series.id
    d = Discussion(
        series_id=series_id,
        case_ref=case_ref,
        category="physical",
        concern=CONCERN,
        referring_agency=kw.pop("referring_agency", "education"),
        out_of_hours=out_of_hours,
        convened_by_id=chair.id,
        chair_id=chair.id,
        convened_at=convened_at,
        proposed_at=proposed_at or convened_at + timedelta(hours=2),
        meeting_due_at=convened_at + timedelta(hours=PROCEDURE.timescales.meeting_within_hours),
        **kw,
    )
    session.add(d)
    await session.flush()
    await one_child(session, d)
    session.add(
        Participant(
            discussion_id=d.id, person_id=chair.id, agency=chair.agency, role=chair.role, is_chair=True
        )
    )
    await session.flush()
    return d


async def one_child(session, d: Discussion) -> Child:
    """The discussion's one child, under its reference and series; the child's id is the discussion's
    (as migration 0008 made them), so a test can write child_id=d.id and previous_id carries over."""
    child = Child(
        id=d.id,
        discussion_id=d.id,
        series_id=d.series_id,
        case_ref=d.case_ref,
        number=d.number,
        previous_id=d.previous_id,
    )
    session.add(child)
    await session.flush()
    return child


async def invite(session, d: Discussion, p: Person, *, invited_at: datetime, status="invited") -> Participant:
    part = Participant(
        discussion_id=d.id, person_id=p.id, agency=p.agency, role=p.role, invited_at=invited_at, status=status
    )
    session.add(part)
    await session.flush()
    return part


async def refresh(session, d: Discussion, now: datetime, procedure: Procedure = PROCEDURE) -> None:
    await refresh_series(session, procedure, d, nation=NATION, tz=TZ, now=now)


async def items(session, d: Discussion) -> dict[tuple[str, str], DueItem]:
    from sqlalchemy import select

    rows = await session.execute(select(DueItem).where(DueItem.discussion_id == d.id))
    return {(i.kind, subject_of(i)): i for i in rows.scalars()}


def subject_of(item: DueItem) -> str:
    """A child's own deadline is keyed by what its subject adds to the child's id ("" for most)."""
    if item.child_id is None or item.kind not in {k.value for k in CHILD_KINDS}:
        return item.subject
    return item.subject.removeprefix(str(item.child_id)).removeprefix(":")


@dataclass
class Team:
    """A chair with a team manager, and people from the other agencies."""

    chair: Person
    manager: Person
    police: Person
    health: Person


async def team(session) -> Team:
    manager = await person(session, "Morgan Manager", role="team_manager")
    chair = await person(session, "Casey Chair", role="deputy_team_manager", manager_id=manager.id)
    police = await person(session, "Pat Police", agency="police", role="police_officer")
    health = await person(session, "Harper Health", agency="health", role="health_professional")
    return Team(chair=chair, manager=manager, police=police, health=health)


class RecordingSurface:
    """A surface that keeps what it is given (in this process): for tests of what gets sent, and when."""

    name = "recording"

    def __init__(
        self, reach=(TargetKind.DIRECT, TargetKind.CHANNEL, TargetKind.THREAD, TargetKind.MAIN_POST)
    ):
        self.reach = set(reach)
        self.cards: list[Card] = []
        self.at: datetime | None = None  # the business time of the tick, set by the test
        self.log: list[tuple[datetime | None, Card]] = []

    async def can_reach(self, card: Card) -> bool:
        return card.target.kind in self.reach

    async def deliver(self, card: Card) -> None:
        self.cards.append(card)
        self.log.append((self.at, card))


def to(card: Card) -> tuple:
    t: Target = card.target
    return (t.kind.value, t.person_id if t.kind == TargetKind.DIRECT else t.place)
