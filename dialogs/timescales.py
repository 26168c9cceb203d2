"""The deadlines that follow from a strategy discussion (PROCEDURE.md, "Deadlines").

The numbers are defaults that a council's procedure configuration may change.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime

from dialogs.clock import add_working_days, after_elapsed_hours, check_nation, localize


@dataclass(frozen=True)
class Timescales:
    """Due dates; None where the event they count from has not happened yet."""

    record_circulation_due: date | None = None
    outcome_notification_due: date | None = None
    # Counts from the discussion at which S47 enquiries were decided; the caller decides when it applies.
    icpc_due: date | None = None
    further_discussion_due: date | None = None
    meeting_due: datetime | None = None

    def as_json_dict(self) -> dict[str, str]:
        """ISO strings (YYYY-MM-DD, or a datetime with its UTC offset), leaving out None fields."""
        return {
            f.name: value.isoformat() for f in fields(self) if (value := getattr(self, f.name)) is not None
        }


def compute_timescales(
    *,
    held_on: date | None,
    convened_at: datetime | None,
    nation: str,
    record_circulation_working_days: int = 1,
    outcome_notification_working_days: int = 1,
    icpc_working_days: int = 15,
    further_discussion_working_days: int = 15,
    meeting_within_hours: float = 24,
    tz: str = "Europe/London",
) -> Timescales:
    """Deadlines from the day the discussion was held and the moment it was decided to hold one.

    `convened_at` may be naive (read as wall-clock time in `tz`) or timezone-aware.
    """
    check_nation(nation)  # fail on a bad nation even when there is nothing to count yet
    dates: dict[str, date] = {}
    if held_on is not None:
        dates = {
            "record_circulation_due": add_working_days(held_on, record_circulation_working_days, nation),
            "outcome_notification_due": add_working_days(held_on, outcome_notification_working_days, nation),
            "icpc_due": add_working_days(held_on, icpc_working_days, nation),
            "further_discussion_due": add_working_days(held_on, further_discussion_working_days, nation),
        }
    meeting_due = None
    if convened_at is not None:
        if convened_at.tzinfo is None:
            convened_at = localize(convened_at, tz)
        meeting_due = after_elapsed_hours(convened_at, meeting_within_hours, tz)
    return Timescales(**dates, meeting_due=meeting_due)
