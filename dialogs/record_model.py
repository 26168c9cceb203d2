"""The record of strategy discussion as typed data: one per child, built once from the database.

Every rendering (the chat text in record_text.py, the JSON export with its published schema, the
documents) is made from a `Record`, never from the tables directly, so they cannot disagree. Its
sections follow PROCEDURE.md ("What the record holds"). Participants' text is held as typed, and each
rendering escapes it for its own format.

Times are aware datetimes in the council's time zone; calendar dates are plain dates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

SCHEMA_VERSION = "1.0"  # docs/record.schema.json; a change that breaks a reader bumps the major


class TookPart(StrEnum):
    """How a person took part (or did not)."""

    MEETING = "meeting"  # in the meeting, in person or by video
    CHAT = "chat"  # in the discussion's thread
    PHONE = "phone"  # by phone (their words entered by the chair)
    INVITED = "invited"  # invited, no answer
    DECLINED = "declined"
    ABSENT = "absent"


class Outcome(StrEnum):
    """How a deadline stands, as the record reports it."""

    OPEN = "open"
    MET = "met"
    LATE = "late"  # met after the due time: with the chair's reason
    MISSED = "missed"  # it will not happen: with the reason
    CLOSED = "closed"  # the discussion was closed while it was open: with the reason


@dataclass(frozen=True)
class Attendee:
    name: str
    role: str
    agency: str
    chair: bool
    took_part: TookPart
    reason: str | None = None  # why they declined or were absent
    directions: str | None = None  # a police manager's directions when not attending
    role_id: str = ""  # the procedure file's ids, which a council's renaming of labels leaves alone
    agency_id: str = ""


@dataclass(frozen=True)
class Requirement:
    """A part of the quorum, or a role the case called for, and whether it was met."""

    label: str
    met: bool
    note: str = ""


@dataclass(frozen=True)
class Contribution:
    by: str
    agency: str
    at: datetime
    stage: str
    text: str
    entered_by_chair: bool = False  # given by phone, entered by the chair
    agency_id: str = ""


@dataclass(frozen=True)
class Decision:
    outcome: str  # the procedure's outcome id
    label: str
    reasons: str
    risks: str
    starts_s47: bool
    decided_by: str
    decided_at: datetime
    reconvene_on: date | None = None
    instead: str | None = None  # no S47: what happens instead
    services: str | None = None
    refer_again_when: str | None = None
    override_unmet: str | None = None  # decided without: what was missing
    override_reason: str | None = None
    override_reviewed_at: datetime | None = None


@dataclass(frozen=True)
class PlanAnswer:
    item: str  # the checklist id from the procedure file
    label: str
    answer: str | None = None
    not_applicable: str | None = None  # the reason, when it does not apply


@dataclass(frozen=True)
class Plan:
    answers: tuple[PlanAnswer, ...]
    icpc_planned_on: date | None = None
    icpc_late_reason: str | None = None


@dataclass(frozen=True)
class Action:
    description: str
    owner: str
    owner_agency: str
    due_on: date
    status: str  # open | done | cancelled
    done_at: datetime | None = None


@dataclass(frozen=True)
class Deadline:
    kind: str  # dialogs.lifecycle.DueKind
    label: str
    due_at: datetime
    outcome: Outcome
    ended_at: datetime | None = None
    ended_by: str | None = None  # the act that ended it, in words
    reason: str | None = None  # the chair's, when late, missed or closed


@dataclass(frozen=True)
class Conference:
    """The initial child protection conference of the child's series."""

    target: date
    s47_start_on: date | None = None  # the day of the discussion that decided S47 (the census's start)
    held_on: date | None = None
    working_days: int | None = None  # from s47_start_on to the day held
    band: str | None = None  # the census band: 0-10, 11-15, 16-20, 21+
    not_required: str | None = None  # the reason, when it is not required


@dataclass(frozen=True)
class Circulated:
    name: str
    what: str  # record | outcome_notification
    sent_at: datetime
    acknowledged_at: datetime | None = None


@dataclass(frozen=True)
class Version:
    version: int
    signed_off_by: str
    signed_off_at: datetime
    change: str  # what this version changed, in words


@dataclass(frozen=True)
class Record:
    schema: str
    case_ref: str
    discussion_id: int
    discussion_number: int
    discussion: str  # first, second..., final
    format: str
    convened_at: datetime
    proposed_at: datetime
    out_of_hours: bool
    chair: str
    attendance: tuple[Attendee, ...]
    quorum_met: bool
    requirements: tuple[Requirement, ...]
    circumstances: dict[str, bool | None]
    category: str
    concern: str
    contributions: tuple[Contribution, ...]
    decision: Decision | None
    # What is shared with the parents/carers and the child, when and by whom, or why not.
    parents_told: str | None
    plan: Plan | None
    actions: tuple[Action, ...]
    deadlines: tuple[Deadline, ...]
    monitoring: str | None
    siblings: tuple[str, ...] = ()  # the other children's case references (each has their own record)
    started_at: datetime | None = None
    ended_at: datetime | None = None  # the decision recorded: the discussion's business done
    minutes: int | None = None  # how long it took, start to decision
    late_reason: str | None = None  # held later than the procedure's hours, and why
    out_of_hours_reason: str | None = None  # the chair's reason for overriding the worked-out hours
    next_discussion_by: date | None = None
    conference: Conference | None = None
    closed_reason: str | None = None
    version: int | None = None  # the record version this is; None for a draft
    signed_off_by: str | None = None
    signed_off_at: datetime | None = None
    versions: tuple[Version, ...] = ()  # every version signed off, the first first
    circulation: tuple[Circulated, ...] = field(default=())
    category_id: str = ""
