"""The figures a council is judged by, for a period: what `python -m bot report` and the chat's
`report` show (built by dialogs.report_query, drawn by bot.reports).

Every count here is the true count. Small numbers are hidden and counts rounded when the figures are
shown for circulation (`Suppress`), never here, so one report can be drawn both ways.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

# England, year to 31 March 2025 (Children in Need census): initial child protection conferences held
# within 15 working days of the strategy discussion that decided S47 (PROCEDURE.md, national figures).
NATIONAL_ICPC_WITHIN_15 = 0.81
NATIONAL_SOURCE = "England, year to 31 March 2025 (Children in Need census)"

# The census's bands of working days from the S47 start to the conference (the last is open-ended).
BANDS = ("0-10", "11-15", "16-20", "21+")
_BAND_LIMITS = ((10, "0-10"), (15, "11-15"), (20, "16-20"))


def census_band(working_days: int) -> str:
    return next((band for limit, band in _BAND_LIMITS if working_days <= limit), "21+")


class Ended(StrEnum):
    """How a deadline stood at the time of the report (withdrawn ones are not counted)."""

    MET = "met"  # its act happened in time
    LATE = "late"  # its act happened after the due time, with the chair's reason
    MISSED = "missed"  # it will not happen, with the reason
    CLOSED = "closed"  # the discussion was closed while it was open, with the reason
    OPEN = "open"  # not ended yet


WITH_REASON = (Ended.LATE, Ended.MISSED, Ended.CLOSED)
ENDED = (Ended.MET, *WITH_REASON)  # the ways a deadline ends: shares of "ended" are of these


class Group(StrEnum):
    """The people whose taking part the report follows."""

    POLICE = "police"
    HEALTH = "health"
    PAEDIATRICIAN = "paediatrician"
    POLICE_MANAGER = "police_manager"
    REFERRER = "referrer"


GROUP_LABELS: dict[Group, str] = {
    Group.POLICE: "Police",
    Group.HEALTH: "Health",
    Group.PAEDIATRICIAN: "Paediatrician",
    Group.POLICE_MANAGER: "Police safeguarding manager",
    Group.REFERRER: "Referrer",
}


class How(StrEnum):
    """How someone took part (the bot does not know in person from video: both are the meeting)."""

    MEETING = "meeting"  # in the meeting, in person or by video
    THREAD = "thread"  # in the discussion's thread
    PHONE = "phone"  # by phone
    ENTERED_BY_CHAIR = "entered_by_chair"  # their information was entered by the chair


HOW_LABELS: dict[How, str] = {
    How.MEETING: "in the meeting (in person or video)",
    How.THREAD: "in the thread",
    How.PHONE: "by phone",
    How.ENTERED_BY_CHAIR: "entered by the chair",
}


@dataclass(frozen=True)
class Reason:
    """One reason as the chair gave it, and how many times it was given."""

    text: str
    count: int
    discussions: int = 0  # in how many discussions it was given (0: not known, use count)


@dataclass(frozen=True)
class KindFigures:
    """One deadline kind in the period: how each of its deadlines stands, and the reasons given."""

    kind: str
    label: str
    counts: dict[Ended, int]
    reasons: dict[Ended, tuple[Reason, ...]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def count(self, ended: Ended) -> int:
        return self.counts.get(ended, 0)

    @property
    def ended(self) -> list[int]:
        """The counts of the deadlines that ended, in `ENDED`'s order: the parts of "ended"."""
        return [self.count(e) for e in ENDED]

    def shown(self, hide: Suppress) -> tuple[str, ...]:
        """The counts in `Ended`'s order, as circulated."""
        return tuple(hide.count(self.count(e)) for e in Ended)

    def ended_shown(self, hide: Suppress) -> str:
        return hide.total(self.ended)

    def met_share(self, hide: Suppress) -> str:
        """The share met on time of those ended."""
        return hide.share([self.count(Ended.MET)], self.ended)


