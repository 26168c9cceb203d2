"""The figures a council is judged by, for a period: what `python -m bot report` and the chat's
`report` show (built by dialogs.report_query, drawn by bot.reports).

Every count here is the true count. Small numbers are hidden when the figures are shown for
circulation (`Suppress`), never here, so one report can be drawn both ways.
"""

from __future__ import annotations

from collections.abc import Sequence
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

    def shown(self, hide: Suppress) -> tuple[str, ...]:
        """The counts in `Ended`'s order, hidden as parts of one whole (`Suppress.group`)."""
        return hide.group([self.count(e) for e in Ended])

    def met_share(self, hide: Suppress) -> str:
        """The share met on time of those ended, hidden with the count met."""
        ended = self.total - self.count(Ended.OPEN)
        return hide.group_shares([self.count(e) for e in Ended], ended)[list(Ended).index(Ended.MET)]


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

    def states_shown(self, hide: Suppress) -> tuple[str, str, str]:
        """Held, not required and awaited: the parts of the enquiries started."""
        held, not_required, awaited = hide.group([self.held, self.not_required, self.awaited])
        return held, not_required, awaited

    def bands_shown(self, hide: Suppress) -> tuple[str, ...]:
        """The census bands (in `BANDS` order): the parts of the conferences held."""
        return hide.group([self.bands[b] for b in BANDS])

    def band_shares(self, hide: Suppress) -> tuple[str, ...]:
        """Each band's share of the conferences held, hidden with the band."""
        return hide.group_shares([self.bands[b] for b in BANDS], self.held)


@dataclass(frozen=True)
class OutcomeCount:
    outcome: str
    label: str
    children: int  # decisions: one per child per discussion


def outcomes_shown(outcomes: tuple[OutcomeCount, ...], hide: Suppress) -> list[tuple[str, str]]:
    """Each outcome's label and count: the parts of the decisions taken."""
    return list(zip([o.label for o in outcomes], hide.group([o.children for o in outcomes]), strict=True))


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


NOT_SHOWN = "not shown"


@dataclass(frozen=True)
class Suppress:
    """The small-number rule for circulated figures: 1 to below-1 show as "fewer than <below>"."""

    below: int = 6

    def hides(self, n: int) -> bool:
        return 0 < n < self.below

    def count(self, n: int) -> str:
        return f"fewer than {self.below}" if self.hides(n) else str(n)

    def group(self, counts: Sequence[int]) -> tuple[str, ...]:
        """Counts that are parts of a whole shown elsewhere (the census bands of the conferences held,
        a deadline kind's endings, the outcomes): one hidden part alone could be worked out by
        subtracting the others from the whole, so the smallest other part is hidden too ("not shown"),
        as published statistics do."""
        shown = [self.count(n) for n in counts]
        hidden = [i for i, n in enumerate(counts) if self.hides(n)]
        others = [i for i, n in enumerate(counts) if n > 0 and not self.hides(n)]
        if len(hidden) == 1 and others:
            shown[min(others, key=lambda i: counts[i])] = NOT_SHOWN
        return tuple(shown)

    def group_shares(self, counts: Sequence[int], of: int) -> tuple[str, ...]:
        """Each part's share of `of`, "not shown" when the part is hidden (`group`)."""
        return tuple(
            self.share(n, of) if shown.isdigit() else NOT_SHOWN
            for n, shown in zip(counts, self.group(counts), strict=True)
        )

    def share(self, n: int, of: int) -> str:
        """A percentage, hidden when it would give away a hidden count (or there is nothing to share)."""
        if of == 0 or self.hides(n) or self.hides(of) or self.hides(of - n):
            return NOT_SHOWN if of else "none"
        return f"{round(100 * n / of)}%"

    def reasons(self, reasons: tuple[Reason, ...]) -> tuple[tuple[str, str], ...]:
        """The reasons to show: a reason given fewer times than the rule allows may name a case, so
        those are folded into one line of how many such reasons there were."""
        shown = [(r.text, self.count(r.count)) for r in reasons if not self.hides(r.count)]
        folded = sum(r.count for r in reasons if self.hides(r.count))
        if folded:
            shown.append(("other reasons, each given fewer times than the rule allows", self.count(folded)))
        return tuple(shown)


NO_SUPPRESSION = Suppress(below=0)
