"""The sections of a procedure file: office hours, timescales, reminders, agencies, roles, quorum,
categories, circumstances, formats, requirements, agenda, outcomes and the S47 checklist, each a
validated, frozen model (dialogs/procedure.py puts them together and loads the file)."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

# A quorum entry that stands for "the agency that referred this case", which differs per case.
REFERRING_AGENCY = "referring_agency"

# Agenda stages the dialog code hooks behaviour on (the decision, the S47 plan, the record), so a
# council may reword or add stages but not drop or reorder these.
AGENDA_STAGE_IDS = ("concern", "information", "immediate_protection", "decision", "plan", "record")

Id = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _parse_hhmm(value: Any) -> Any:
    if isinstance(value, time):
        return value
    if not isinstance(value, str):
        # YAML 1.1 reads an unquoted 17:00 as the base-60 number 1020, hence the hint.
        raise PydanticCustomError("hhmm", 'time must be a quoted "HH:MM" string, e.g. "17:00"')
    try:
        hours, minutes = value.split(":")
        if len(hours) != 2 or len(minutes) != 2:
            raise ValueError
        return time(int(hours), int(minutes))
    except ValueError:
        # An f-string and no context: pydantic leaves such a message as it is.
        raise PydanticCustomError(
            "hhmm", f'time must be "HH:MM" on the 24-hour clock (00:00 to 23:59), got {value!r}'
        ) from None


LocalTime = Annotated[time, BeforeValidator(_parse_hhmm)]


class Section(BaseModel):
    # Unknown keys are typos in a council's file; frozen because the procedure is shared read-only.
    model_config = ConfigDict(extra="forbid", frozen=True)


class OfficeHours(Section):
    days: tuple[Weekday, ...] = Field(min_length=1)
    start: LocalTime
    end: LocalTime
    bank_holidays_are_out_of_hours: bool = True

    @field_validator("days")
    @classmethod
    def _no_repeated_days(cls, days: tuple[Weekday, ...]) -> tuple[Weekday, ...]:
        if len(set(days)) != len(days):
            raise ValueError("a day is listed more than once")
        return days

    @field_validator("end")
    @classmethod
    def _end_after_start(cls, end: time, info: ValidationInfo) -> time:
        start = info.data.get("start")  # absent when start itself was invalid
        if start is not None and end <= start:
            raise ValueError(f"end {end:%H:%M} must be after start {start:%H:%M}")
        return end

    def is_out_of_hours(self, local_dt: datetime, is_bank_holiday: bool) -> bool:
        """Whether wall-clock `local_dt` is outside office hours (start inclusive, end exclusive)."""
        if is_bank_holiday and self.bank_holidays_are_out_of_hours:
            return True
        if _WEEKDAYS[local_dt.weekday()] not in self.days:
            return True
        return not (self.start <= local_dt.time() < self.end)


class Timescales(Section):
    meeting_within_hours: int = Field(ge=1)  # elapsed hours
    # 0 working days is allowed: "by the end of the same day".
    record_circulation_working_days: int = Field(ge=0)
    outcome_notification_working_days: int = Field(ge=0)
    icpc_working_days: int = Field(ge=1)
    # The ICPC clock runs from the discussion of the series that first decided S47 (Working Together),
    # or, where a local procedure says so, from the last one that did.
    icpc_counted_from: Literal["first", "last"] = "first"
    further_discussion_working_days: int = Field(ge=1)
    # A decision taken without the quorum is reviewed by the team manager within this many working days.
    override_review_working_days: int = Field(default=1, ge=0)


class Reminders(Section):
    lead_hours: int = Field(ge=1)
    morning_of_due_day: LocalTime
    escalate_after_hours: int = Field(ge=0)
    escalate_to: Literal["team_manager", "duty_channel"]
    invitation_unanswered_after_minutes: int = Field(ge=1)
    quorum_check_before_minutes: int = Field(ge=0)
    snooze_options: tuple[Annotated[int, Field(ge=1)], ...] = Field(min_length=1)  # minutes

    @field_validator("snooze_options")
    @classmethod
    def _distinct(cls, options: tuple[int, ...]) -> tuple[int, ...]:
        if len(set(options)) != len(options):
            raise ValueError("a snooze option is listed more than once")
        return options


class Agency(Section):
    id: Id
    label: Text


class Role(Section):
    id: Id
    label: Text
    agency: Id
    may_convene: bool = False
    may_chair: bool = False
    out_of_hours_only: bool = False


MIN_ROUNDING = 5  # the finest rounding that keeps a hidden count hidden


class Reports(Section):
    """Who may run the figures in chat, and the small-number rule for what is circulated."""

    roles: tuple[Id, ...] = Field(default=("team_manager", "district_manager"), min_length=1)
    # Counts from 1 to suppress_below - 1 are shown as "fewer than <suppress_below>" (0: none hidden).
    suppress_below: int = Field(default=6, ge=0, le=100)
    # Other counts are rounded to the nearest round_to (0 or 1: exact), and totals and percentages
    # worked out from the rounded counts, so no subtraction gives a hidden count away.
    round_to: int = Field(default=5, ge=0, le=100)

    @field_validator("round_to")
    @classmethod
    def _rounded_when_hiding(cls, round_to: int, info: ValidationInfo) -> int:
        # Finer rounding lets figures that cut across each other (the months' against the kinds')
        # pin a hidden count (tests/test_report_rounding.py); --all-counts is the way to exact figures.
        if info.data.get("suppress_below", 0) > 1 and round_to < MIN_ROUNDING:
            raise ValueError(f"must be at least {MIN_ROUNDING} while suppress_below hides small numbers")
        return round_to


class Quorum(Section):
    """Agency ids (or REFERRING_AGENCY) that must take part for a discussion to be quorate."""

    in_hours: tuple[Id, ...] = Field(min_length=1)
    out_of_hours: tuple[Id, ...] = Field(min_length=1)


class Category(Section):
    id: Id
    label: Text
    meeting_required: bool  # a meeting, not phone calls


CircumstanceId = Literal[
    "possible_injury", "medical_implications", "hospital_involvement", "inpatient", "complex"
]
CIRCUMSTANCE_IDS: tuple[CircumstanceId, ...] = (
    "possible_injury",
    "medical_implications",
    "hospital_involvement",
    "inpatient",
    "complex",
)


class Circumstance(Section):
    """A question about the case whose answer decides who else must take part (see `requirements`)."""

    id: CircumstanceId
    question: Text  # as the forms ask it
    label: Text  # as the record and the format rule name it


FormatId = Literal["meeting", "call", "series_of_calls"]


class Format(Section):
    id: FormatId
    label: Text


class Requirement(Section):
    """A role that must attend (or be consulted) when a circumstance of the case applies."""

    id: Id
    when: CircumstanceId
    role: Id
    how: Literal["attend", "consult"]
    # What the record must hold when the role is absent: their directions and the reason, or the reason.
    if_absent: Literal["directions_and_reason", "reason"] | None = None
    label: Text


class AgendaStage(Section):
    id: Id
    title: Text
    prompt: Text  # posted by the bot in the discussion thread


class Outcome(Section):
    id: Id
    label: Text
    starts_s47: bool
    # Fields of the decision the chair must fill in for this outcome.
    requires: tuple[Literal["reasons", "risks", "plan", "reconvene_date", "alternative"], ...] = ()


class ChecklistItem(Section):
    id: Id
    label: Text
    help: Text | None = None