@dataclass(frozen=True)
class Month:
    """The deadlines due in one calendar month (all kinds): how they stand."""

    month: date  # the first day of the month
    counts: dict[Ended, int]

    def count(self, ended: Ended) -> int:
        return self.counts.get(ended, 0)

    @property
    def ended(self) -> int:
        return sum(n for e, n in self.counts.items() if e != Ended.OPEN)

    def ended_shown(self, hide: Suppress) -> str:
        return hide.total(self.count(e) for e in ENDED)

    def met_share(self, hide: Suppress) -> str:
        return hide.share([self.count(Ended.MET)], [self.count(e) for e in ENDED])


@dataclass(frozen=True)
class Conferences:
    """The S47 enquiries that started in the period (one per child's series), and their conferences."""

    enquiries: int
    bands: dict[str, int]  # held, by census band (every band present, 0 when none)
    not_required: int
    not_required_reasons: tuple[Reason, ...]
    awaited: int  # neither held nor recorded as not required yet

    @property
    def held(self) -> int:
        return sum(self.bands.values())

    @property
    def within_15(self) -> int:
        return self.bands["0-10"] + self.bands["11-15"]

    @property
    def held_by_band(self) -> list[int]:
        """The parts of the conferences held, in `BANDS` order."""
        return [self.bands[b] for b in BANDS]

    def enquiries_shown(self, hide: Suppress) -> str:
        """The enquiries started: each is held, not required or awaited."""
        return hide.total([*self.held_by_band, self.not_required, self.awaited])

    def states_shown(self, hide: Suppress) -> tuple[str, str, str]:
        """Held (the total of the bands), not required and awaited."""
        return hide.total(self.held_by_band), hide.count(self.not_required), hide.count(self.awaited)

    def bands_shown(self, hide: Suppress) -> tuple[str, ...]:
        """The census bands, in `BANDS` order."""
        return tuple(hide.count(n) for n in self.held_by_band)

    def band_shares(self, hide: Suppress) -> tuple[str, ...]:
        """Each band's share of the conferences held."""
        return tuple(hide.share([n], self.held_by_band) for n in self.held_by_band)

    def within_15_shown(self, hide: Suppress) -> str:
        return hide.total(self.held_by_band[:2])

    def within_15_share(self, hide: Suppress) -> str:
        return hide.share(self.held_by_band[:2], self.held_by_band)


@dataclass(frozen=True)
class OutcomeCount:
    outcome: str
    label: str
    children: int  # decisions: one per child per discussion


def outcomes_shown(outcomes: tuple[OutcomeCount, ...], hide: Suppress) -> list[tuple[str, str]]:
    """Each outcome's label and count, as circulated."""
    return [(o.label, hide.count(o.children)) for o in outcomes]


@dataclass(frozen=True)
class Attendance:
    """One group's taking part in the discussions held (each discussion counted once per way)."""

    group: Group
    invited: int  # discussions where someone of the group was invited
    took_part: int  # discussions where someone of the group took part, any way
    by_how: dict[How, int]


@dataclass(frozen=True)
class Report:
    start: date  # the period, local calendar dates, both included
    end: date
    council: str
    made_at: datetime
    discussions: int  # discussions held (started) in the period
    children: int  # children in them (removed children not counted)
    out_of_hours: int  # of those discussions, held out of hours
    out_of_hours_overridden: int  # of all held, the chair overrode the worked-out hours
    timeliness: tuple[KindFigures, ...]
    months: tuple[Month, ...]
    conferences: Conferences
    outcomes: tuple[OutcomeCount, ...]
    attendance: tuple[Attendance, ...]
    overrides: int  # discussions with a decision taken without the quorum
    override_reasons: tuple[Reason, ...]

    @property
    def by_hours(self) -> list[int]:
        """The discussions held, out of hours and in hours: the parts of the discussions held."""
        return [self.out_of_hours, self.discussions - self.out_of_hours]

    def discussions_shown(self, hide: Suppress) -> str:
        return hide.total(self.by_hours)

    def out_of_hours_share(self, hide: Suppress) -> str:
        return hide.share([self.out_of_hours], self.by_hours)

    @property
    def ended(self) -> list[int]:
        """Every kind's ended counts: the parts of all the deadlines that ended."""
        return [n for k in self.timeliness for n in k.ended]

    def ended_shown(self, hide: Suppress) -> str:
        return hide.total(self.ended)

    def met_share(self, hide: Suppress) -> str:
        """The share of all the deadlines ended that were met on time."""
        return hide.share([k.count(Ended.MET) for k in self.timeliness], self.ended)


NOT_SHOWN = "not shown"
FOLDED = "other reasons, each given fewer times than the rule allows"


@dataclass(frozen=True)
class Suppress:
    """The small-number rule for circulated figures.

    - A count from 1 to below-1 shows as "fewer than <below>"; 0 shows as 0.
    - Every other count is rounded to the nearest `round_to` (0 or 1: exact), and never below the
      limit: with 6 and 5, 6 and 7 show as 10, so no shown count says it is 6 or 7 exactly.
    - A total is worked out from its parts as they are shown, each hidden part standing for
      `stand_in` (5 with 6 and 5), never from the true total; so is every percentage. So whatever a
      reader adds or takes away, a hidden count stays anywhere from 1 to below-1: a total minus its
      shown parts gives the stand-ins back, and nothing else. A total that is itself small is hidden.
    """

    below: int = 6
    round_to: int = 5

    @property
    def rounds(self) -> bool:
        return self.round_to > 1

    @property
    def stand_in(self) -> int:
        """What a hidden count stands for in totals and percentages: about half the limit, rounded."""
        return _half_up(-(-self.below // 2), self._base)

    def hides(self, n: int) -> bool:
        return 0 < n < self.below

    def value(self, n: int) -> int:
        """The number a count shows as (or, hidden, stands for)."""
        if n == 0:
            return 0
        if self.hides(n):
            return self.stand_in
        return max(_half_up(n, self._base), self._least)

    def count(self, n: int) -> str:
        return f"fewer than {self.below}" if self.hides(n) else str(self.value(n))

    def total(self, parts: Iterable[int]) -> str:
        """A total, from its parts: hidden when small, else the sum of the parts as shown."""
        parts = tuple(parts)
        whole = sum(parts)
        return self.count(whole) if whole == 0 or self.hides(whole) else str(self._sum(parts))

    def share(self, count: Sequence[int], whole: Sequence[int]) -> str:
        """The percentage `count` (the parts of it) is of `whole` (all its parts), from the parts as
        shown; "not shown" when the count or the whole is hidden, "none" when the whole is 0."""
        n, of = sum(count), sum(whole)
        if of == 0:
            return "none"
        if self.hides(n) or self.hides(of):
            return NOT_SHOWN
        return f"{_half_up(100 * self._sum(count), self._sum(whole)) // self._sum(whole)}%"

    def reasons(self, reasons: tuple[Reason, ...]) -> tuple[tuple[str, str], ...]:
        """The reasons to show: a reason given in fewer discussions than the rule allows may name a
        case, so those are folded into one line of how many such reasons there were. (Discussions,
        not times: a reason typed for three siblings in one meeting is one family.)"""

        def rare(r: Reason) -> bool:
            return (r.discussions or r.count) < self.below

        shown = [(r.text, self.count(r.count)) for r in reasons if not rare(r)]
        folded = sum(r.count for r in reasons if rare(r))
        if folded:
            shown.append((FOLDED, self.count(folded)))
        return tuple(shown)

    @property
    def _base(self) -> int:
        return self.round_to if self.rounds else 1

    @property
    def _least(self) -> int:
        """The smallest number a shown count shows as: the limit, rounded up to the base."""
        return -(-max(self.below, 1) // self._base) * self._base

    def _sum(self, parts: Sequence[int]) -> int:
        """Parts as shown, added up: at least `_least` when they are not all 0."""
        return max(sum(self.value(n) for n in parts), self._least) if any(parts) else 0


def _half_up(n: int, base: int) -> int:
    """n to the nearest multiple of base, a half rounded up."""
    return (2 * n + base) // (2 * base) * base


NO_SUPPRESSION = Suppress(below=0, round_to=0)
